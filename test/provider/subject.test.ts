import { describe, expect, it } from 'vitest';
import { IDP, TODO, TODO_API, exchangeParams, postToken, testNamespaces } from '../helpers/broker.js';
import { FakeSamlUpstream, aliceIdentity } from './fake-upstream.js';
import { ANALYTICS, ANALYTICS_API, SPA_CALLBACK, webApp, authorizePath, codeFor, decodeJwt, lastAudit, location, loginThroughUpstream, pkcePair, redeem, startProvider, webAppRequest, type ProviderBroker } from './harness.js';

/** The sub of an ID-JAG minted for alice (logged in at the upstream IdP) at `audience`. */
async function idJagSub(b: ProviderBroker, audience: string, resource: string, scope: string): Promise<string> {
  const res = await postToken(b, await exchangeParams(b, { audience, resource, scope }));
  expect(res.status).toBe(200);
  return decodeJwt(((await res.json()) as { access_token: string }).access_token).sub!;
}

describe('one subject model: an app\'s ID token sub is the sub of the ID-JAGs for its namespace', () => {
  it('pairwise namespace: the ID token first (it commits the binding), then the ID-JAG names the same subject', async () => {
    const b = await startProvider(); // wiki-agent's subject_namespace is analytics-users, as is the analytics destination's
    expect(b.oidc.identity(0).issuer).toBe(IDP);
    const params = await codeFor(b.browser(), webAppRequest());
    const tokens = (await (await redeem(b, params.get('code')!)).json()) as Record<string, string>;
    const idSub = decodeJwt(tokens.id_token!).sub!;
    const binding = b.db.prepare("SELECT subject, source FROM subject_bindings WHERE namespace = 'analytics-users'").get() as { subject: string; source: string };
    expect(binding).toEqual({ subject: idSub, source: 'pairwise' });
    expect(lastAudit(b)).toMatchObject({ event: 'token', mapping: 'analytics-users/pairwise@v1' });

    expect(await idJagSub(b, ANALYTICS, ANALYTICS_API, 'stats.read')).toBe(idSub);
  });

  it('pairwise namespace: the ID-JAG first, then the ID token names the same subject', async () => {
    const b = await startProvider();
    const jagSub = await idJagSub(b, ANALYTICS, ANALYTICS_API, 'stats.read');
    const params = await codeFor(b.browser(), webAppRequest());
    const tokens = (await (await redeem(b, params.get('code')!)).json()) as Record<string, string>;
    expect(decodeJwt(tokens.id_token!).sub).toBe(jagSub);
    expect(b.db.prepare('SELECT count(*) FROM subject_bindings').pluck().get()).toBe(1);
  });

  it('table namespace: the public app in todo-users gets the row the Todo ID-JAG carries', async () => {
    const b = await startProvider();
    const { verifier, challenge } = await pkcePair();
    const params = await codeFor(b.browser(), authorizePath({ client_id: 'spa', redirect_uri: SPA_CALLBACK, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' }));
    const res = await b.token({ grant_type: 'authorization_code', code: params.get('code')!, redirect_uri: SPA_CALLBACK, client_id: 'spa', code_verifier: verifier });
    const idSub = decodeJwt(((await res.json()) as Record<string, string>).id_token!).sub;
    expect(idSub).toBe('todo-user-1001');
    expect(await idJagSub(b, TODO, TODO_API, 'todos.read')).toBe(idSub);
  });

  it('claim namespace: a person without the claim cannot be named, so no code is issued', async () => {
    const b = await startProvider();
    b.oidc.identity = (now) => {
      const id = aliceIdentity('corp', now);
      const { email: _dropped, ...claims } = id.claims;
      return { ...id, claims };
    };
    const browser = b.browser();
    const res = await loginThroughUpstream(browser, authorizePath({ client_id: 'basic-agent', redirect_uri: 'https://consent.test/cb', response_type: 'code', scope: 'openid', state: 'q' }));
    expect(location(res).searchParams.get('error')).toBe('access_denied');
    expect(lastAudit(b)).toMatchObject({ reason: 'mapping_claim_missing', clientId: 'basic-agent' });
  });

  it('saml_subject namespace (a migrated SAML app): the sub is the persistent NameID the app used to receive, also on refresh', async () => {
    const b = await startProvider({
      namespaces: [...testNamespaces, { namespace: 'legacy-wiki', strategy: 'saml_subject', subject_source: { kind: 'persistent_nameid' } }],
      clients: [{ ...webApp, subject_namespace: 'legacy-wiki' }],
      connections: (clock) => [new FakeSamlUpstream('legacy', clock)],
    });
    const browser = b.browser();
    const start = await browser.get(webAppRequest());
    const res = await browser.post('/login/saml/legacy/acs', { SAMLResponse: 'ok', RelayState: location(start).searchParams.get('RelayState')! });
    const tokens = (await (await redeem(b, location(res).searchParams.get('code')!)).json()) as Record<string, string>;
    expect(decodeJwt(tokens.id_token!).sub).toBe('alice-persistent-id');
    expect(lastAudit(b)).toMatchObject({ event: 'token', mapping: 'legacy-wiki/saml_subject@v1' });
    const refreshed = await b.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: webApp.client_id, client_secret: 'wiki-secret-value' });
    expect(decodeJwt(((await refreshed.json()) as Record<string, string>).id_token!).sub).toBe('alice-persistent-id');
  });
});
