/**
 * `xaa-broker rotate-keys` rotates every signing key the configuration needs in one step: the
 * ring's ES256 keys and the RS256 key of clients registered for RS256 ID tokens.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { NEXT_KEY_MIN_AGE, RETIRED_KEY_GRACE } from '../../src/constants.js';
import { KeyRing } from '../../src/minting/keys.js';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';
import type { StoredKey } from '../../src/store/ports.js';
import { TEST_POLICIES, testNamespaces, testSettings } from '../helpers/broker.js';

const root = join(import.meta.dirname, '../..');
const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;

/** A configuration directory whose `wiki-agent` asks for RS256 ID tokens. */
async function configDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'xaa-rotate-'));
  const settings = await testSettings((s) => {
    s.clients!.find((c) => c.client_id === 'wiki-agent')!.oidc = {
      redirect_uris: ['https://app.test/cb'],
      grant_types: ['authorization_code'],
      subject_namespace: testNamespaces[0]!.namespace,
      scopes: ['openid'],
      id_token_signed_response_alg: 'RS256',
    };
  });
  writeFileSync(join(dir, 'broker.config.yaml'), stringify(settings));
  mkdirSync(join(dir, 'mappings'));
  for (const ns of testNamespaces) writeFileSync(join(dir, 'mappings', `${ns.namespace}.yaml`), stringify(ns));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'test.cedar'), TEST_POLICIES);
  return dir;
}

async function keysIn(database: string): Promise<StoredKey[]> {
  const db = openSqlite(database);
  try {
    return await createSqliteStore(db).keys.list();
  } finally {
    db.close();
  }
}

describe('xaa-broker rotate-keys', () => {
  it('rotates the RS256 key with the ES256 keys: both next keys become active, both active keys retired for the same grace', async () => {
    const dir = await configDir();
    const database = join(dir, 'broker.sqlite');
    // The keys a broker made on its first start, long enough ago for their next keys to be activated.
    const startedAt = Math.floor(Date.now() / 1000) - NEXT_KEY_MIN_AGE - 60;
    const db = openSqlite(database);
    const store = createSqliteStore(db);
    await new KeyRing(store.keys, 'ES256', undefined, { algs: ['RS256'], secrets: store.secrets }).init(startedAt);
    db.close();
    const before = await keysIn(database);
    const of = (keys: StoredKey[], alg: string, state: string) => keys.find((k) => k.alg === alg && k.state === state);
    expect(of(before, 'RS256', 'active')).toBeDefined();

    const r = spawnSync(process.execPath, ['--import', tsx, join(root, 'src/cli.ts'), '--config', join(dir, 'broker.config.yaml'), 'rotate-keys'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, XAA_CONFIG: '', XAA_DATABASE: database },
    });
    expect(r.status, r.stderr).toBe(0);

    const after = await keysIn(database);
    for (const alg of ['ES256', 'RS256']) {
      expect(of(after, alg, 'active')!.kid, alg).toBe(of(before, alg, 'next')!.kid);
      expect(after.find((k) => k.kid === of(before, alg, 'active')!.kid)!.state, alg).toBe('retired');
      expect(of(after, alg, 'next')!.kid, alg).not.toBe(of(before, alg, 'next')!.kid);
      expect(r.stdout).toContain(of(after, alg, 'active')!.kid);
    }
    const retired = after.filter((k) => k.state === 'retired');
    expect(retired).toHaveLength(2);
    expect(retired[0]!.expiresAt).toBe(retired[1]!.expiresAt);
    expect(retired[0]!.expiresAt! - RETIRED_KEY_GRACE).toBeGreaterThan(startedAt);
  }, 30_000);
});
