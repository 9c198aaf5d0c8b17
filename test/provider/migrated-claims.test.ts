import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { decodeJwt } from 'jose';
import { parseAllDocuments, stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBroker, type Broker } from '../../src/app.js';
import { hashSecret } from '../../src/clients/secrets.js';
import { importSpMetadata, toYaml } from '../../src/migration/import-sp-metadata.js';
import { parseLegacyAssertion } from '../../src/migration/legacy-assertion.js';
import { loadConfigFromDisk } from '../../src/runtime/config-files.js';
import { nodeSamlFactory } from '../../src/runtime/node-saml.js';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';
import { ALG, defaultSpec, DIGEST, encode, idpMetadata, IDP_ENTITY, makeKeyPair, responseXml, PERSISTENT, SSO_REDIRECT, xmlCryptoSign, type KeyPair } from '../upstream/saml/helpers.js';
import { FIXTURES } from '../migration/saml-fixtures.js';

/**
 * Item 3 of issue 10: what the import promises is what the app receives. The academic-federation
 * SP's draft (pairwise subject, every requested attribute in the default table, so no override)
 * is loaded as printed, the broker is built from it as `start` builds it, a user logs in through
 * the broker's OpenID Provider over a real (signed) SAML login, and the ID token and userinfo carry
 * every claim the draft lists, eduPerson ones included.
 */

const ISSUER = 'https://broker.example.org';
const CONNECTION = 'uni';
const SP_ENTITY_ID = `${ISSUER}/login/saml/${CONNECTION}/metadata`;
const ACS = `${ISSUER}/login/saml/${CONNECTION}/acs`;
const SECRET = 'wiki-secret-for-the-test';
const root = join(import.meta.dirname, '../..');

let broker: Broker;
let db: ReturnType<typeof openSqlite>;
/** The IdP's one key (a single RSA key: generating the helpers' five takes minutes on a busy machine). */
let idpKey: KeyPair;
let draftClaims: Array<{ claim: string; multi: boolean }>;
let client: { client_id: string; oidc: { redirect_uris: string[] } };
const legacy = parseLegacyAssertion(readFileSync(join(FIXTURES, 'assertions/shibboleth-eduperson.xml'), 'utf8'));

beforeAll(async () => {
  idpKey = await makeKeyPair('University IdP');
  const imported = importSpMetadata(readFileSync(join(FIXTURES, 'sp/academic-federation.xml'), 'utf8'));
  draftClaims = imported.requestedAttributes.filter((r) => r.claim !== null).map((r) => ({ claim: r.claim!, multi: r.multi ?? false }));
  const draft = toYaml(imported, { clientSecretHash: await hashSecret(SECRET, 10_000) });

  // The configuration an operator has (one SAML IdP), plus exactly the edits the draft asks for.
  const dir = mkdtempSync(join(tmpdir(), 'xaa-migrated-claims-'));
  mkdirSync(join(dir, 'mappings'));
  const [clientText, nsText] = draft.split(/^---$/m) as [string, string];
  const clients = parseAllDocuments(clientText)[0]!.toJS() as Array<typeof client>;
  client = clients[0]!;
  const file = /mappings\/(\S+\.yaml)/.exec(nsText)![1]!;
  writeFileSync(join(dir, 'mappings', file), nsText);
  const config = {
    issuer: ISSUER,
    policies_dir: join(root, 'policies'),
    connections: [{ type: 'saml', id: CONNECTION, sp_entity_id: SP_ENTITY_ID, acs_url: ACS, idp_metadata_xml: idpMetadata([idpKey.cert]) }],
    clients,
  };
  writeFileSync(join(dir, 'broker.config.yaml'), stringify(config));
  const { config: loaded } = loadConfigFromDisk(join(dir, 'broker.config.yaml'));
  db = openSqlite(':memory:');
  broker = await createBroker({ config: loaded, store: createSqliteStore(db), cedar, saml: nodeSamlFactory });
});

/** A browser's cookie jar over app.request. */
class Jar {
  readonly cookies = new Map<string, string>();
  async send(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await broker.app.request(url, { ...init, headers });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (/max-age=0/i.test(line)) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  }

  /** Follows redirects from `start` until `done` (at most 10 hops); fails on a response that is not a redirect. */
  async follow(start: string, done: (url: URL) => boolean): Promise<URL> {
    let url = new URL(start);
    for (let hop = 0; hop < 10 && !done(url); hop++) url = new URL(await redirectOf(await this.send(url.href)), url);
    expect(done(url), url.href).toBe(true);
    return url;
  }
}

async function redirectOf(res: Response): Promise<string> {
  const location = res.headers.get('location');
  if (res.status < 300 || res.status >= 400 || !location) {
    await broker.maintenance.flush({ final: true });
    const audit = db.prepare('SELECT record FROM audit_log ORDER BY seq DESC LIMIT 1').pluck().get();
    throw new Error(`expected a redirect, got ${res.status}: ${(await res.text()).slice(0, 200)}; last audit record: ${String(audit)}`);
  }
  return location;
}

describe('a migrated app receives the claims its import promised', () => {
  let payload: Record<string, unknown>;
  let userinfo: Record<string, unknown>;

  beforeAll(async () => {
    const browser = new Jar();
    const redirectUri = client.oidc.redirect_uris[0]!;
    const authorize = `${ISSUER}/authorize?${new URLSearchParams({ client_id: client.client_id, redirect_uri: redirectUri, response_type: 'code', scope: 'openid email profile', state: 's1', nonce: 'n1' })}`;

    // /authorize → (the one connection) → the IdP's SSO URL with a deflated AuthnRequest.
    let location = await browser.follow(authorize, (u) => u.origin !== ISSUER);
    expect(location.origin + location.pathname).toBe(SSO_REDIRECT);
    const request = inflateRawSync(Buffer.from(location.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
    const requestId = /\sID="([^"]+)"/.exec(request)![1]!;

    // The IdP answers with the attributes of the saved Shibboleth assertion fixture, signed.
    const spec = defaultSpec({
        inResponseTo: requestId,
        destination: ACS,
        audience: SP_ENTITY_ID,
        recipient: ACS,
        issuer: IDP_ENTITY,
        // The broker's connection is an SP of its own: the IdP gives it a persistent NameID (the
        // principal's key), whatever (here: transient) the legacy app received.
        nameId: 'Zm9yLXRoZS1icm9rZXItb25seQ',
        nameIdFormat: PERSISTENT,
        nameQualifier: IDP_ENTITY,
        spNameQualifier: SP_ENTITY_ID,
        attributes: legacy.attributes.map((a) => ({ name: a.name, values: a.values, ...(a.nameFormat ? { nameFormat: a.nameFormat } : {}), ...(a.friendlyName ? { friendlyName: a.friendlyName } : {}) })),
    });
    const samlResponse = encode(xmlCryptoSign(responseXml(spec), { key: idpKey, target: 'assertion', signatureAlgorithm: ALG.rsaSha256, digestAlgorithm: DIGEST.sha256 }));
    const res = await browser.send(ACS, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLResponse: samlResponse, RelayState: location.searchParams.get('RelayState')! }).toString(),
    });
    location = await browser.follow(await redirectOf(res), (u) => u.href.startsWith(redirectUri));
    const code = location.searchParams.get('code')!;

    const token = await broker.app.request(`${ISSUER}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(SECRET)}`)}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri }).toString(),
    });
    const tokens = (await token.json()) as { id_token: string; access_token: string };
    expect(token.status, JSON.stringify(tokens)).toBe(200);
    payload = decodeJwt(tokens.id_token);
    const info = await broker.app.request(`${ISSUER}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(info.status).toBe(200);
    userinfo = (await info.json()) as Record<string, unknown>;
  });

  it('the ID token carries every claim the draft lists, eduPerson ones included', () => {
    expect(draftClaims.map((c) => c.claim)).toEqual(expect.arrayContaining(['eduperson_principal_name', 'eduperson_scoped_affiliation']));
    for (const { claim, multi } of draftClaims) {
      expect(payload, claim).toHaveProperty(claim);
      expect(Array.isArray(payload[claim]), claim).toBe(multi);
    }
    expect(payload).toMatchObject({
      eduperson_principal_name: 'mcurie@uni-example.edu',
      eduperson_scoped_affiliation: ['faculty@uni-example.edu', 'member@uni-example.edu', 'employee@uni-example.edu'],
      email: 'marie.curie@physics.uni-example.edu',
      name: 'Marie Curie',
    });
  });

  it('userinfo carries the same claims', () => {
    for (const { claim } of draftClaims) {
      expect(userinfo, claim).toHaveProperty(claim);
      expect(userinfo[claim], claim).toEqual(payload[claim]);
    }
    expect(userinfo.sub).toBe(payload.sub);
  });
});
