import { beforeAll, describe, expect, it } from 'vitest';
import { BROWSER, defaultSpec, expectRefusal, harness, idpResponse, NOW, startLogin, testKeys } from './helpers.js';

/**
 * The AuthnStatement's SessionNotOnOrAfter (SAML core §2.7.2) bounds the session the SP starts for
 * this login (issue 6 §2). The connection reads it with the strict instant parser, refuses it when
 * malformed or already reached, and carries it on the identity so the broker session ends then.
 */

beforeAll(async () => {
  await testKeys();
});

const withSessionEnd = (value: string) => ({ transform: (x: string) => x.replace('<saml:AuthnStatement ', `<saml:AuthnStatement SessionNotOnOrAfter="${value}" `) });
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

async function consume(value: string) {
  const h = await harness();
  const started = await startLogin(h);
  const b64 = await idpResponse(defaultSpec({ inResponseTo: started.requestId }), withSessionEnd(value));
  return { h, started, result: h.conn.consumeResponse({ SAMLResponse: b64, RelayState: started.transactionId }, { browserBinding: BROWSER }) };
}

describe('SessionNotOnOrAfter', () => {
  it('is carried on the identity, in seconds, when it lies ahead', async () => {
    const { result } = await consume(iso(NOW + 600));
    const { identity } = await result;
    expect(identity.sessionNotOnOrAfter).toBe(NOW + 600);
  });

  it('fractions of a second round down (the session never outlives the IdP’s bound)', async () => {
    const { result } = await consume(new Date((NOW + 600) * 1000 + 750).toISOString());
    expect((await result).identity.sessionNotOnOrAfter).toBe(NOW + 600);
  });

  it('is absent when the IdP sets no bound', async () => {
    const h = await harness();
    const started = await startLogin(h);
    const b64 = await idpResponse(defaultSpec({ inResponseTo: started.requestId }));
    const { identity } = await h.conn.consumeResponse({ SAMLResponse: b64, RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(identity.sessionNotOnOrAfter).toBeUndefined();
  });

  it.each([
    ['an offset instead of Z', '2099-01-01T00:00:00+01:00'],
    ['no time zone', '2099-01-01T00:00:00'],
    ['an impossible date', '2099-02-30T00:00:00Z'],
    ['not a date', 'tomorrow'],
    ['empty', ''],
  ])('malformed (%s) is refused, the reason naming the attribute', async (_, value) => {
    const { h, started, result } = await consume(value);
    const error = await expectRefusal(result, 'session_expired');
    expect('detail' in error.reason && error.reason.detail).toBe('SessionNotOnOrAfter is not a UTC xs:dateTime');
    expect(error.transactionConsumed).toBe(false);
    expect(h.transactions.has(started.transactionId)).toBe(true);
  });

  it('in the past beyond the clock skew is refused', async () => {
    const { result } = await consume(iso(NOW - 3600));
    const error = await expectRefusal(result, 'session_expired');
    expect('detail' in error.reason && error.reason.detail).toContain('has passed');
  });

  it('already reached, even within the clock skew, is refused: the session would end on arrival', async () => {
    const { result } = await consume(iso(NOW - 5));
    await expectRefusal(result, 'session_expired');
    const exact = await consume(iso(NOW));
    await expectRefusal(exact.result, 'session_expired');
  });
});
