import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { BrokerStore } from '../../../src/store/ports.js';
import type { SamlUpstream } from '../../../src/upstream/registry.js';
import { createSamlConnection, type SamlConnection } from '../../../src/upstream/saml/index.js';
import { inThreadVerifier } from '../../../src/upstream/saml/verifier.js';
import { APP_CALLBACK, APP_LOGOUT, SECRET, decodeJwt, lastAudit, lastRefusal, location, redeem, startProvider, webApp, webAppRequest, type Browser, type ProviderBroker } from '../../provider/harness.js';
import { IDP_ENTITY, NOW, SP_ENTITY, defaultSpec, idpResponse, testKeys } from './helpers.js';
import {
  BOTH_BINDINGS,
  IDP_SLO,
  IDP_SLO_POST,
  IDP_SLO_RESPONSES,
  NAME_ID,
  POST,
  REQUESTER,
  SESSION_INDEX,
  SUCCESS,
  attrOf,
  logoutRequestSpec,
  logoutRequestXml,
  logoutResponse,
  logoutResponseXml,
  postLogoutRequest,
  readRedirect,
  redirectLogoutRequest,
  sloIdpMetadata,
} from './slo-helpers.js';

/**
 * SAML Single Logout through the broker (app.request): a real SAML connection (samlify test IdP,
 * signed messages), the broker as OpenID Provider in front. RP-initiated: /logout ends the broker
 * session and sends the browser to the IdP; the IdP's LogoutResponse finishes the logout.
 * IdP-initiated: a LogoutRequest ends the broker session, its refresh tokens and its `sid`.
 */

const BROKER = 'https://broker.test';
const ACS = `${BROKER}/login/saml/corp/acs`;
const SLO = `${BROKER}/login/saml/corp/slo`;
const SLO_PATH = '/login/saml/corp/slo';

/** A SAML upstream built once the broker's store exists (startProvider wants the list first). */
class SamlTestUpstream implements SamlUpstream {
  readonly kind = 'saml' as const;
  readonly id = 'corp';
  readonly displayName = 'Corp SAML';
  readonly emailDomains = ['example.com'];
  readonly isDefault = true;
  conn!: SamlConnection;
  logout?: SamlUpstream['logout'];

  async init(store: BrokerStore, clock: () => number, slo = BOTH_BINDINGS): Promise<void> {
    const keys = await testKeys();
    this.conn = await createSamlConnection(
      {
        id: 'corp',
        sp_entity_id: SP_ENTITY,
        acs_url: ACS,
        idp_metadata_xml: sloIdpMetadata(keys.idp.cert, slo),
        sp_signing: { private_key: keys.spSigning.key, certificate: keys.spSigning.cert },
      },
      { replay: store.replay, transactions: store.logins, clock, verifier: inThreadVerifier },
    );
    if (this.conn.logout) this.logout = this.conn.logout;
  }
  startLogin(input: Parameters<SamlUpstream['startLogin']>[0]) {
    return this.conn.startLogin(input);
  }
  consumeResponse(body: { SAMLResponse?: string; RelayState?: string }, ctx: { browserBinding?: string }) {
    return this.conn.consumeResponse(body, ctx);
  }
  spMetadata() {
    return this.conn.spMetadata();
  }
}

interface Tokens {
  id_token: string;
  refresh_token: string;
}

/** The web app, allowed to exchange the ID tokens its logins get for ID-JAGs (to show a dead `sid`). */
const delegatingWebApp = { ...webApp, delegated_scopes: ['stats.read'] };

async function broker(slo = BOTH_BINDINGS): Promise<{ b: ProviderBroker; saml: SamlTestUpstream }> {
  const saml = new SamlTestUpstream();
  const b = await startProvider({ clients: [delegatingWebApp], connections: () => [saml] });
  b.clock.now = NOW;
  await saml.init(b.services.store, () => b.clock.now, slo);
  return { b, saml };
}

/** /authorize → the IdP (HTTP-Redirect AuthnRequest) → a signed assertion at the ACS → code → tokens. */
async function signIn(b: ProviderBroker, browser: Browser, sessionIndex = SESSION_INDEX, nameId = NAME_ID): Promise<Tokens> {
  const toIdp = location(await browser.get(webAppRequest({ scope: 'openid email offline_access' })));
  const authnRequest = inflateRawSync(Buffer.from(toIdp.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
  const SAMLResponse = await idpResponse(defaultSpec({ inResponseTo: attrOf(authnRequest, 'ID')!, destination: ACS, recipient: ACS, sessionIndex, nameId }));
  const acs = await browser.post('/login/saml/corp/acs', { SAMLResponse, RelayState: toIdp.searchParams.get('RelayState')! });
  const code = location(acs).searchParams.get('code')!;
  const res = await redeem(b, code);
  expect(res.status).toBe(200);
  return (await res.json()) as Tokens;
}

const exchangeIdToken = (b: ProviderBroker, idToken: string) =>
  b.token({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
    subject_token: idToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    audience: 'https://analytics.test',
    scope: 'stats.read',
    client_id: webApp.client_id,
    client_secret: SECRET,
  });
const refresh = (b: ProviderBroker, token: string) => b.token({ grant_type: 'refresh_token', refresh_token: token, client_id: webApp.client_id, client_secret: SECRET });
const activeSessions = (b: ProviderBroker) => b.db.prepare('SELECT count(*) FROM sessions WHERE revoked_at IS NULL').pluck().get() as number;

describe('SAML SLO through the broker: the login remembers what logout needs', () => {
  it('a SAML login records NameID (format, qualifiers) and SessionIndex for its session', async () => {
    const { b } = await broker();
    const tokens = await signIn(b, b.browser());
    const sid = decodeJwt(tokens.id_token).sid as string;
    expect(await b.services.store.samlSessions.ofSession(sid)).toMatchObject({
      connectionId: 'corp',
      nameId: { value: NAME_ID, format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', nameQualifier: IDP_ENTITY, spNameQualifier: SP_ENTITY },
      sessionIndex: SESSION_INDEX,
    });
  });
});

describe('SAML SLO through the broker, RP-initiated', () => {
  it('/logout ends the session, sends a signed LogoutRequest to the IdP, and the LogoutResponse finishes at post_logout_redirect_uri', async () => {
    const { b, saml } = await broker();
    const keys = await testKeys();
    const browser = b.browser();
    const tokens = await signIn(b, browser);

    const out = await browser.get(`/logout?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: APP_LOGOUT, state: 'bye-1' })}`);
    const toIdp = location(out);
    expect(toIdp.origin + toIdp.pathname).toBe(IDP_SLO);
    // The broker session has already ended (and its refresh token), whatever the IdP answers.
    expect(activeSessions(b)).toBe(0);
    expect((await refresh(b, tokens.refresh_token)).status).toBe(400);
    const sent = readRedirect(toIdp.href, keys.spSigning.cert);
    expect(sent.verified).toBe(true);
    expect(sent.xml).toContain(`>${NAME_ID}</saml:NameID>`);
    expect(sent.xml).toContain(`<samlp:SessionIndex>${SESSION_INDEX}</samlp:SessionIndex>`);

    const answer = logoutResponseXml({ id: '_idp-lr-1', issuer: IDP_ENTITY, issueInstant: NOW, destination: SLO, inResponseTo: attrOf(sent.xml, 'ID')!, status: SUCCESS });
    const { query } = logoutResponse(saml.spMetadata(), answer, 'redirect', { key: keys.idp, relayState: sent.relayState! });
    const back = await browser.get(`${SLO_PATH}?${query}`);
    const done = location(back);
    expect(done.origin + done.pathname).toBe(APP_LOGOUT);
    expect(done.searchParams.get('state')).toBe('bye-1');
  });

  it('a POST-only IdP gets the LogoutRequest in an auto-submitting form; its POSTed answer finishes the logout', async () => {
    const { b, saml } = await broker([{ Binding: POST, Location: IDP_SLO_POST }]);
    const keys = await testKeys();
    const browser = b.browser();
    const tokens = await signIn(b, browser);
    const page = await browser.get(`/logout?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: APP_LOGOUT })}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`action="${IDP_SLO_POST}"`);
    const xml = Buffer.from(/name="SAMLRequest" value="([^"]+)"/.exec(html)![1]!, 'base64').toString('utf8');
    const relayState = /name="RelayState" value="([^"]+)"/.exec(html)![1]!;
    const answer = logoutResponseXml({ id: '_idp-lr-2', issuer: IDP_ENTITY, issueInstant: NOW, destination: SLO, inResponseTo: attrOf(xml, 'ID')!, status: SUCCESS });
    const { form } = logoutResponse(saml.spMetadata(), answer, 'post', { key: keys.idp, relayState });
    const back = await browser.post(SLO_PATH, form);
    expect(location(back).href).toBe(APP_LOGOUT);
  });

  it('a LogoutResponse that fails a check does not finish the logout: 400, audited with the precise reason', async () => {
    const { b, saml } = await broker();
    const keys = await testKeys();
    const browser = b.browser();
    const tokens = await signIn(b, browser);
    const sent = readRedirect(location(await browser.get(`/logout?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: APP_LOGOUT })}`)).href);
    const answer = logoutResponseXml({ id: '_idp-lr-3', issuer: IDP_ENTITY, issueInstant: NOW, destination: SLO, inResponseTo: attrOf(sent.xml, 'ID')!, status: REQUESTER });
    const { query } = logoutResponse(saml.spMetadata(), answer, 'redirect', { key: keys.idp, relayState: sent.relayState! });
    const back = await browser.get(`${SLO_PATH}?${query}`);
    expect(back.status).toBe(400);
    expect(await lastRefusal(b)).toMatchObject({ reason: 'saml_logout_response_refused', detail: expect.stringContaining('reason=status_not_success') });
  });

  it('an IdP without SingleLogoutService: /logout finishes at once, as before', async () => {
    const { b } = await broker([]);
    const browser = b.browser();
    const tokens = await signIn(b, browser);
    const out = await browser.get(`/logout?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: APP_LOGOUT })}`);
    expect(location(out).href).toBe(APP_LOGOUT);
    expect(activeSessions(b)).toBe(0);
  });
});

describe('SAML SLO through the broker, IdP-initiated', () => {
  it('a signed LogoutRequest (Redirect) ends the session: refresh tokens dead, sid dead, answered with Success', async () => {
    const { b, saml } = await broker();
    const keys = await testKeys();
    const browser = b.browser();
    const tokens = await signIn(b, browser);
    const sid = decodeJwt(tokens.id_token).sid as string;
    // A refresh token rotated once before the logout: its successor must die with the session too.
    const rotated = await refresh(b, tokens.refresh_token);
    expect(rotated.status).toBe(200);
    const { refresh_token: successor } = (await rotated.json()) as { refresh_token: string };
    expect((await exchangeIdToken(b, tokens.id_token)).status).toBe(200);

    const query = redirectLogoutRequest(saml.spMetadata(), logoutRequestXml(logoutRequestSpec(SLO, { id: '_idp-logout-1', issueInstant: NOW })), { key: keys.idp, relayState: 'idp-rs' });
    const res = await b.fetch(`${SLO_PATH}?${query}`);
    const answer = location(res);
    expect(answer.origin + answer.pathname).toBe(IDP_SLO_RESPONSES);
    const sent = readRedirect(answer.href, keys.spSigning.cert);
    expect(sent.verified).toBe(true);
    expect(sent.relayState).toBe('idp-rs');
    expect(attrOf(sent.xml, 'InResponseTo')).toBe('_idp-logout-1');
    expect(sent.xml).toContain(`StatusCode Value="${SUCCESS}"`);

    expect(await b.services.store.sessions.active(sid, b.clock.now)).toBeUndefined();
    expect(b.db.prepare('SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND revoked_at IS NULL').pluck().get(sid)).toBe(0);
    const grant = await refresh(b, successor);
    expect(grant.status).toBe(400);
    expect(await grant.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'refresh_token_invalid' });
    // The ID token carrying that sid, still within its own lifetime, no longer stands for a session.
    const byIdToken = await exchangeIdToken(b, tokens.id_token);
    expect(byIdToken.status).toBe(400);
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'session_ended' });
    // The browser's session cookie no longer opens a session: /authorize goes back to the IdP.
    const again = location(await browser.get(webAppRequest()));
    expect(again.origin).toBe('https://idp.example.test');
    const logoutRecord = b.db.prepare("SELECT record FROM audit_log WHERE record LIKE '%initiated_by=idp%'").pluck().get() as string;
    expect(JSON.parse(logoutRecord)).toMatchObject({ event: 'logout', detail: `sid=${sid} connection=corp initiated_by=idp` });
  });

  it('a signed LogoutRequest (POST) without SessionIndex ends every session of the NameID; other people keep theirs', async () => {
    const { b, saml } = await broker();
    const keys = await testKeys();
    const first = await signIn(b, b.browser(), '_s1');
    const second = await signIn(b, b.browser(), '_s2');
    const bob = await signIn(b, b.browser(), '_s3', 'b0b-persistent-bob');
    expect(activeSessions(b)).toBe(3);
    const form = postLogoutRequest(saml.spMetadata(), logoutRequestXml(logoutRequestSpec(SLO, { sessionIndexes: [], issueInstant: NOW })), { key: keys.idp });
    const res = await b.fetch(SLO_PATH, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    expect(res.status).toBe(303);
    expect(activeSessions(b)).toBe(1);
    for (const t of [first, second]) expect((await refresh(b, t.refresh_token)).status).toBe(400);
    expect((await refresh(b, bob.refresh_token)).status).toBe(200);
  });

  it('a SessionIndex names one session: only that one ends', async () => {
    const { b, saml } = await broker();
    const keys = await testKeys();
    const first = await signIn(b, b.browser(), '_s1');
    const second = await signIn(b, b.browser(), '_s2');
    const query = redirectLogoutRequest(saml.spMetadata(), logoutRequestXml(logoutRequestSpec(SLO, { sessionIndexes: ['_s1'], issueInstant: NOW })), { key: keys.idp });
    location(await b.fetch(`${SLO_PATH}?${query}`));
    expect((await refresh(b, first.refresh_token)).status).toBe(400);
    expect((await refresh(b, second.refresh_token)).status).toBe(200);
  });

  it('an unsigned LogoutRequest: plain 400, nothing ends, counted as an anonymous refusal with its reason', async () => {
    const { b, saml } = await broker();
    const keys = await testKeys();
    const tokens = await signIn(b, b.browser());
    const query = redirectLogoutRequest(saml.spMetadata(), logoutRequestXml(logoutRequestSpec(SLO, { issueInstant: NOW })), { key: keys.idp, signed: false });
    const res = await b.fetch(`${SLO_PATH}?${query}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(activeSessions(b)).toBe(1);
    expect((await refresh(b, tokens.refresh_token)).status).toBe(200);
    expect(await lastRefusal(b)).toMatchObject({ event: 'refusal_summary', reason: 'saml_logout_request_refused', endpoint: '/login/saml/:id/slo' });
  });

  it('an authentic but refused LogoutRequest (wrong Destination) is answered with a Requester LogoutResponse and audited', async () => {
    const { b, saml } = await broker();
    const keys = await testKeys();
    await signIn(b, b.browser());
    const query = redirectLogoutRequest(saml.spMetadata(), logoutRequestXml(logoutRequestSpec(SLO, { id: '_wrong-dest', destination: `${BROKER}/login/saml/other/slo`, issueInstant: NOW })), { key: keys.idp });
    const res = await b.fetch(`${SLO_PATH}?${query}`);
    const sent = readRedirect(location(res).href);
    expect(attrOf(sent.xml, 'InResponseTo')).toBe('_wrong-dest');
    expect(sent.xml).toContain(`StatusCode Value="${REQUESTER}"`);
    expect(activeSessions(b)).toBe(1);
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'saml_logout_request_refused', detail: expect.stringContaining('reason=destination_mismatch') });
  });

  it('a replayed LogoutRequest is refused (across instances: through the store) and answered with Requester', async () => {
    const { b, saml } = await broker();
    const keys = await testKeys();
    await signIn(b, b.browser());
    const query = redirectLogoutRequest(saml.spMetadata(), logoutRequestXml(logoutRequestSpec(SLO, { id: '_replayed', issueInstant: NOW })), { key: keys.idp });
    expect(readRedirect(location(await b.fetch(`${SLO_PATH}?${query}`)).href).xml).toContain(SUCCESS);
    // A second broker instance on the same store sees the first one's record.
    const other = new SamlTestUpstream();
    await other.init(b.services.store, () => b.clock.now);
    await expect(other.logout!.receive({ binding: 'redirect', query }, {})).rejects.toMatchObject({ reason: { code: 'logout_request_replayed' } });
    const second = readRedirect(location(await b.fetch(`${SLO_PATH}?${query}`)).href);
    expect(second.xml).toContain(REQUESTER);
    expect(lastAudit(b)).toMatchObject({ reason: 'saml_logout_request_refused', detail: expect.stringContaining('reason=logout_request_replayed') });
  });

  it('a LogoutRequest naming nobody signed in is answered Success and put on the record (sessions=0)', async () => {
    const { b, saml } = await broker();
    const keys = await testKeys();
    await signIn(b, b.browser());
    const query = redirectLogoutRequest(saml.spMetadata(), logoutRequestXml(logoutRequestSpec(SLO, { nameId: 'n0b0dy-persistent', issueInstant: NOW })), { key: keys.idp });
    expect(readRedirect(location(await b.fetch(`${SLO_PATH}?${query}`)).href).xml).toContain(SUCCESS);
    expect(activeSessions(b)).toBe(1);
    expect(lastAudit(b)).toMatchObject({ event: 'logout', detail: 'connection=corp initiated_by=idp sessions=0' });
  });

  it('an unknown connection: 404', async () => {
    const { b } = await broker();
    expect((await b.fetch('/login/saml/nope/slo?SAMLRequest=x')).status).toBe(404);
  });
});

void APP_CALLBACK;
void IDP_SLO;
