/**
 * The Worker's configuration, validated at build time (scripts/build-worker-config.ts writes
 * worker-config.generated.json; wrangler.toml's `[build]` runs it), so that the first request
 * after a cold start does not parse YAML, run the schema's checks or ask Cedar to validate the
 * policies against their schema: all pure functions of the bundled files, answered once at build.
 *
 * Never trusted blindly: the generated module names a digest of the very files it was built from
 * (paths and texts), and the Worker uses it only when the files it bundles have that digest and
 * no ISSUER variable changes the issuer. Otherwise it validates from the files, as before (a stale
 * generated module is slower, never wrong). test/runtime/worker-config-generated.test.ts fails
 * when the committed module is stale.
 */
import type { ConfigFiles } from '../config/load.js';
import type { BrokerConfig } from '../config/schema.js';
import type { CedarModule } from '../policy/types.js';

/** Cedar's validation-only calls, answered at build: pure functions of their arguments. */
export const PRECHECKED_CEDAR_CALLS = ['checkParsePolicySet', 'checkParseSchema', 'validate'] as const;
type PrecheckedCall = (typeof PRECHECKED_CEDAR_CALLS)[number];

export interface PrebuiltWorkerConfig {
  /** configFilesDigest() of the files it was built from. */
  digest: string;
  config: BrokerConfig;
  /** Per call: [JSON of its arguments, Cedar's answer], as recorded at build. */
  cedar: Partial<Record<PrecheckedCall, [string, unknown][]>>;
}

/** SHA-256 of the configuration files, paths and texts, in their order (hex). */
export async function configFilesDigest(files: ConfigFiles): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(files)));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The prebuilt configuration when it was built from exactly these files and this issuer. */
export async function usablePrebuilt(prebuilt: PrebuiltWorkerConfig | undefined, files: ConfigFiles, issuer: string | undefined): Promise<PrebuiltWorkerConfig | undefined> {
  if (!prebuilt || prebuilt.digest !== (await configFilesDigest(files))) return undefined;
  if (issuer && issuer !== prebuilt.config.settings.issuer) return undefined;
  return prebuilt;
}

/**
 * Cedar with the build's answers: a validation call whose arguments are exactly those recorded
 * gets the recorded answer; any other call goes to Cedar. Evaluation and preparsing always run.
 */
export function withPrecheckedCedar(cedar: CedarModule, answers: PrebuiltWorkerConfig['cedar']): CedarModule {
  const wrapped: Record<string, unknown> = { ...cedar };
  for (const name of PRECHECKED_CEDAR_CALLS) {
    const recorded = new Map(answers[name] ?? []);
    if (recorded.size === 0) continue;
    const real = (cedar[name] as (...args: unknown[]) => unknown).bind(cedar);
    wrapped[name] = (...args: unknown[]) => {
      const key = JSON.stringify(args);
      return recorded.has(key) ? structuredClone(recorded.get(key)) : real(...args);
    };
  }
  return wrapped as unknown as CedarModule;
}

/** Cedar that records the answers to the validation calls (the build's side of the above). */
export function recordingCedar(cedar: CedarModule): { cedar: CedarModule; answers: PrebuiltWorkerConfig['cedar'] } {
  const answers: PrebuiltWorkerConfig['cedar'] = {};
  const wrapped: Record<string, unknown> = { ...cedar };
  for (const name of PRECHECKED_CEDAR_CALLS) {
    const real = (cedar[name] as (...args: unknown[]) => unknown).bind(cedar);
    wrapped[name] = (...args: unknown[]) => {
      const answer = real(...args);
      (answers[name] ??= []).push([JSON.stringify(args), answer]);
      return answer;
    };
  }
  return { cedar: wrapped as unknown as CedarModule, answers };
}

/**
 * JSON for the prebuilt configuration. The configuration holds Maps (namespaces, …): each is
 * written as {"$map": [[key, value], …]}; anything JSON would change (Sets, Dates, class
 * instances, functions) is refused at build rather than silently altered.
 */
export function encodePrebuilt(prebuilt: PrebuiltWorkerConfig): string {
  const encode = (value: unknown, path: string): unknown => {
    if (value === null || value === undefined || ['string', 'number', 'boolean'].includes(typeof value)) return value;
    if (Array.isArray(value)) return value.map((v, i) => encode(v, `${path}[${i}]`));
    if (value instanceof Map) return { $map: [...value].map(([k, v]) => [encode(k, `${path} key`), encode(v, `${path}.get(${String(k)})`)]) };
    if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      if ('$map' in value) throw new Error(`${path} has a key named $map`);
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v, `${path}.${k}`)]));
    }
    throw new Error(`${path} is not JSON data or a Map (${Object.prototype.toString.call(value)})`);
  };
  return JSON.stringify(encode(prebuilt, 'prebuilt'));
}

/** The inverse of encodePrebuilt, for the parsed generated module. */
export function decodePrebuilt(json: unknown): PrebuiltWorkerConfig {
  const decode = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(decode);
    if (value !== null && typeof value === 'object') {
      const map = (value as { $map?: unknown }).$map;
      if (Array.isArray(map) && Object.keys(value).length === 1) return new Map(map.map(([k, v]: [unknown, unknown]) => [decode(k), decode(v)]));
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
    }
    return value;
  };
  return decode(json) as PrebuiltWorkerConfig;
}
