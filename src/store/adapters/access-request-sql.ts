import type { AccessRequestDecision, AccessRequestRecord, AccessRequestSubmission, AccessRequestTransition, DeferralPoll, DeferralRecord } from '../ports.js';
import { StoreConflict } from '../ports.js';

/**
 * Statements shared by the SQLite and D1 access request and deferral stores
 * (migrations/0005_access_requests.sql), and the pure helpers that turn what they changed and read
 * into the ports' results. `record` is the whole record as JSON; the columns are what is queried.
 */
export const TASK_COLUMNS = 'id, denial_id, requester, idempotency_key, principal_id, client_id, destination, status, created_at, expires_at, approved_until, record';

export const ACCESS_REQUEST_SQL = {
  insert: `INSERT INTO access_requests (${TASK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  /** (denial_id, requester, idempotency_key): the tasks a submission clashes with. A NULL key matches nothing. */
  clashes: 'SELECT denial_id, record FROM access_requests WHERE denial_id = ? OR (requester = ? AND idempotency_key = ?)',
  get: 'SELECT record FROM access_requests WHERE id = ?',
  forDenial: 'SELECT record FROM access_requests WHERE denial_id = ?',
  /** (now, limit) */
  pending: "SELECT record FROM access_requests WHERE status = 'pending' AND expires_at > ? ORDER BY created_at, rowid LIMIT ?",
  /** (principal, client, destination, now) */
  approvals: `SELECT record FROM access_requests
    WHERE principal_id = ? AND client_id = ? AND destination = ? AND status = 'approved' AND approved_until > ?
    ORDER BY created_at, rowid`,
  /**
   * (status, approved_until, decision JSON, id, now): one conditional statement, so of racing
   * transitions exactly one changes the row. The decision is merged into the stored record
   * (json_patch, RFC 7396: a pending record has none of the decision's fields yet).
   */
  transition: `UPDATE access_requests SET status = ?, approved_until = ?, record = json_patch(record, ?)
    WHERE id = ? AND status = 'pending' AND expires_at > ?`,
} as const;

/** The values of ACCESS_REQUEST_SQL.insert (TASK_COLUMNS order). */
export function taskRow(t: AccessRequestRecord): unknown[] {
  return [
    t.id,
    t.denialId,
    t.requester,
    t.idempotencyKey ?? null,
    t.principalId,
    t.clientId,
    t.destination,
    t.status,
    t.createdAt,
    t.expiresAt,
    t.approval?.approvedUntil ?? null,
    JSON.stringify(t),
  ];
}

/** The values of ACCESS_REQUEST_SQL.transition. */
export function transitionArgs(id: string, decision: AccessRequestDecision, now: number): unknown[] {
  return [decision.status, decision.approval?.approvedUntil ?? null, JSON.stringify(decision), id, now];
}

export interface RecordRow {
  record: string;
}

export const rowToTask = (row: RecordRow | undefined | null): AccessRequestRecord | undefined =>
  row ? (JSON.parse(row.record) as AccessRequestRecord) : undefined;

/** A submission that wrote nothing: which task it clashed with, the denial's first. */
export function clashOf(task: AccessRequestRecord, rows: Array<RecordRow & { denial_id: string }>): AccessRequestSubmission {
  const byDenial = rows.find((r) => r.denial_id === task.denialId);
  if (byDenial) return { status: 'exists', clash: 'denial', task: rowToTask(byDenial)! };
  const byKey = rows[0];
  if (byKey) return { status: 'exists', clash: 'idempotency_key', task: rowToTask(byKey)! };
  // Neither clash: the (random, ≥ 128-bit) task id itself was taken. Never expected; fail closed.
  throw new StoreConflict('an access request with this id already exists');
}

/** What a transition attempt amounts to, from whether it changed the row and the row as read after it. */
export function transitionOf(changed: boolean, row: RecordRow | undefined | null): AccessRequestTransition {
  const task = rowToTask(row);
  if (!task) return { status: 'unknown' };
  return { status: changed ? 'done' : 'conflict', task };
}

export const DEFERRAL_SQL = {
  /** (hash, record, expires_at, interval, last_poll_at = issuedAt) */
  insert: 'INSERT INTO deferrals (code_hash, record, expires_at, interval, last_poll_at) VALUES (?, ?, ?, ?, ?)',
  /**
   * A poll is two conditional UPDATEs, run in this order in one transaction: `slowDown` (step,
   * hash, now, now) raises the interval of a live deferral polled too soon; `ready` (now, hash,
   * now, now) records a poll that came late enough. They exclude each other without reading
   * `changes()`: once `slowDown` matched, the raised interval keeps `ready` from matching.
   * Of racing polls the first `ready` moves `last_poll_at` to now, so the others are too soon.
   */
  slowDown: `UPDATE deferrals SET interval = interval + ?
    WHERE code_hash = ? AND finished_at IS NULL AND expires_at > ? AND ? - last_poll_at < interval`,
  ready: `UPDATE deferrals SET last_poll_at = ?
    WHERE code_hash = ? AND finished_at IS NULL AND expires_at > ? AND ? - last_poll_at >= interval`,
  get: 'SELECT record, expires_at, interval, finished_at FROM deferrals WHERE code_hash = ?',
  /** (now, hash): single use, for exactly one caller. */
  finish: 'UPDATE deferrals SET finished_at = ? WHERE code_hash = ? AND finished_at IS NULL',
} as const;

export interface DeferralRow {
  record: string;
  expires_at: number;
  interval: number;
  finished_at: number | null;
}

/** What a poll amounts to, from which UPDATE changed the row and the row as read after them. */
export function pollOf(slowed: boolean, ready: boolean, row: DeferralRow | undefined | null, now: number): DeferralPoll {
  if (!row) return { status: 'unknown' };
  const deferral = JSON.parse(row.record) as DeferralRecord;
  if (ready) return { status: 'ready', deferral, interval: row.interval };
  if (slowed) return { status: 'slow_down', deferral, interval: row.interval };
  if (row.finished_at !== null) return { status: 'finished', deferral };
  if (row.expires_at <= now) return { status: 'expired', deferral };
  // A live deferral is matched by exactly one of the two UPDATEs; anything else is refused.
  throw new Error('deferral poll changed nothing on a live deferral');
}
