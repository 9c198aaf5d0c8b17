import { chromium, type Browser } from 'playwright-core';
import * as samlify from 'samlify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BrokerConfigInput } from '../../src/config/schema.js';
import { testNamespaces, testSettings } from '../helpers/broker.js';
import { buildBroker, listen, type E2eBroker, type Listener } from '../e2e/helpers.js';
import { decode, defaultSpec, IDP_ENTITY, idpResponse, parseXml, testKeys } from '../upstream/saml/helpers.js';

/**
 * Issue 10 item 2 in a real browser (Debian's Chromium, as test/console/console.browser.test.ts):
 * a POST-only IdP. The broker's auto-submitting form runs under its nonce CSP with no violation and
 * posts the AuthnRequest to the IdP; the IdP answers with a signed response to the ACS and the
 * browser lands at the app with a code. With JavaScript off, the noscript button does the same.
 * All over loopback HTTP.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const APP_CALLBACK = 'http://app.localhost/cb';

let brokerHttp: Listener;
let idpHttp: Listener;
let broker: E2eBroker;
let browser: Browser;
/** What the IdP's SSO endpoint received, in order. */
const received: Record<string, string>[] = [];

beforeAll(async () => {
  [brokerHttp, idpHttp] = await Promise.all([listen(), listen()]);
  const BROKER = brokerHttp.origin;
  const SP = `${BROKER}/login/saml/corp/metadata`;
  const ACS = `${BROKER}/login/saml/corp/acs`;
  const keys = await testKeys();
  const metadata = samlify
    .IdentityProvider({ entityID: IDP_ENTITY, signingCert: keys.idp.cert, singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: `${idpHttp.origin}/sso` }] })
    .getMetadata();

  // The IdP: takes the posted AuthnRequest and answers with its own auto-post of a signed response.
  idpHttp.serve(async (request) => {
    if (request.method !== 'POST' || new URL(request.url).pathname !== '/sso') return new Response('not found', { status: 404 });
    const form = Object.fromEntries(new URLSearchParams(await request.text()));
    received.push(form);
    const requestId = parseXml(decode(form.SAMLRequest!)).documentElement.getAttribute('ID')!;
    const now = Math.floor(Date.now() / 1000);
    const response = await idpResponse(
      defaultSpec({ inResponseTo: requestId, destination: ACS, recipient: ACS, audience: SP, spNameQualifier: SP, issueInstant: now - 1, notBefore: now - 1, authnInstant: now - 2, notOnOrAfter: now + 300, scdNotOnOrAfter: now + 300 }),
    );
    const html = `<!doctype html><form method="post" action="${ACS}"><input type="hidden" name="SAMLResponse" value="${response}"><input type="hidden" name="RelayState" value="${form.RelayState}"><button>Send</button></form><script>document.forms[0].submit()</script>`;
    return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } });
  });

  const settings = await testSettings((s: BrokerConfigInput) => {
    s.issuer = BROKER;
    s.connections = [
      {
        type: 'saml',
        id: 'corp',
        sp_entity_id: SP,
        acs_url: ACS,
        idp_metadata_xml: metadata,
        allow_insecure_http_for_loopback: true,
        authority: { email: { domains: ['example.com'], verified: 'always' } },
      } as never,
    ];
    s.clients!.find((c) => c.client_id === 'wiki-agent')!.oidc = { redirect_uris: [APP_CALLBACK], subject_namespace: 'analytics-users', scopes: ['openid', 'email'] };
  });
  broker = await buildBroker(settings, testNamespaces);
  brokerHttp.serve(broker.app.fetch);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await brokerHttp?.close();
  await idpHttp?.close();
});

const authorize = (state: string) =>
  `${brokerHttp.origin}/authorize?${new URLSearchParams({ client_id: 'wiki-agent', redirect_uri: APP_CALLBACK, response_type: 'code', scope: 'openid email', state, nonce: 'n-1' })}`;

it('the POST page submits itself under its CSP (no violation), the IdP gets the AuthnRequest, the login completes', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
  page.on('pageerror', (e) => void problems.push(e.message));
  let landed: URL | undefined;
  await page.route(`${APP_CALLBACK}**`, (route) => {
    landed = new URL(route.request().url());
    return route.fulfill({ status: 200, contentType: 'text/plain', body: 'the app' });
  });
  const before = received.length;
  await page.goto(authorize('browser-1'));
  await page.waitForURL(`${APP_CALLBACK}**`, { timeout: 15_000 });
  expect(problems).toEqual([]);
  expect(received.length).toBe(before + 1);
  const posted = received.at(-1)!;
  expect(Object.keys(posted).sort()).toEqual(['RelayState', 'SAMLRequest']);
  expect(parseXml(decode(posted.SAMLRequest!)).documentElement.getAttribute('Destination')).toBe(`${idpHttp.origin}/sso`);
  expect(landed!.searchParams.get('state')).toBe('browser-1');
  expect(landed!.searchParams.get('code')).toBeTruthy();
  await context.close();
}, 60_000);

it('with JavaScript off, the noscript Continue button posts the same form', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const before = received.length;
  await page.goto(authorize('browser-2'));
  expect(new URL(page.url()).pathname).toBe('/authorize');
  const button = page.getByRole('button', { name: 'Continue' });
  expect(await button.count()).toBe(1);
  await Promise.all([page.waitForRequest((r) => r.url() === `${idpHttp.origin}/sso` && r.method() === 'POST'), button.click()]);
  await expect.poll(() => received.length).toBe(before + 1);
  expect(received.at(-1)!.RelayState).toMatch(/^[A-Za-z0-9_-]{43}$/);
  await context.close();
}, 60_000);
