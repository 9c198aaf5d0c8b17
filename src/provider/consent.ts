import { boundedCache } from '../clocked-cache.js';
import { CONSENT_MEMORY_MAX } from './limits.js';

/**
 * Consents given, per (principal, client): the scopes granted. Kept in memory only, per broker
 * instance, bounded: after a restart, on another node or Workers isolate, or once evicted, the
 * person is simply asked again. Nothing about consent is persisted.
 */
export class ConsentMemory {
  private readonly granted = boundedCache<string, ReadonlySet<string>>({ max: CONSENT_MEMORY_MAX });

  private static key(principalId: string, clientId: string): string {
    return `${principalId}\n${clientId}`;
  }

  get(principalId: string, clientId: string): ReadonlySet<string> | undefined {
    return this.granted.get(ConsentMemory.key(principalId, clientId));
  }

  remember(principalId: string, clientId: string, scopes: readonly string[]) {
    const key = ConsentMemory.key(principalId, clientId);
    this.granted.set(key, new Set([...(this.granted.get(key) ?? []), ...scopes]));
  }
}
