import { boundedAudit } from '../audit/record.js';
import { summariseRefusal } from '../audit/summary.js';
import type { BrokerServices } from '../grants/services.js';
import type { AuditRecord } from '../store/ports.js';

/** Which route a request hit (its pattern) and where it came from (http/source.ts). */
export interface RequestOrigin {
  endpoint: string;
  source: string;
}

/**
 * A refusal's audit record: written if at all possible, never the reason a response fails.
 *
 * `anonymous`: the request's origin when it established no user (no browser session, no completed
 * upstream login, no valid token) and no client. Anyone can send such requests at line rate, so
 * the refusal is counted into the per-(endpoint, reason, source) summary instead of written as a
 * record of its own (docs/operations.md).
 */
export async function auditRefusal(s: BrokerServices, record: Omit<AuditRecord, 'event'>, anonymous?: RequestOrigin): Promise<void> {
  if (anonymous) {
    await summariseRefusal(s.refusals, s.logger, {
      at: record.at,
      requestId: record.requestId,
      endpoint: anonymous.endpoint,
      reason: record.reason ?? 'unknown',
      source: anonymous.source,
      ...(record.detail ? { detail: record.detail } : {}),
    });
    return;
  }
  s.logger.warn({ requestId: record.requestId, event: 'refusal', reason: record.reason, clientId: record.clientId }, 'provider refused');
  try {
    await s.store.audit.append(boundedAudit({ ...record, event: 'refusal' }));
  } catch (err) {
    s.logger.error({ requestId: record.requestId, error: err instanceof Error ? err.message : 'unknown' }, 'audit write failed');
  }
}

/** A login or logout: the audit record is part of the event, so a failed write fails the request. */
export async function auditEvent(s: BrokerServices, record: AuditRecord): Promise<void> {
  s.logger.info({ requestId: record.requestId, event: record.event, clientId: record.clientId }, `provider ${record.event}`);
  await s.store.audit.append(boundedAudit(record));
}
