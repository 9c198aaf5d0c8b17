/**
 * Mapping changes across Workers isolates sharing one D1 database: a deprovisioning (table
 * replacement) made elsewhere takes effect at the next mint of an isolate that has the old
 * resolution cached; an isolate built from an older mapping file never brings back removed rows.
 */
import { env } from 'cloudflare:workers';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { createD1Store } from '../../src/store/adapters/d1.js';
import { exchangeParams, IDP, postToken, testWorker } from './helpers.js';

async function mintedSub(worker: ReturnType<typeof testWorker>): Promise<string | number> {
  const res = await postToken(worker, await exchangeParams());
  if (res.status !== 200) return res.status;
  return decodeJwt(((await res.json()) as { access_token: string }).access_token).sub!;
}

describe('mapping tables across isolates', () => {
  it('a row removed elsewhere is refused at the next mint; an isolate built from the older file does not bring it back', async () => {
    const warm = testWorker();
    expect(await mintedSub(warm)).toBe('todo-user-1001');

    // Another deployment (or the CLI) writes version 2 of the table, without alice.
    const store = createD1Store(env.DB);
    const result = await store.mappings.replaceTable('todo-users', [{ namespace: 'todo-users', upstreamIssuer: IDP, upstreamSubject: 'bob', subject: 'todo-user-1002' }], { version: 2, hash: 'v2' });
    expect(result.status).toBe('written');
    expect(await mintedSub(warm)).toBe(400);

    // A cold isolate of the older deployment (its file is version 1, alice included).
    expect(await mintedSub(testWorker())).toBe(400);
    expect(await mintedSub(warm)).toBe(400);
  });
});
