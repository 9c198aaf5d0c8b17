import type { ClientConfig, ClientDestinationConfig, DestinationConfig } from '../config/schema.js';
import type { RefusalReason } from '../oauth/reasons.js';

export type TargetCheck =
  | { ok: true; destination: DestinationConfig; resources: string[] }
  | { ok: false; reason: RefusalReason; detail?: string };

/** Index from every accepted `audience` value (issuer or alias) to its destination. */
export function indexDestinations(destinations: readonly DestinationConfig[]): ReadonlyMap<string, DestinationConfig> {
  const index = new Map<string, DestinationConfig>();
  for (const d of destinations) for (const value of [d.issuer, ...d.aliases]) index.set(value, d);
  return index;
}

/**
 * RFC 8693 §2.1 target rules for an ID-JAG, pure: exactly one audience, resolved (alias or
 * issuer) to one destination; every `resource` registered by that same destination.
 */
export function resolveTarget(
  audiences: readonly string[],
  resources: readonly string[],
  index: ReadonlyMap<string, DestinationConfig>,
): TargetCheck {
  if (audiences.length !== 1) return { ok: false, reason: 'audience_ambiguous', detail: `${audiences.length} audiences` };
  const destination = index.get(audiences[0]!);
  if (!destination) return { ok: false, reason: 'audience_unknown' };
  for (const resource of resources) {
    if (destination.resources.includes(resource)) continue;
    const owner = [...new Set(index.values())].find((d) => d.resources.includes(resource));
    return owner
      ? { ok: false, reason: 'resource_audience_mismatch', detail: `resource belongs to ${owner.id}, audience to ${destination.id}` }
      : { ok: false, reason: 'resource_unknown' };
  }
  return { ok: true, destination, resources: [...new Set(resources)] };
}

/** The client's entry for a destination (its client_id there, what it may hold), if it is enabled there. */
export function grantAt(client: Pick<ClientConfig, 'destinations'>, destinationId: string): ClientDestinationConfig | undefined {
  return Object.hasOwn(client.destinations, destinationId) ? client.destinations[destinationId] : undefined;
}
