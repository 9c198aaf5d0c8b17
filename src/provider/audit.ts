import { boundedAudit } from '../audit/record.js';
import type { BrokerServices } from '../grants/services.js';
import type { AuditRecord } from '../store/ports.js';

/** A refusal's audit record: written if at all possible, never the reason a response fails. */
export async function auditRefusal(s: BrokerServices, record: Omit<AuditRecord, 'event'>): Promise<void> {
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
