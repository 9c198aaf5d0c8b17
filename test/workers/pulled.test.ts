/**
 * Resource-pulled profile inside workerd on D1: a reference issued, redeemed once by the
 * destination's back-channel client; concurrent redemptions have exactly one winner; a reference
 * presented by another destination is refused and burned.
 */
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { ID_JAG_REFERENCE_TOKEN_TYPE } from '../../src/exchange/pulled.js';
import { errorOf, exchangeParams, ID_JAG_TYPE, postToken, rows, SECRET, testWorker, TODO, TOKEN_EXCHANGE } from './helpers.js';

const worker = testWorker();

async function reference(): Promise<string> {
  const res = await postToken(worker, await exchangeParams({ requested_token_type: ID_JAG_REFERENCE_TOKEN_TYPE }));
  const body = (await res.json()) as { access_token: string; issued_token_type: string; expires_in: number };
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body.issued_token_type).toBe(ID_JAG_REFERENCE_TOKEN_TYPE);
  expect(body.expires_in).toBeLessThanOrEqual(60);
  return body.access_token;
}

const redeem = (ref: string, clientId = 'todo-as') =>
  postToken(worker, {
    grant_type: TOKEN_EXCHANGE,
    requested_token_type: ID_JAG_TYPE,
    subject_token: ref,
    subject_token_type: ID_JAG_REFERENCE_TOKEN_TYPE,
    client_id: clientId,
    client_secret: SECRET,
  });

describe('resource-pulled profile inside workerd (D1)', () => {
  it('issues a reference stored by hash and redeems it once for the ID-JAG', async () => {
    const ref = await reference();
    const stored = await rows<{ record: string }>('SELECT record FROM id_jag_references');
    expect(JSON.stringify(stored)).not.toContain(ref);
    const res = await redeem(ref);
    const body = (await res.json()) as { access_token: string };
    expect(res.status).toBe(200);
    expect(decodeJwt(body.access_token)).toMatchObject({ aud: TODO, sub: 'todo-user-1001', client_id: 'wiki-at-todo' });
    expect(await errorOf(await redeem(ref))).toBe('invalid_grant');
  });

  it('of concurrent redemptions of one reference exactly one wins', async () => {
    const ref = await reference();
    const results = await Promise.all(Array.from({ length: 4 }, () => redeem(ref)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400]);
    const mints = await rows<{ record: string }>("SELECT record FROM audit_log WHERE event = 'mint' AND record LIKE ?", `%${(await rows<{ record: string }>('SELECT record FROM id_jag_references ORDER BY rowid DESC LIMIT 1'))[0]!.record.match(/"id":"([^"]+)"/)![1]}%`);
    expect(mints).toHaveLength(1);
  });

  it('presented by another destination’s back-channel client: refused and burned', async () => {
    const ref = await reference();
    const wrong = await redeem(ref, 'crm-as');
    expect(wrong.status).toBe(400);
    expect(await errorOf(wrong)).toBe('invalid_grant');
    const right = await redeem(ref);
    expect(right.status).toBe(400);
    const [audit] = await rows<{ record: string }>("SELECT record FROM audit_log WHERE event = 'refusal' ORDER BY seq DESC LIMIT 1");
    expect(JSON.parse(audit!.record)).toMatchObject({ reason: 'reference_replayed', clientId: 'todo-as' });
  });
});
