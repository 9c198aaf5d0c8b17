import type { IdJagReferenceRecord, ReferenceConsumption } from '../ports.js';

/** Statements shared by the SQLite and D1 reference stores (migrations/0004_id_jag_references.sql). */
export const REFERENCE_SQL = {
  insert: 'INSERT INTO id_jag_references (reference_hash, record, expires_at) VALUES (?, ?, ?)',
  /** (now, hash, now): one conditional statement, so of two racing redemptions exactly one changes the row. */
  consume: 'UPDATE id_jag_references SET consumed_at = ? WHERE reference_hash = ? AND consumed_at IS NULL AND expires_at > ?',
  get: 'SELECT record, expires_at, consumed_at FROM id_jag_references WHERE reference_hash = ?',
} as const;

export interface ReferenceRow {
  record: string;
  expires_at: number;
  consumed_at: number | null;
}

/** What a consume attempt amounts to, from whether it changed the row and the row as read after it. */
export function consumption(changed: boolean, row: ReferenceRow | undefined, now: number): ReferenceConsumption {
  if (!row) return { status: 'unknown' };
  const reference = JSON.parse(row.record) as IdJagReferenceRecord;
  if (changed) return { status: 'consumed', reference };
  if (row.consumed_at !== null) return { status: 'replayed', reference };
  return row.expires_at <= now ? { status: 'expired', reference } : { status: 'unknown' };
}
