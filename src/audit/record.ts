import { AUDIT_MAX_FIELD_CHARS } from '../constants.js';
import type { AuditRecord } from '../store/ports.js';

/** Caps every string in an audit record so hostile input cannot bloat the log. */
export function boundedAudit(record: AuditRecord): AuditRecord {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    if (typeof value === 'string') out[key] = value.length > AUDIT_MAX_FIELD_CHARS ? `${value.slice(0, AUDIT_MAX_FIELD_CHARS)}…` : value;
    else if (Array.isArray(value)) out[key] = value.slice(0, 50).map((v) => (typeof v === 'string' ? v.slice(0, 200) : v));
    else out[key] = value;
  }
  return out as unknown as AuditRecord;
}
