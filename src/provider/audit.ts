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

/** A refused login carries the refusal's reason (OidcLoginError, SamlLoginError); anything else is the broker failing. */
function isLoginRefusal(err: unknown): boolean {
  return err instanceof Error && 'reason' in err && 'connectionId' in err;
}

/**
 * A login that failed because of the broker itself (its store, its configuration, a bug), not
 * because the upstream or the browser was refused: the operator must see it on the console, not
 * only in the audit log. A missing table (migrations not applied) says so.
 */
export function reportLoginFault(s: BrokerServices, fields: { requestId?: string; connection: string; step: 'start' | 'finish' }, err: unknown): void {
  if (isLoginRefusal(err)) return;
  const error = err instanceof Error ? `${err.name}: ${err.message}` : 'non-error thrown';
  const hint = /no such table/i.test(error) ? { hint: 'the database lacks a table the broker needs: apply the migrations (docs/operations.md, docs/workers.md)' } : {};
  s.logger.error({ ...fields, error, ...hint }, `login ${fields.step} failed: server error`);
}

/** A login or logout: the audit record is part of the event, so a failed write fails the request. */
export async function auditEvent(s: BrokerServices, record: AuditRecord): Promise<void> {
  s.logger.info({ requestId: record.requestId, event: record.event, clientId: record.clientId }, `provider ${record.event}`);
  await s.store.audit.append(boundedAudit(record));
}
