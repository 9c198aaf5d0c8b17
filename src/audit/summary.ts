import { REFUSAL_SUMMARY_MAX_KEYS } from '../constants.js';
import type { Logger } from '../logger.js';
import type { AuditRecord } from '../store/ports.js';
import { boundedAudit } from './record.js';

/** One refusal of a request that established no client and no user. */
export interface UnauthenticatedRefusal {
  at: number;
  requestId: string;
  /** The route's pattern (`/token`, `/authorize`, `/login/oidc/:id/callback`): never a path the caller chose. */
  endpoint: string;
  reason: string;
  source: string;
  grantType?: string;
  detail?: string;
}

interface Tally {
  /** The first refusal of this key in the interval: its request id, time and details stand for the rest. */
  first: UnauthenticatedRefusal;
  count: number;
}

/** Refusals from sources beyond the per-interval key cap are counted under this source. */
export const OTHER_SOURCE = 'other';

/**
 * Counts refusals of unauthenticated requests per (endpoint, reason, source) over fixed intervals and
 * writes one `refusal_summary` record per key when its interval is over. Anyone can send such
 * requests at line rate, so one record each would let them grow the database without bound; a
 * summary keeps what happened (what, from where, how often, the first request id to find the
 * log line) at a bounded cost: at most REFUSAL_SUMMARY_MAX_KEYS records per interval.
 *
 * Counts live in memory until written: on Node the runtime flushes on a timer and at shutdown;
 * on Workers an isolate flushes on its next refusal after the interval or its next scheduled run,
 * and loses at most the open interval if it is evicted first.
 */
export class RefusalSummaries {
  private tallies = new Map<string, Tally>();
  private intervalStart: number | undefined;

  constructor(
    private readonly interval: number,
    private readonly write: (record: AuditRecord) => Promise<void>,
  ) {}

  /**
   * Counts one refusal. `first` says whether it opened its key in this interval (worth a log
   * line); `flushed` is the write of the previous interval if this refusal closed it.
   */
  count(r: UnauthenticatedRefusal): { first: boolean; flushed?: Promise<number> } {
    const start = this.startOf(r.at);
    let flushed: Promise<number> | undefined;
    if (this.intervalStart !== undefined && start > this.intervalStart) flushed = this.flush(r.at);
    this.intervalStart ??= start;
    let source = r.source;
    if (!this.tallies.has(keyOf(r, source)) && this.tallies.size >= REFUSAL_SUMMARY_MAX_KEYS) source = OTHER_SOURCE;
    const key = keyOf(r, source);
    const tally = this.tallies.get(key);
    if (tally) tally.count++;
    else this.tallies.set(key, { first: { ...r, source }, count: 1 });
    return { first: !tally, ...(flushed ? { flushed } : {}) };
  }

  /**
   * Writes the counts of an interval that has ended by `now` (or, with `final`, of the open one:
   * at shutdown). Returns the number of records written.
   */
  async flush(now: number, options: { final?: boolean } = {}): Promise<number> {
    if (this.intervalStart === undefined) return 0;
    if (!options.final && this.startOf(now) <= this.intervalStart) return 0;
    const until = this.intervalStart + this.interval;
    const tallies = [...this.tallies.values()];
    this.tallies = new Map();
    this.intervalStart = undefined;
    await Promise.all(tallies.map((t) => this.write(summaryRecord(t, until))));
    return tallies.length;
  }

  private startOf(at: number): number {
    return Math.floor(at / this.interval) * this.interval;
  }
}

const keyOf = (r: UnauthenticatedRefusal, source: string) => `${r.endpoint}\n${r.reason}\n${source}`;

/**
 * Counts one refusal of an unauthenticated request into the summary; logs it only when it is the
 * first of its key in the interval (so a flood is not one log line per request either). Never
 * throws: a failed summary write is logged, never the reason a response fails.
 */
export async function summariseRefusal(refusals: RefusalSummaries, logger: Logger, r: UnauthenticatedRefusal, log: Record<string, unknown> = {}): Promise<void> {
  const counted = refusals.count(r);
  if (counted.first) {
    logger.warn({ requestId: r.requestId, event: 'refusal', ...log, endpoint: r.endpoint, reason: r.reason, source: r.source }, 'refused (further refusals like it are counted in the audit summary)');
  }
  if (counted.flushed) await counted.flushed.catch((err: unknown) => logger.error({ error: err instanceof Error ? err.message : 'unknown' }, 'refusal summary write failed'));
}

function summaryRecord({ first, count }: Tally, until: number): AuditRecord {
  return boundedAudit({
    at: first.at,
    until,
    event: 'refusal_summary',
    requestId: first.requestId,
    endpoint: first.endpoint,
    reason: first.reason,
    source: first.source,
    count,
    ...(first.grantType ? { grantType: first.grantType } : {}),
    ...(first.detail ? { detail: first.detail } : {}),
  });
}
