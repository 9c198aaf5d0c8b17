/**
 * Issue 6 §2: a token request carrying a DPoP proof asks for a sender-constrained token. The broker
 * cannot issue one yet, so it refuses clearly rather than silently answer with a bearer token:
 * at the token exchange and at the OpenID Provider's grants alike.
 */
import { describe, expect, it } from 'vitest';
import { exchangeParams, postToken, startTestBroker, storeState } from '../helpers/broker.js';
import { codeFor, redeem, startProvider, webAppRequest } from '../provider/harness.js';

/** Shape of a DPoP proof (RFC 9449 §4.2); never verified, since the header alone is refused. */
const PROOF = 'eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2In0.eyJodG0iOiJQT1NUIn0.c2ln';

describe('DPoP at the token endpoint', () => {
  it('refuses a token exchange carrying a DPoP header with invalid_request (audited dpop_unsupported), not a bearer ID-JAG', async () => {
    const b = await startTestBroker();
    const before = storeState(b);
    const res = await postToken(b, await exchangeParams(b), { DPoP: PROOF });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(400);
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).toMatch(/DPoP/);
    expect(body).not.toHaveProperty('access_token');
    // Refused before the client authenticated: counted in a refusal summary, written on flush.
    await b.maintenance.flush({ final: true });
    const [record] = await b.services.store.audit.recent(1);
    expect(record).toMatchObject({ event: 'refusal_summary', reason: 'dpop_unsupported', count: 1 });
    expect(storeState(b).tables).toEqual(before.tables);
  });

  it('refuses the authorization_code grant with a DPoP header, and the code is still redeemable without it', async () => {
    const b = await startProvider();
    const params = await codeFor(b.browser(), webAppRequest());
    const code = params.get('code')!;
    const refused = await b.token({ grant_type: 'authorization_code', code, redirect_uri: 'https://app.test/cb', client_id: 'wiki-agent', client_secret: 'wiki-secret-value' }, { dpop: PROOF });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_request' });
    await b.maintenance.flush({ final: true });
    const [record] = await b.services.store.audit.recent(1);
    expect(record).toMatchObject({ reason: 'dpop_unsupported' });
    expect((await redeem(b, code)).status).toBe(200);
  });

  it('does not advertise DPoP in its metadata', async () => {
    const b = await startTestBroker();
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const body = (await (await b.request(path)).json()) as Record<string, unknown>;
      expect(body).not.toHaveProperty('dpop_signing_alg_values_supported');
    }
  });
});
