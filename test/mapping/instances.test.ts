/**
 * Several broker instances on one database (Node processes sharing the SQLite file; each opens its
 * own connection). A remap, an import or a deprovisioning made through one instance (or the CLI)
 * takes effect for the very next mint on every other one, whatever their caches hold; and a table
 * written from an older deployment's file never brings back rows a newer one removed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { NamespaceConfig } from '../../src/config/schema.js';
import { principalIdOf } from '../../src/mapping/principal.js';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';
import { CRM, CRM_API, exchangeParams, IDP, postToken, startTestBroker, testNamespaces, type TestBroker } from '../helpers/broker.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function tempFile(): string {
  dir = mkdtempSync(join(tmpdir(), 'xaa-instances-'));
  return join(dir, 'broker.sqlite');
}

const table = (version: number, rows: Array<[string, string]>): NamespaceConfig[] => [
  { namespace: 'todo-users', strategy: 'table', version, rows: rows.map(([sub, subject]) => ({ upstream_issuer: IDP, upstream_subject: sub, subject })) },
  ...testNamespaces.filter((n) => n.namespace !== 'todo-users'),
];

async function mint(b: TestBroker, overrides: Record<string, string> = {}) {
  const res = await postToken(b, await exchangeParams(b, overrides));
  const body = (await res.json()) as { access_token?: string; error?: string };
  return { status: res.status, sub: body.access_token ? decodeJwt(body.access_token).sub : undefined, error: body.error };
}

describe('mapping changes reach every instance at the next mint', () => {
  it('a table row removed through another instance (deprovisioning, import) is refused at once, not after the cache TTL', async () => {
    const file = tempFile();
    const a = await startTestBroker({ db: openSqlite(file), namespaces: table(1, [['alice', 'todo-user-1001'], ['bob', 'todo-user-1002']]) });
    expect(await mint(a)).toMatchObject({ status: 200, sub: 'todo-user-1001' });

    // Another process replaces the table: alice is taken out.
    const other = createSqliteStore(openSqlite(file));
    await other.mappings.replaceTable('todo-users', [{ namespace: 'todo-users', upstreamIssuer: IDP, upstreamSubject: 'bob', subject: 'todo-user-1002' }], { version: 2, hash: 'v2' });
    expect(await mint(a)).toMatchObject({ status: 400, error: 'invalid_grant' });
  });

  it('an operator remap made from another process is what the next mint names', async () => {
    const file = tempFile();
    const a = await startTestBroker({ db: openSqlite(file) });
    const crm = { audience: CRM, resource: CRM_API, scope: 'contacts.read' };
    expect(await mint(a, crm)).toMatchObject({ status: 200, sub: 'alice@example.com' });

    const other = createSqliteStore(openSqlite(file));
    await other.mappings.remap({ namespace: 'crm-users', principalId: await principalIdOf(IDP, 'alice'), subject: 'alice.renamed@example.com', source: 'operator' }, a.clock.now);
    // The upstream still says alice@example.com: the binding now differs, so the mint is refused
    // until the upstream agrees; the old subject is never minted again.
    expect(await mint(a, crm)).toMatchObject({ status: 400, error: 'invalid_grant' });
  });
});

describe('table versions are monotonic', () => {
  it('an older deployment starting after a newer one does not bring back removed rows', async () => {
    const file = tempFile();
    const newer = await startTestBroker({ db: openSqlite(file), namespaces: table(2, [['bob', 'todo-user-1002']]) });
    expect(await mint(newer)).toMatchObject({ status: 400, error: 'invalid_grant' });

    // The older file still lists alice.
    const older = await startTestBroker({ db: openSqlite(file), namespaces: table(1, [['alice', 'todo-user-1001'], ['bob', 'todo-user-1002']]) });
    expect(await mint(older)).toMatchObject({ status: 400, error: 'invalid_grant' });
    expect(await mint(newer)).toMatchObject({ status: 400, error: 'invalid_grant' });
  });

  it('a table file that lists rows without a version is a load error naming the file and the key', async () => {
    const [todo] = table(1, [['alice', 'todo-user-1001']]);
    const { version: _, ...unversioned } = todo as Extract<NamespaceConfig, { strategy: 'table' }>;
    await expect(startTestBroker({ namespaces: [unversioned as NamespaceConfig, ...testNamespaces.slice(1)] })).rejects.toThrow(/mappings\/todo-users\.yaml.*version/s);
  });

  it('the same version with other rows refuses to start (the file changed without a version bump)', async () => {
    const file = tempFile();
    await startTestBroker({ db: openSqlite(file), namespaces: table(3, [['bob', 'todo-user-1002']]) });
    await expect(startTestBroker({ db: openSqlite(file), namespaces: table(3, [['alice', 'todo-user-1001']]) })).rejects.toThrow(/version 3/);
  });
});
