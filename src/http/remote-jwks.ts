import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Clock } from '../clock.js';
import { JWKS_CACHE_TTL_MS, JWKS_FETCH_TIMEOUT_MS, JWKS_MAX_BYTES, JWKS_REFETCH_COOLDOWN_MS } from '../constants.js';
import { readBounded } from './bounded.js';

export interface RemoteJwksOptions {
  /** The clock of the broker or destination; freshness and cooldown are measured by it. */
  clock: Clock;
  fetch?: typeof fetch | undefined;
  /** Default JWKS_FETCH_TIMEOUT_MS. */
  timeoutMs?: number;
  /** A key set older than this is refetched before use. Default JWKS_CACHE_TTL_MS. */
  maxAgeMs?: number;
  /** An unknown `kid` refetches at most once per this period (a flood of made-up kids costs one fetch). Default JWKS_REFETCH_COOLDOWN_MS. */
  cooldownMs?: number;
  /** Default JWKS_MAX_BYTES. */
  maxBytes?: number;
}

type Settings = Required<Omit<RemoteJwksOptions, 'fetch'>> & Pick<RemoteJwksOptions, 'fetch'>;

/**
 * A JWKS fetched from `url` and kept for `maxAgeMs`, with jose's semantics (createRemoteJWKSet:
 * refetch when stale, or on an unknown key once the cooldown has passed; the same error classes)
 * but timed by an injected clock: jose reads Date.now(), which a test cannot move, and a timer-free
 * rule is what holds on workerd. Key selection stays jose's (createLocalJWKSet).
 *
 * No fetch in flight is shared between callers: on Workers a promise is bound to the request that
 * started it, and another request awaiting it can hang.
 */
export function clockedRemoteJwks(url: URL, given: RemoteJwksOptions): JWTVerifyGetKey {
  const options: Settings = {
    timeoutMs: JWKS_FETCH_TIMEOUT_MS,
    maxAgeMs: JWKS_CACHE_TTL_MS,
    cooldownMs: JWKS_REFETCH_COOLDOWN_MS,
    maxBytes: JWKS_MAX_BYTES,
    ...given,
  };
  const href = url.href;
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  const age = () => (options.clock() - fetchedAt) * 1000;

  const reload = async () => {
    const startedAt = options.clock();
    const jwks = await fetchJwks(href, options);
    const next = createLocalJWKSet(jwks);
    // A slower, older fetch never replaces a newer key set.
    if (startedAt >= fetchedAt) {
      local = next;
      fetchedAt = startedAt;
    }
  };

  return async (header, token) => {
    if (!local || age() >= options.maxAgeMs) await reload();
    try {
      return await local!(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || age() < options.cooldownMs) throw err;
      await reload();
      return local!(header, token);
    }
  };
}

async function fetchJwks(href: string, options: Settings): Promise<JSONWebKeySet> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const response = await (options.fetch ?? fetch)(href, {
    method: 'GET',
    signal,
    redirect: 'manual',
    headers: { accept: 'application/json, application/jwk-set+json' },
  }).catch((err: unknown) => {
    throw err instanceof Error && err.name === 'TimeoutError' ? new errors.JWKSTimeout(undefined, { cause: err }) : err;
  });
  if (response.status !== 200 || !response.body) throw new errors.JOSEError('Expected 200 OK from the JSON Web Key Set HTTP response');
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readBounded(response.body, options.maxBytes);
  } catch (cause) {
    throw signal.aborted ? new errors.JWKSTimeout(undefined, { cause }) : cause;
  }
  if (!bytes) throw new errors.JOSEError(`JSON Web Key Set larger than ${options.maxBytes} bytes`);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as JSONWebKeySet;
  } catch (cause) {
    throw new errors.JOSEError('Failed to parse the JSON Web Key Set HTTP response as JSON', { cause });
  }
}
