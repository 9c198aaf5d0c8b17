/**
 * The bench's upstream IdP: one ES256 key, and the ID tokens it issues to the bench's agent.
 *
 * Pools of tokens are minted in a child process (`node --import tsx bench/id-tokens.ts`) before
 * the rounds, so their cost is never measured and the bench's own heap stays small while it
 * loads. The JWS is built with node:crypto directly: this is test data for the bench, not broker
 * code (it is the same construction as the naive node:crypto target).
 */
import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const IDP = 'https://idp.bench';
export const AGENT = 'bench-agent';
/** ID tokens outlive the run, so none expires during it. */
const LIFETIME = 3600;

export interface BenchIdp {
  jwks: { keys: Array<Record<string, unknown>> };
  /** Where the private key (PKCS#8 PEM) is written for the minting child. */
  keyFile: string;
  kid: string;
}

export function createBenchIdp(dir: string): BenchIdp {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = 'bench-idp-1';
  const keyFile = join(dir, 'idp-key.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return { jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] }, keyFile, kid };
}

/**
 * Which person token `i` of a pool is for: with `newEvery` = 10, tokens 0, 10, 20… are for a
 * person never seen before (`<prefix>-<i>`), the others for one of `users` existing persons.
 */
export interface PoolSpec {
  count: number;
  users: number;
  newEvery: number;
  prefix: string;
  /** First existing user index, so consecutive pools spread over all users. */
  offset: number;
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');

function mint(spec: PoolSpec, keyFile: string, kid: string): string[] {
  const key = createPrivateKey(readFileSync(keyFile));
  const header = b64(JSON.stringify({ alg: 'ES256', kid, typ: 'JWT' }));
  const now = Math.floor(Date.now() / 1000);
  const tokens: string[] = [];
  for (let i = 0; i < spec.count; i++) {
    const sub = spec.newEvery > 0 && i % spec.newEvery === 0 ? `${spec.prefix}-${i}` : `user-${(spec.offset + i) % spec.users}`;
    // A jti of its own makes every token a new string, even for the same person in the same second.
    const claims = { iss: IDP, sub, aud: AGENT, iat: now, exp: now + LIFETIME, auth_time: now, amr: ['pwd', 'mfa'], jti: randomUUID() };
    const input = `${header}.${b64(JSON.stringify(claims))}`;
    tokens.push(`${input}.${b64(sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }))}`);
  }
  return tokens;
}

/** Mints a pool in a child process; resolves with the tokens in order. */
export async function mintPool(idp: BenchIdp, spec: PoolSpec, dir: string): Promise<string[]> {
  const out = join(dir, `pool-${spec.prefix}-${Date.now()}.txt`);
  await promisify(execFile)(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'id-tokens.ts'), idp.keyFile, idp.kid, JSON.stringify(spec), out], { maxBuffer: 1 << 20 });
  return readFileSync(out, 'utf8').split('\n').filter((t) => t.length > 0);
}

if (process.argv[1] === import.meta.filename) {
  const [keyFile, kid, spec, out] = process.argv.slice(2) as [string, string, string, string];
  writeFileSync(out, mint(JSON.parse(spec) as PoolSpec, keyFile, kid).join('\n'));
}
