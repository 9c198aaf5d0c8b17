import type { BrokerSettings } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { MetadataStatus } from '../upstream/saml/metadata-status.js';
import type { BrokerStore, PruneReport } from '../store/ports.js';
import type { RefusalSummaries } from './summary.js';

const DAY = 86_400;

/**
 * What keeps the database from growing without bound, the same on both runtimes: Node calls it
 * from timers (runtime/node.ts), Workers from the cron trigger (runtime/worker.ts `scheduled`).
 */
export interface Maintenance {
  /** Writes refusal summaries whose interval has ended; `final` writes the open one too (shutdown). */
  flush(options?: { final?: boolean }): Promise<number>;
  /**
   * Refreshes upstream metadata that is due, writes ended summaries, then prunes expired state
   * and audit records past retention. `metadata`: each SAML connection's metadata status.
   */
  run(): Promise<{ summaries: number; deleted: PruneReport; complete: boolean; metadata: MetadataStatus[] }>;
}

export function createMaintenance(deps: {
  store: BrokerStore;
  summaries: RefusalSummaries;
  retention: BrokerSettings['retention'];
  clock: () => number;
  logger: Logger;
  /** Refreshes upstream metadata that is due (upstream/registry.ts refreshUpstreamMetadata); never throws. */
  refreshMetadata?: (now: number) => Promise<MetadataStatus[]>;
}): Maintenance {
  const { store, summaries, retention, clock, logger } = deps;
  const flush = async (options: { final?: boolean } = {}) => {
    try {
      return await summaries.flush(clock(), options);
    } catch (err) {
      logger.error({ error: err instanceof Error ? err.message : 'unknown' }, 'refusal summary write failed');
      return 0;
    }
  };
  return {
    flush,
    async run() {
      const metadata = (await deps.refreshMetadata?.(clock())) ?? [];
      // Every run repeats what is wrong until it is fixed: the refresh logged each failure once.
      for (const m of metadata) {
        if (m.state === 'current') continue;
        logger.warn(
          { event: 'saml_metadata', connection: m.connection, state: m.state, ...(m.validUntil !== undefined ? { validUntil: m.validUntil } : {}), ...(m.lastFailure ? { reason: m.lastFailure.reason } : {}) },
          m.state === 'expired' ? 'SAML IdP metadata expired: logins at this connection are refused' : 'SAML IdP metadata refresh failing: the last good copy is in use',
        );
      }
      const written = await flush();
      const now = clock();
      const result = await store.retention.prune({ now, auditBefore: now - retention.audit_max_age_days * DAY, auditMaxRows: retention.audit_max_rows });
      const total = Object.values(result.deleted).reduce((a, b) => a + b, 0);
      if (total > 0 || !result.complete) logger.info({ event: 'prune', deleted: result.deleted, complete: result.complete }, 'pruned expired state');
      return { summaries: written, ...result, metadata };
    },
  };
}
