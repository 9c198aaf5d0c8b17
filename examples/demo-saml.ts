/**
 * `npm run demo:saml`: log in to an app through a SAML IdP, receive an OIDC ID token from the
 * broker, exchange it for an ID-JAG and redeem that at the Todo AS. Each artifact printed decoded.
 *
 *   app (openid-client) ──/authorize──▶ broker (:8787) ──AuthnRequest──▶ SAML IdP (:9000, samlify)
 *   IdP ──signed Response (POST)──▶ broker ──code──▶ app ──▶ ID token (sub = persistent NameID)
 *   app ── token exchange ──▶ broker ── ID-JAG ──▶ app ── jwt-bearer ──▶ Todo AS (:9100) ──▶ /api/todos
 *
 * "hr-portal" is an app that used to receive SAML from the IdP and now logs in with OIDC at the
 * broker: its users keep the subject it knew them by (the persistent NameID). The broker is built
 * in this process from a configuration written below (broker.config.yaml is not used), on its own
 * SQLite file (data/demo-saml.sqlite). The browser is scripted: fetch with a cookie jar.
 *
 * Ports and database can be moved with DEMO_BROKER_PORT, DEMO_IDP_PORT, DEMO_TODO_PORT and
 * DEMO_DATABASE (the tests do, to run beside `npm run demo`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { DOMParser } from '@xmldom/xmldom';
import * as client from 'openid-client';
import { stringify } from 'yaml';
import { createBroker } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import type { BrokerConfigInput, NamespaceConfig } from '../src/config/schema.js';
import { nodeSamlFactory } from '../src/runtime/node-saml.js';
import { createSqliteStore, openSqlite } from '../src/store/adapters/sqlite.js';
import { createDestinationAs } from './destination-as/app.js';
import { decoded, demoApp, idJagToApi, short, show, todoDestination } from './demo-common.js';
import { DemoServers, freshDatabase } from './demo-servers.js';
import { Browser } from './demo-login.js';
import { createSamlIdp, type SamlIdpUser } from './saml-idp.js';

const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PORTS = { broker: port('DEMO_BROKER_PORT', 8787), idp: port('DEMO_IDP_PORT', 9000), todo: port('DEMO_TODO_PORT', 9100) };
const DATABASE = process.env.DEMO_DATABASE ?? 'data/demo-saml.sqlite';
const BROKER = `http://localhost:${PORTS.broker}`;
const IDP = `http://localhost:${PORTS.idp}`;
const TODO = `http://localhost:${PORTS.todo}`;
const TODO_API = `${TODO}/api`;

/** The app at the broker (an OIDC client that also asks for ID-JAGs) and at the Todo AS. */
const APP = { client_id: 'hr-portal', client_secret: 'demo-hr-secret', redirect_uri: 'http://localhost:3000/callback' };
const AT_TODO = { client_id: 'hr-at-todo', client_secret: 'demo-hr-todo-secret' };
const ALICE: SamlIdpUser = {
  nameId: 'a7f3c9e2-5b1d-4e8a-9c6f-0d2e4b6a8c10',
  email: 'alice@example.com',
  givenName: 'Alice',
  familyName: 'Liddell',
  displayName: 'Alice Liddell',
  affiliation: ['staff', 'member'],
};

const NS_A = 'urn:oasis:names:tc:SAML:2.0:assertion';
const NS_P = 'urn:oasis:names:tc:SAML:2.0:protocol';
const NS_DS = 'http://www.w3.org/2000/09/xmldsig#';


/** The broker's configuration, as code: the same schema broker.config.yaml and mappings/*.yaml follow. */
async function brokerConfig(idpEntityId: string, idpMetadata: string) {
  const settings: BrokerConfigInput = {
    issuer: BROKER,
    connections: [
      {
        type: 'saml',
        id: 'corp-saml',
        display_name: 'Corp SAML IdP',
        sp_entity_id: `${BROKER}/login/saml/corp-saml/metadata`,
        acs_url: `${BROKER}/login/saml/corp-saml/acs`,
        idp_metadata_xml: idpMetadata,
        allow_insecure_http_for_loopback: true,
        // What this IdP is believed about (docs/configuration.md): a SAML IdP sends no
        // email_verified, so its directory is trusted for example.com addresses outright.
        authority: {
          tenant: 'corp',
          email: { domains: ['example.com'], verified: 'always' },
          acr: ['urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport'],
          amr: ['pwd'],
          claims: ['name', 'given_name', 'family_name'],
        },
      },
    ],
    clients: [await demoApp({ app: APP, atTodo: AT_TODO, name: 'HR portal (migrated from SAML)', subjectNamespace: 'hr-users' })],
    destinations: [todoDestination(TODO, TODO_API)],
  };
  const namespaces: NamespaceConfig[] = [
    // The app's users keep the subject it used to receive over SAML: the persistent NameID.
    { namespace: 'hr-users', strategy: 'saml_subject', subject_source: { kind: 'persistent_nameid' } },
    // The Todo AS knows people by its own account numbers.
    { namespace: 'todo-users', strategy: 'table', version: 1, rows: [{ upstream_issuer: idpEntityId, upstream_subject: ALICE.nameId, subject: 'todo-user-1001' }] },
  ];
  const policyFiles = readdirSync('policies').sort();
  return loadConfig({
    broker: { path: 'examples/demo-saml.ts (in code)', text: stringify(settings) },
    mappings: namespaces.map((ns) => ({ path: `mappings/${ns.namespace}.yaml (in code)`, text: stringify(ns) })),
    policies: policyFiles.filter((f) => f.endsWith('.cedar')).map((f) => ({ path: `policies/${f}`, text: readFileSync(join('policies', f), 'utf8') })),
    schema: { path: 'policies/xaa.cedarschema', text: readFileSync('policies/xaa.cedarschema', 'utf8') },
  });
}

function redirectOf(res: Response, from: URL): URL {
  const location = res.headers.get('location');
  if (res.status < 300 || res.status >= 400 || !location) throw new Error(`expected a redirect from ${from.href}, got ${res.status}`);
  return new URL(location, from);
}

/** The IdP's auto-submitting HTTP-POST form. */
function postForm(html: string): { action: URL; fields: Record<string, string> } {
  const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const action = /<form[^>]*action="([^"]*)"/.exec(html)?.[1];
  if (!action) throw new Error(`expected the IdP's auto-post form, got: ${html.slice(0, 300)}`);
  const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)].map((m) => [unescape(m[1]!), unescape(m[2]!)]));
  return { action: new URL(unescape(action)), fields };
}

const xml = (text: string) => new DOMParser().parseFromString(text, 'text/xml').documentElement!;
const first = (el: Element, ns: string, name: string) => el.getElementsByTagNameNS(ns, name).item(0) ?? undefined;

function authnRequestHighlights(redirect: URL) {
  const request = xml(inflateRawSync(Buffer.from(redirect.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8'));
  return {
    ID: request.getAttribute('ID'),
    Destination: request.getAttribute('Destination'),
    AssertionConsumerServiceURL: request.getAttribute('AssertionConsumerServiceURL'),
    ProtocolBinding: request.getAttribute('ProtocolBinding'),
    Issuer: first(request, NS_A, 'Issuer')?.textContent,
    NameIDPolicy: first(request, NS_P, 'NameIDPolicy')?.getAttribute('Format'),
    RelayState: short(redirect.searchParams.get('RelayState')),
  };
}

function assertionHighlights(samlResponse: string) {
  const response = xml(Buffer.from(samlResponse, 'base64').toString('utf8'));
  const assertion = first(response, NS_A, 'Assertion')!;
  const signature = first(assertion, NS_DS, 'Signature');
  const nameId = first(assertion, NS_A, 'NameID')!;
  const confirmation = first(assertion, NS_A, 'SubjectConfirmationData')!;
  const conditions = first(assertion, NS_A, 'Conditions')!;
  const authn = first(assertion, NS_A, 'AuthnStatement')!;
  const attributes = Array.from(assertion.getElementsByTagNameNS(NS_A, 'Attribute'), (a) => [
    a.getAttribute('Name')!,
    Array.from(a.getElementsByTagNameNS(NS_A, 'AttributeValue'), (v) => v.textContent),
  ]);
  return {
    Response: { ID: response.getAttribute('ID'), InResponseTo: response.getAttribute('InResponseTo'), Destination: response.getAttribute('Destination') },
    Assertion: {
      ID: assertion.getAttribute('ID'),
      Issuer: first(assertion, NS_A, 'Issuer')?.textContent,
      Signature: signature
        ? {
            over: `the Assertion (Reference URI ${first(signature, NS_DS, 'Reference')?.getAttribute('URI')})`,
            SignatureMethod: first(signature, NS_DS, 'SignatureMethod')?.getAttribute('Algorithm'),
            DigestMethod: first(signature, NS_DS, 'DigestMethod')?.getAttribute('Algorithm'),
          }
        : '(none)',
      NameID: { Format: nameId.getAttribute('Format'), value: nameId.textContent, SPNameQualifier: nameId.getAttribute('SPNameQualifier') },
      SubjectConfirmationData: { Recipient: confirmation.getAttribute('Recipient'), InResponseTo: confirmation.getAttribute('InResponseTo'), NotOnOrAfter: confirmation.getAttribute('NotOnOrAfter') },
      Conditions: { NotBefore: conditions.getAttribute('NotBefore'), NotOnOrAfter: conditions.getAttribute('NotOnOrAfter'), Audience: first(conditions, NS_A, 'Audience')?.textContent },
      AuthnStatement: { AuthnInstant: authn.getAttribute('AuthnInstant'), AuthnContextClassRef: first(authn, NS_A, 'AuthnContextClassRef')?.textContent },
      Attributes: Object.fromEntries(attributes),
    },
  };
}

async function main() {
  freshDatabase(DATABASE);
  const servers = new DemoServers();

  try {
    // The upstream SAML IdP: samlify, with a key and certificate generated just now.
    const idp = await createSamlIdp({ baseUrl: IDP });
    await servers.serve(idp.app.fetch, PORTS.idp);

    // The broker, configured in code: the IdP's metadata is given to its SAML connection inline.
    const config = await brokerConfig(idp.entityId, idp.metadata);
    const broker = await createBroker({ config, store: createSqliteStore(openSqlite(DATABASE)), cedar, saml: nodeSamlFactory });
    await servers.serve(broker.app.fetch, PORTS.broker);

    // The Todo AS trusts the broker's keys; it knows alice as todo-user-1001.
    const todoAs = await createDestinationAs({
      issuer: TODO,
      brokers: [{ issuer: BROKER, jwksUri: `${BROKER}/jwks`, todos: { 'todo-user-1001': [{ id: '1', title: 'Ship the SAML-upstream demo', done: false }, { id: '2', title: 'Retire the legacy SAML SP', done: false }] } }],
      clients: [AT_TODO],
    });
    await servers.serve(todoAs.fetch, PORTS.todo);
    console.log(`SAML IdP ${IDP} (samlify), broker ${BROKER}, Todo AS ${TODO}`);

    // The IdP trusts the broker as a service provider, from the SP metadata the broker publishes.
    const spMetadata = await (await fetch(`${BROKER}/login/saml/corp-saml/metadata`)).text();
    idp.trustSp(spMetadata);
    idp.signIn(ALICE);
    show('0. Setup', {
      'IdP entityID': idp.entityId,
      'broker SP metadata': `${BROKER}/login/saml/corp-saml/metadata (registered at the IdP)`,
      'signed in at the IdP': `${ALICE.displayName} (persistent NameID ${ALICE.nameId})`,
    });

    // 1. The app discovers the broker and sends the browser to /authorize (PKCE, state, nonce).
    const app = await client.discovery(new URL(BROKER), APP.client_id, undefined, client.ClientSecretPost(APP.client_secret), {
      execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
    });
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorize = client.buildAuthorizationUrl(app, {
      redirect_uri: APP.redirect_uri,
      scope: 'openid email profile',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    show('1. The app sends the browser to the broker (openid-client)', `GET ${authorize.origin}${authorize.pathname}\n${JSON.stringify(Object.fromEntries(authorize.searchParams), null, 2)}`);

    // 2. The broker redirects to the SAML IdP with an AuthnRequest (HTTP-Redirect binding).
    const browser = new Browser();
    const toIdp = redirectOf(await browser.go(authorize), authorize);
    show('2. The broker redirects to the IdP with an AuthnRequest (HTTP-Redirect)', { to: `${toIdp.origin}${toIdp.pathname}`, AuthnRequest: authnRequestHighlights(toIdp) });

    // 3. The IdP answers with a signed Response, which the browser posts to the broker's ACS.
    const atIdp = await browser.go(toIdp);
    if (atIdp.status !== 200) throw new Error(`the IdP refused: ${atIdp.status} ${await atIdp.text()}`);
    const form = postForm(await atIdp.text());
    show(`3. The IdP's signed SAML Response, posted by the browser to ${form.action.pathname}`, assertionHighlights(form.fields.SAMLResponse!));

    // 4. The broker checks it, starts its session and sends the browser back to the app with a code.
    const back = await browser.go(form.action, form.fields);
    const callback = redirectOf(back, form.action);
    if (!callback.href.startsWith(APP.redirect_uri)) throw new Error(`the broker did not return to the app: ${callback.href} ${await back.text()}`);
    show(`4. The broker returns the browser to the app (${back.status})`, { redirect_uri: `${callback.origin}${callback.pathname}`, code: short(callback.searchParams.get('code'), 12), state: callback.searchParams.get('state'), iss: callback.searchParams.get('iss') });

    // 5. The app redeems the code: an OIDC ID token whose sub is the NameID the app always knew.
    const tokens = await client.authorizationCodeGrant(app, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    const idToken = tokens.id_token!;
    show('5. The broker\'s OIDC ID token: sub is the persistent NameID, claims from the SAML attributes', decoded(idToken));
    const userinfo = await client.fetchUserInfo(app, tokens.access_token, ALICE.nameId);
    show('   /userinfo', userinfo);

    await idJagToApi({ app, idToken, todo: TODO, todoApi: TODO_API, atTodo: AT_TODO, firstStep: 6, exchangeLabel: 'Token exchange response from the broker', idJagNote: 'The ID-JAG: alice is "todo-user-1001" at the Todo AS; todos.write was refused by policy (no MFA)' });

    show('   The broker audit log (newest last)', (await broker.services.store.audit.recent(3)).reverse());
  } finally {
    servers.close();
  }
}

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  if (err && typeof err === 'object' && 'code' in err && err.code === 'EADDRINUSE') {
    console.error(`a port (${PORTS.broker}, ${PORTS.idp} or ${PORTS.todo}) is in use: stop \`npm start\` or the other demo first`);
  }
  process.exit(1);
});
