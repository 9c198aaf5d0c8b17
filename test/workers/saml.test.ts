import { inflateRawSync } from 'node:zlib';
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { decodeJwt } from 'jose';
import * as samlify from 'samlify';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { ConfigFiles } from '../../src/config/load.js';
import { SAML_METADATA_DEFAULT_REFRESH } from '../../src/constants.js';
import type { BrokerWorker, WorkerEnv } from '../../src/runtime/worker.js';
import { samlReplayScope } from '../../src/upstream/saml/index.js';
import { ALG, decode, defaultSpec, el, IDP_ENTITY, idpMetadata, idpResponse, mutate, NOW, NS_A, testKeys, TRANSIENT, type ResponseSpec } from '../upstream/saml/helpers.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { capture, type Line } from '../helpers/log.js';
import { BROKER, call, CRM, ID_JAG_TYPE, postToken, rows, SECRET, testFiles, testWorker, TOKEN_EXCHANGE, workerEnv } from './helpers.js';

/**
 * SAML on Workers, black-box through the Worker's fetch handler on workerd: a SAML connection
 * (metadata fetched from a URL, signed AuthnRequests, encrypted assertions) logs a browser in
 * through the broker's OpenID Provider, and a `saml2` subject token is exchanged for an ID-JAG.
 * State is D1's. The attack batteries run on workerd as well (test/upstream/saml/*, listed in
 * vitest.workers.config.ts).
 */

const SP = `${BROKER}/login/saml/corp/metadata`;
const ACS = `${BROKER}/login/saml/corp/acs`;
const METADATA_URL = 'https://idp.example.test/metadata';
const APP_CB = 'https://app.test/cb';
const WIKI_SP = 'https://wiki.example.test/saml/sp';
const WIKI_ACS = 'https://wiki.example.test/saml/acs';
const CRM_API = 'https://api.crm.test/';
const SAML2_TYPE = 'urn:ietf:params:oauth:token-type:saml2';
const NAME_ID = 'a1b2c3d4-persistent-alice';

let keys: Awaited<ReturnType<typeof testKeys>>;
let files: ConfigFiles;
let metadataFetches = 0;

/** The test configuration plus SAML connection `corp`; wiki-agent as an OpenID app and a SAML SP of the same IdP. */
function samlFiles(): ConfigFiles {
  const config = parse(testFiles.broker.text) as Record<string, unknown> & { clients: Record<string, unknown>[] };
  config.connections = [
    {
      type: 'saml',
      id: 'corp',
      display_name: 'Corp SAML',
      sp_entity_id: SP,
      acs_url: ACS,
      idp_metadata_url: METADATA_URL,
      authn_requests_signed: true,
      sp_signing: { private_key: keys.spSigning.key, certificate: keys.spSigning.cert },
      // As a deployment would: the decryption key is a Worker secret, not in the bundled configuration.
      sp_encryption: { private_key_env: 'SAML_CORP_ENCRYPTION_KEY', certificate: keys.spEncryption.cert },
      authority: { email: { domains: ['example.com'], verified: 'always' } },
    },
  ];
  const wiki = config.clients.find((c) => c.client_id === 'wiki-agent')!;
  wiki.oidc = { redirect_uris: [APP_CB], subject_namespace: 'crm-users', scopes: ['openid', 'email'] };
  wiki.saml_audiences = { corp: WIKI_SP };
  // The CRM keys people on their email: the SAML IdP is one of the upstreams it takes addresses from.
  const crm = testFiles.mappings.find((m) => m.path.endsWith('crm-users.yaml'))!;
  const mapping = parse(crm.text) as { upstreams: string[] };
  mapping.upstreams.push(IDP_ENTITY);
  return { ...testFiles, broker: { ...testFiles.broker, text: stringify(config) }, mappings: testFiles.mappings.map((m) => (m === crm ? { ...m, text: stringify(mapping) } : m)) };
}

/** The IdP's metadata endpoint; anything else is not reachable from the test. */
const idpFetch = (async (input: RequestInfo | URL) => {
  const url = String(input instanceof Request ? input.url : input);
  if (url !== METADATA_URL) return new Response('not found', { status: 404 });
  metadataFetches += 1;
  return new Response(idpMetadata([keys.idp.cert], { wantAuthnRequestsSigned: true }), { headers: { 'content-type': 'application/samlmetadata+xml' } });
}) as typeof fetch;

beforeAll(async () => {
  keys = await testKeys();
  files = samlFiles();
  // The broker never asks samlify to parse (it builds messages with it, and parses and checks what
  // it receives itself); should it ever, this makes every test here fail.
  samlify.setSchemaValidator({ validate: async () => Promise.reject(new Error('the Worker parsed through samlify')) });
});

/** The Worker, its env carrying the SP's decryption key as `wrangler secret put` would. */
const worker = (lines: Line[] = [], clock?: () => number): BrokerWorker => {
  const w = testWorker({ files, fetch: idpFetch, logger: capture(lines), ...(clock ? { clock } : {}) });
  return { ...w, fetch: (request, env, ctx) => w.fetch(request, { ...env, SAML_CORP_ENCRYPTION_KEY: keys.spEncryption.key } as WorkerEnv, ctx) };
};

/** The audit log's highest seq: a test reads only what it caused (D1 is per file, not per test). */
const lastSeq = async () => (await rows<{ seq: number | null }>('SELECT max(seq) AS seq FROM audit_log'))[0]!.seq ?? 0;

/** One browser at the Worker. */
const browserAt = (w: BrokerWorker) => new CookieJar((path, init) => call(w, path, init));

const authorize = (state = 'state-1') =>
  `/authorize?${new URLSearchParams({ client_id: 'wiki-agent', redirect_uri: APP_CB, response_type: 'code', scope: 'openid email', state, nonce: 'nonce-1' })}`;

/** The login start's redirect to the IdP: where to, the AuthnRequest, RelayState. */
function toIdp(res: Response): { url: URL; request: string; relayState: string } {
  expect(res.status).toBe(302);
  const url = new URL(res.headers.get('location')!);
  return { url, request: inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8'), relayState: url.searchParams.get('RelayState')! };
}

const requestIdOf = (xml: string) => /\sID="([^"]+)"/.exec(xml)![1]!;

/** The IdP's answer to a login the broker started: to the broker's ACS, the assertion encrypted to its key. */
function brokerSpec(inResponseTo: string, overrides: Partial<ResponseSpec> = {}): ResponseSpec {
  return defaultSpec({ inResponseTo, destination: ACS, recipient: ACS, audience: SP, spNameQualifier: SP, ...overrides });
}

describe('SAML login through the Worker', () => {
  it('/authorize → signed AuthnRequest (HTTP-Redirect) → encrypted, signed assertion at the ACS → code → ID token', async () => {
    const w = worker();
    const browser = browserAt(w);
    const started = toIdp(await browser.get(authorize()));
    expect(`${started.url.origin}${started.url.pathname}`).toBe('https://idp.example.test/sso/redirect');
    // Signed by the redirect binding (the IdP wants signed requests), over the query as sent.
    expect(started.url.searchParams.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(started.url.searchParams.get('Signature')).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(started.request).toContain(`AssertionConsumerServiceURL="${ACS}"`);
    expect(await rows('SELECT id FROM login_transactions')).toHaveLength(1);

    const SAMLResponse = await idpResponse(brokerSpec(requestIdOf(started.request)), { encrypt: true });
    expect(decode(SAMLResponse)).toContain('EncryptedAssertion');
    const acs = await browser.post('/login/saml/corp/acs', { SAMLResponse, RelayState: started.relayState });
    expect(acs.status).toBe(303);
    const back = new URL(acs.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(APP_CB);
    expect(back.searchParams.get('state')).toBe('state-1');
    expect(await rows('SELECT id FROM login_transactions')).toHaveLength(0);
    // The assertion is remembered (D1's replay store) until it expires.
    expect(await rows('SELECT id FROM replay WHERE scope = ?', samlReplayScope(IDP_ENTITY))).toHaveLength(1);

    const tokens = await postToken(w, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: APP_CB, client_id: 'wiki-agent', client_secret: SECRET });
    expect(tokens.status).toBe(200);
    const idToken = decodeJwt(((await tokens.json()) as { id_token: string }).id_token);
    // The app's namespace (crm-users) keys people on the email the SAML IdP is authoritative for.
    expect(idToken).toMatchObject({ iss: BROKER, aud: 'wiki-agent', sub: 'alice@example.com', email: 'alice@example.com', nonce: 'nonce-1' });
    const [principal] = await rows<{ upstream_issuer: string; upstream_subject: string }>('SELECT upstream_issuer, upstream_subject FROM principals');
    expect(principal).toEqual({ upstream_issuer: IDP_ENTITY, upstream_subject: NAME_ID });
    expect(metadataFetches).toBeGreaterThan(0);
  });

  it('refuses an altered response at the ACS and keeps the login waiting; the genuine one then completes it', async () => {
    const lines: Line[] = [];
    const w = worker(lines);
    const browser = browserAt(w);
    const started = toIdp(await browser.get(authorize()));
    const genuine = await idpResponse(brokerSpec(requestIdOf(started.request)));
    const altered = mutate(genuine, (doc) => {
      el(doc, NS_A, 'NameID').textContent = 'victim';
    });
    const refused = await browser.post('/login/saml/corp/acs', { SAMLResponse: altered, RelayState: started.relayState });
    expect(refused.status).toBe(400);
    expect(await refused.text()).not.toContain('victim');
    expect(await rows('SELECT id FROM login_transactions')).toHaveLength(1);
    // An anonymous refusal is logged and counted into the refusal summary (its precise code is the
    // attack battery's to check: test/upstream/saml/attacks.test.ts runs on workerd too).
    expect(lines.filter((l) => l.fields.event === 'refusal').map((l) => l.fields.reason)).toEqual(['login_failed']);

    const acs = await browser.post('/login/saml/corp/acs', { SAMLResponse: genuine, RelayState: started.relayState });
    expect(acs.status).toBe(303);
    // The same response again is a replay: its transaction is gone and its assertion remembered.
    const replayed = await browser.post('/login/saml/corp/acs', { SAMLResponse: genuine, RelayState: started.relayState });
    expect(replayed.status).toBe(400);
  });

  it('without the secret the Worker does not start, and its console names the variable, not a value', async () => {
    const lines: Line[] = [];
    const w = testWorker({ files, fetch: idpFetch, logger: capture(lines) });
    const res = await call(w, '/.well-known/oauth-authorization-server');
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'server_error' });
    const failure = lines.find((l) => l.message === 'broker failed to start');
    expect(JSON.stringify(failure?.fields)).toContain('sp_encryption.private_key_env: SAML_CORP_ENCRYPTION_KEY is not set');
  });

  it('the cron trigger refreshes the IdP metadata once it is due (a Worker has no timers)', async () => {
    const clock = { now: Math.floor(Date.now() / 1000) };
    const w = worker([], () => clock.now);
    expect((await call(w, '/login/saml/corp/metadata')).status).toBe(200);
    const fetched = metadataFetches;
    const scheduled = async () => {
      const ctx = createExecutionContext();
      await w.scheduled(createScheduledController({ cron: '*/5 * * * *', scheduledTime: clock.now * 1000 }), workerEnv(), ctx);
      await waitOnExecutionContext(ctx);
    };
    await scheduled();
    expect(metadataFetches).toBe(fetched);
    // Past the default refresh interval (the test metadata has no cacheDuration): fetched again.
    clock.now += SAML_METADATA_DEFAULT_REFRESH + 1;
    await scheduled();
    expect(metadataFetches).toBe(fetched + 1);
  });

  it('serves the SP metadata with both certificates', async () => {
    const res = await call(worker(), '/login/saml/corp/metadata');
    expect(res.status).toBe(200);
    const xml = await res.text();
    expect(xml).toContain(`entityID="${SP}"`);
    const strip = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');
    expect(xml).toContain(strip(keys.spSigning.cert));
    expect(xml).toContain(strip(keys.spEncryption.cert));
  });
});

describe('saml2 subject tokens on the Worker', () => {
  /** An assertion the IdP issued to wiki-agent (its own SP), as RFC 8693 base64url. */
  async function appAssertion(overrides: Partial<ResponseSpec> = {}, key = keys.idp): Promise<string> {
    const xml = decode(await idpResponse(defaultSpec({ audience: WIKI_SP, recipient: WIKI_ACS, destination: WIKI_ACS, spNameQualifier: WIKI_SP, ...overrides }), { key }));
    return Buffer.from(/<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0], 'utf8').toString('base64url');
  }
  const exchange = (w: BrokerWorker, subjectToken: string) =>
    postToken(w, {
      grant_type: TOKEN_EXCHANGE,
      requested_token_type: ID_JAG_TYPE,
      subject_token: subjectToken,
      subject_token_type: SAML2_TYPE,
      audience: CRM,
      resource: CRM_API,
      scope: 'contacts.read',
      client_id: 'wiki-agent',
      client_secret: SECRET,
    });

  it('mints an ID-JAG for the person the assertion names, once', async () => {
    const w = worker();
    const token = await appAssertion();
    const res = await exchange(w, token);
    const body = (await res.json()) as { access_token: string; issued_token_type: string };
    expect(res.status).toBe(200);
    expect(body.issued_token_type).toBe(ID_JAG_TYPE);
    expect(decodeJwt(body.access_token)).toMatchObject({ iss: BROKER, aud: CRM, sub: 'alice@example.com', client_id: 'wiki-at-crm', scope: 'contacts.read' });
    const again = await exchange(w, token);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant' });
  });

  /** The assertion (or Response) XML the IdP issued to wiki-agent. */
  async function appXml(overrides: Partial<ResponseSpec> = {}, options: Parameters<typeof idpResponse>[1] = {}): Promise<{ response: string; assertion: string }> {
    const response = decode(await idpResponse(defaultSpec({ audience: WIKI_SP, recipient: WIKI_ACS, destination: WIKI_ACS, spNameQualifier: WIKI_SP, ...overrides }), options));
    return { response, assertion: /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(response)?.[0] ?? '' };
  }
  const token = (xml: string) => Buffer.from(xml, 'utf8').toString('base64url');

  // The same refusals test/exchange/saml2-subject.test.ts checks on Node, here through the Worker:
  // each an invalid_grant with nothing else on the wire, its audit record saying why, nothing minted.
  const REFUSALS: [string, () => Promise<string>, string, string?][] = [
    ['a DOCTYPE', async () => token(`<!DOCTYPE saml:Assertion [<!ENTITY x "x">]>${(await appXml()).assertion}`), 'token_malformed', 'doctype_present'],
    ['neither an Assertion nor a Response', async () => token('<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"/>'), 'token_malformed', 'not_an_assertion'],
    ['content outside the assertion', async () => token(`<!-- hello -->${(await appXml()).assertion}`), 'token_malformed', 'content_outside_assertion'],
    [
      'two assertions in the Response',
      async () => {
        const { response, assertion } = await appXml();
        return token(response.replace(assertion, assertion + assertion.replace(/ID="[^"]+"/, 'ID="_second"')));
      },
      'saml_assertion_invalid',
      'multiple_assertions',
    ],
    ['an unsigned assertion', async () => token((await appXml({}, { signAssertion: false })).assertion), 'signature_invalid', 'assertion_unsigned'],
    ['an RSA-SHA1 signature', async () => token((await appXml({}, { signatureAlgorithm: ALG.rsaSha1 })).assertion), 'alg_not_allowed'],
    ['an Issuer that is no SAML connection', async () => token((await appXml({ issuer: 'https://other-idp.example.test/metadata' })).assertion), 'issuer_untrusted', 'issuer_unknown'],
    ['the Audience of the broker’s own SP (a login assertion)', async () => token((await appXml({ audience: SP })).assertion), 'aud_mismatch', 'audience_mismatch'],
    ['the bearer confirmation expired', async () => token((await appXml({ scdNotOnOrAfter: NOW - 300 })).assertion), 'expired', 'confirmation_expired'],
    ['not yet valid', async () => token((await appXml({ notBefore: NOW + 600 })).assertion), 'not_yet_valid'],
    ['a transient NameID', async () => token((await appXml({ nameIdFormat: TRANSIENT, nameId: '_transient-7' })).assertion), 'saml_assertion_invalid', 'principal_nameid_format'],
    ['an assertion encrypted to the app', async () => token((await appXml({}, { encrypt: true, signResponse: true })).response), 'saml_assertion_invalid', 'encrypted_assertion_unexpected'],
  ];
  for (const [what, make, reason, detail] of REFUSALS) {
    it(`refuses ${what}: invalid_grant (${reason}${detail ? `, ${detail}` : ''})`, async () => {
      const w = worker();
      const before = await lastSeq();
      const subjectToken = await make();
      const res = await exchange(w, subjectToken);
      const text = await res.text();
      expect(res.status, text).toBe(400);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = JSON.parse(text) as Record<string, unknown>;
      expect(body.error).toBe('invalid_grant');
      expect(Object.keys(body).filter((k) => k !== 'error' && k !== 'error_description')).toEqual([]);
      expect(text).not.toContain(reason);
      const audit = await rows<{ event: string; record: string }>('SELECT event, record FROM audit_log WHERE seq > ? ORDER BY seq', before);
      expect(audit.map((a) => a.event)).toEqual(['refusal']);
      const record = JSON.parse(audit[0]!.record) as { reason: string; detail?: string };
      expect(record.reason).toBe(reason);
      if (detail) expect(record.detail ?? '').toContain(detail);
      expect(audit[0]!.record).not.toContain(subjectToken);
    });
  }

  it('refuses an assertion another key signed, or one changed after signing, and mints nothing', async () => {
    const w = worker();
    const before = await lastSeq();
    const foreign = await exchange(w, await appAssertion({}, keys.attacker));
    expect(foreign.status).toBe(400);
    expect(await foreign.json()).toMatchObject({ error: 'invalid_grant' });
    const changed = Buffer.from(Buffer.from(await appAssertion(), 'base64url').toString('utf8').replace(NAME_ID, 'victim'), 'utf8').toString('base64url');
    const altered = await exchange(w, changed);
    expect(altered.status).toBe(400);
    expect(await altered.json()).toMatchObject({ error: 'invalid_grant' });
    const refusals = await rows<{ reason: string }>("SELECT json_extract(record, '$.reason') AS reason FROM audit_log WHERE event = 'refusal' AND seq > ? ORDER BY seq", before);
    expect(refusals.map((r) => r.reason)).toEqual(['signature_invalid', 'signature_invalid']);
    expect(await rows("SELECT seq FROM audit_log WHERE event = 'mint' AND seq > ?", before)).toHaveLength(0);
  });
});
