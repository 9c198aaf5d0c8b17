/**
 * The whole app on PostgreSQL: a token exchange through `app.request()` mints an ID-JAG, its
 * audit record is in the PostgreSQL database, and a refusal is audited there too.
 */
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { BrokerStore } from '../../src/store/ports.js';
import { BROKER, exchangeParams, postToken, startTestBroker, TODO } from '../helpers/broker.js';
import { freshPgStore } from '../helpers/pg.js';

describe('token exchange on PostgreSQL', () => {
  let store: BrokerStore;
  let pool: pg.Pool;
  beforeAll(async () => {
    ({ store, pool } = await freshPgStore());
  });

  it('mints an ID-JAG and writes its mint audit record (and the signing keys) to PostgreSQL', async () => {
    const b = await startTestBroker({ store });
    const res = await postToken(b, await exchangeParams(b));
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    const { payload } = await jwtVerify(access_token, createLocalJWKSet(b.services.keys.jwks()), { issuer: BROKER, audience: TODO, typ: 'oauth-id-jag+jwt' });
    expect(payload).toMatchObject({ sub: 'todo-user-1001', client_id: 'wiki-at-todo', scope: 'todos.read' });

    const rows = (await pool.query<{ event: string; request_id: string; record: string }>('SELECT event, request_id, record FROM audit_log WHERE request_id = $1', [res.headers.get('x-request-id')])).rows;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.event).toBe('mint');
    expect(JSON.parse(rows[0]!.record)).toMatchObject({ event: 'mint', clientId: 'wiki-agent', destination: 'todo', jti: decodeJwt(access_token).jti, grantedScopes: ['todos.read'] });
    // The key that signed it is the one in the database, where a second instance would find it.
    const keys = (await pool.query<{ kid: string }>("SELECT kid FROM signing_keys WHERE state = 'active'")).rows;
    expect(keys.map((k) => k.kid)).toEqual([decodeProtectedHeader(access_token).kid]);
  });

  it('a refused exchange is audited in PostgreSQL and mints nothing', async () => {
    const b = await startTestBroker({ store });
    const res = await postToken(b, await exchangeParams(b, { audience: 'https://unknown.test' }));
    expect(res.status).toBe(400);
    const rows = (await pool.query<{ record: string }>('SELECT record FROM audit_log WHERE request_id = $1', [res.headers.get('x-request-id')])).rows;
    expect(rows.map((r) => JSON.parse(r.record))).toEqual([expect.objectContaining({ event: 'refusal', reason: expect.any(String) })]);
  });
});
