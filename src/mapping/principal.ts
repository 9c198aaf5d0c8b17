import { base64url } from 'jose';
import { boundedCache } from '../clocked-cache.js';
import { MAPPING_CACHE_MAX, MAPPING_CACHE_MAX_BYTES } from '../constants.js';

/** Derivations are pure, so they are remembered: the same person asks again and again. */
const derived = boundedCache<string, string>({ max: MAPPING_CACHE_MAX, maxSize: MAPPING_CACHE_MAX_BYTES, sizeCalculation: (id, key) => (key.length + id.length) * 2 });

/**
 * The broker's id for a person: derived from (upstream issuer, upstream subject), so it is stable,
 * needs no lookup, and reveals neither value.
 */
export async function principalIdOf(upstreamIssuer: string, upstreamSubject: string): Promise<string> {
  const input = `${upstreamIssuer}\n${upstreamSubject}`;
  const known = derived.get(input);
  if (known) return known;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(input));
  const id = `p_${base64url.encode(new Uint8Array(digest))}`;
  derived.set(input, id);
  return id;
}
