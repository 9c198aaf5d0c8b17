import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { checkStartup } from '../../../src/runtime/check.js';
import { loadConfigFromDisk } from '../../../src/runtime/config-files.js';
import { checkSamlConnection, createSamlConnection, MemoryLoginTransactionStore, SamlConfigError, samlConnectionSchema, validateSamlConnection } from '../../../src/upstream/saml/index.js';
import { authorizeUrl, CookieJar, readPostForm, SAML_ACS, SAML_SP, samlBroker } from './broker.js';
import { BROWSER, decode, MemoryReplayStore, NOW, parseXml, testKeys } from './helpers.js';

/**
 * Issue 10 item 9 (IdP half): `check` and the login start over every IdP metadata fixture
 * (test/fixtures/saml/idp, README.md there says what each reproduces) and over every IdP of the
 * federation aggregate. What each fixture offers is written in the table below; the aggregate's
 * expectations are read from each entity's own XML.
 */

const DIR = join(import.meta.dirname, '../../fixtures/saml/idp');
const NS_DS = 'http://www.w3.org/2000/09/xmldsig#';

interface Fixture {
  file: string;
  entityId: string;
  /** Signing certificates the broker must trust (rollover: more than one). */
  signingKeys: number;
  /** The binding a login starts with, and where it goes. */
  binding: 'redirect' | 'post';
  sso: string;
  wantsSignedRequests: boolean;
}

const FIXTURES: Fixture[] = [
  { file: 'entra-like.xml', entityId: 'https://sts.windows.example/8d1b3c5e-0f2a-4b6c-9d7e-1a2b3c4d5e6f/', signingKeys: 2, binding: 'redirect', sso: 'https://login.microsoftonline.example/8d1b3c5e-0f2a-4b6c-9d7e-1a2b3c4d5e6f/saml2', wantsSignedRequests: false },
  { file: 'adfs-like.xml', entityId: 'http://adfs.contoso.example/adfs/services/trust', signingKeys: 1, binding: 'redirect', sso: 'https://adfs.contoso.example/adfs/ls/', wantsSignedRequests: false },
  { file: 'okta-like.xml', entityId: 'http://www.okta.example/exk1fixture0okta0app0', signingKeys: 1, binding: 'redirect', sso: 'https://corp-example.okta.example/app/corp-example_broker_1/exk1fixture0okta0app0/sso/saml', wantsSignedRequests: false },
  { file: 'google-like.xml', entityId: 'https://accounts.google.example/o/saml2?idpid=C0fixture1', signingKeys: 1, binding: 'post', sso: 'https://accounts.google.example/o/saml2/idp?idpid=C0fixture1', wantsSignedRequests: false },
  { file: 'onelogin-like.xml', entityId: 'https://app.onelogin.example/saml/metadata/4f1c2d3e-5a6b-7c8d-9e0f-onelogin0fix', signingKeys: 1, binding: 'post', sso: 'https://corp-example.onelogin.example/trust/saml2/http-post/sso/4f1c2d3e-5a6b-7c8d-9e0f-onelogin0fix', wantsSignedRequests: false },
  { file: 'shibboleth-like.xml', entityId: 'https://idp.uni.example/idp/shibboleth', signingKeys: 2, binding: 'redirect', sso: 'https://idp.uni.example/idp/profile/SAML2/Redirect/SSO', wantsSignedRequests: false },
  { file: 'keycloak-like.xml', entityId: 'https://sso.corp.example/realms/corp', signingKeys: 1, binding: 'redirect', sso: 'https://sso.corp.example/realms/corp/protocol/saml', wantsSignedRequests: true },
  { file: 'simplesamlphp-like.xml', entityId: 'https://idp.lab.example/simplesaml/saml2/idp/metadata.php', signingKeys: 1, binding: 'redirect', sso: 'https://idp.lab.example/simplesaml/saml2/idp/SSOService.php', wantsSignedRequests: false },
  { file: 'openam-like.xml', entityId: 'https://openam.corp.example:443/openam', signingKeys: 1, binding: 'redirect', sso: 'https://openam.corp.example:443/openam/SSORedirect/metaAlias/idp', wantsSignedRequests: false },
];

let keys: Awaited<ReturnType<typeof testKeys>>;
beforeAll(async () => {
  keys = await testKeys();
});

const signing = () => ({ sp_signing: { private_key: keys.spSigning.key, certificate: keys.spSigning.cert } });

/** The connection as an operator would write it for this IdP: a signing key only where the IdP wants signed requests. */
function connectionFor(file: string, wantsSigned: boolean, extra: Record<string, unknown> = {}) {
  return { id: 'corp', sp_entity_id: SAML_SP, acs_url: SAML_ACS, idp_metadata_file: join(DIR, file), ...(wantsSigned ? signing() : {}), ...extra };
}

/** The AuthnRequest a login start sent, whichever binding carried it, and whether it was signed. */
async function startedRequest(res: Response): Promise<{ binding: 'redirect' | 'post'; location: string; request: Element; signed: boolean }> {
  if (res.status === 302) {
    const raw = res.headers.get('location')!;
    const to = new URL(raw);
    const request = parseXml(inflateRawSync(Buffer.from(to.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8')).documentElement;
    // The SSO URL as published (":443" kept), before the binding's parameters.
    return { binding: 'redirect', location: raw.slice(0, raw.search(/[?&]SAMLRequest=/)), request, signed: to.searchParams.has('Signature') };
  }
  expect(res.status).toBe(200);
  const form = readPostForm(await res.text());
  const request = parseXml(decode(form.fields.SAMLRequest!)).documentElement;
  return { binding: 'post', location: form.action, request, signed: request.getElementsByTagNameNS(NS_DS, 'Signature').length === 1 };
}

describe.each(FIXTURES)('IdP metadata fixture $file', (f) => {
  it('passes check, with its signing keys, binding and request signing as published', async () => {
    expect(await checkSamlConnection(connectionFor(f.file, f.wantsSignedRequests))).toEqual({ metadata: 'validated' });
    const validated = validateSamlConnection(samlConnectionSchema.parse(connectionFor(f.file, f.wantsSignedRequests)), readFileSync(join(DIR, f.file), 'utf8'), Math.floor(Date.now() / 1000));
    expect(validated.idp.entityId).toBe(f.entityId);
    expect(validated.idp.signingKeys).toHaveLength(f.signingKeys);
    expect(validated.ssoBinding).toBe(f.binding);
    expect(validated.signRequests).toBe(f.wantsSignedRequests);
    if (f.wantsSignedRequests) {
      await expect(checkSamlConnection(connectionFor(f.file, false))).rejects.toThrow('the IdP wants signed AuthnRequests: configure sp_signing');
    }
  });

  it('login start at the broker sends the AuthnRequest to its SSO endpoint by the binding it offers', async () => {
    const b = await samlBroker(connectionFor(f.file, f.wantsSignedRequests));
    const started = await startedRequest(await new CookieJar(b).get(authorizeUrl()));
    expect(started.binding).toBe(f.binding);
    expect(started.location).toBe(f.sso);
    expect(started.request.getAttribute('Destination')).toBe(f.sso);
    expect(started.request.getAttribute('AssertionConsumerServiceURL')).toBe(SAML_ACS);
    expect(started.signed).toBe(f.wantsSignedRequests);
  });
});

describe('IdP metadata fixture federation-aggregate.xml: every IdP of the federation', () => {
  const xml = readFileSync(join(DIR, 'federation-aggregate.xml'), 'utf8');
  /** Each EntityDescriptor's own text, by entity id. */
  const entities = [...xml.matchAll(/<md:EntityDescriptor entityID="([^"]+)">([\s\S]*?)<\/md:EntityDescriptor>/g)].map((m) => ({ entityId: m[1]!, text: m[2]! }));
  const idps = entities.filter((e) => e.text.includes('<md:IDPSSODescriptor'));

  it('lists 39 IdPs and a few SPs, some POST-only, some Redirect-only, some with two signing keys', () => {
    expect(idps).toHaveLength(39);
    expect(entities.length).toBeGreaterThan(idps.length);
    expect(idps.filter((e) => !e.text.includes('HTTP-Redirect')).length).toBeGreaterThan(0);
    expect(idps.filter((e) => !e.text.includes('HTTP-POST')).length).toBeGreaterThan(0);
    expect(idps.filter((e) => (e.text.match(/use="signing"/g) ?? []).length === 2).length).toBeGreaterThan(0);
  });

  it('check and the login start work for each IdP picked by idp_entity_id', async () => {
    for (const idp of idps) {
      const wantsSigned = idp.text.includes('WantAuthnRequestsSigned="true"');
      const offersRedirect = idp.text.includes('bindings:HTTP-Redirect');
      const sso = new RegExp(`Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-${offersRedirect ? 'Redirect' : 'POST'}" Location="([^"]+)"`).exec(idp.text)![1]!;
      const input = connectionFor('federation-aggregate.xml', wantsSigned, { idp_entity_id: idp.entityId });
      expect(await checkSamlConnection(input), idp.entityId).toEqual({ metadata: 'validated' });

      const transactions = new MemoryLoginTransactionStore();
      const conn = await createSamlConnection(input, { replay: new MemoryReplayStore(), transactions, clock: () => NOW });
      expect(conn.idpEntityId).toBe(idp.entityId);
      expect(conn.ssoBinding, idp.entityId).toBe(offersRedirect ? 'redirect' : 'post');
      const started = await conn.startLogin({ browserBinding: BROWSER });
      if (offersRedirect) {
        expect(started.redirectUrl!.startsWith(`${sso}?SAMLRequest=`), idp.entityId).toBe(true);
      } else {
        expect(started.postForm!.action).toBe(sso);
        expect(parseXml(decode(started.postForm!.fields.SAMLRequest!)).documentElement.getAttribute('Destination')).toBe(sso);
      }
      expect(transactions.has(started.transactionId)).toBe(true);
    }
  }, 60_000);

  it('an SP of the aggregate is not an IdP: picking it is refused', async () => {
    const sp = entities.find((e) => !e.text.includes('<md:IDPSSODescriptor'))!;
    const err = await checkSamlConnection(connectionFor('federation-aggregate.xml', false, { idp_entity_id: sp.entityId })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SamlConfigError);
    expect((err as Error).message).toBe(`SAML connection corp: IdP entity ${sp.entityId} not found (or found twice)`);
  });
});

describe('npm run check over a configuration with a connection per fixture', () => {
  it('finds no problem: every fixture, and every IdP of the aggregate, loads as start-up would load it', async () => {
    const root = join(import.meta.dirname, '../../..');
    const aggregate = [...readFileSync(join(DIR, 'federation-aggregate.xml'), 'utf8').matchAll(/<md:EntityDescriptor entityID="([^"]+)">([\s\S]*?)<\/md:EntityDescriptor>/g)].filter((m) => m[2]!.includes('<md:IDPSSODescriptor'));
    const entries = [
      ...FIXTURES.map((f) => ({ file: f.file, wantsSigned: f.wantsSignedRequests })),
      ...aggregate.map((m) => ({ file: 'federation-aggregate.xml', wantsSigned: m[2]!.includes('WantAuthnRequestsSigned="true"'), entityId: m[1]! })),
    ];
    const doc = parseDocument(readFileSync(join(root, 'broker.config.yaml'), 'utf8'));
    doc.set('mappings_dir', join(root, 'mappings'));
    doc.set('policies_dir', join(root, 'policies'));
    doc.set(
      'connections',
      entries.map((e, i) => ({
        type: 'saml',
        id: `idp${i}`,
        sp_entity_id: `https://broker.example.test/login/saml/idp${i}/metadata`,
        acs_url: `https://broker.example.test/login/saml/idp${i}/acs`,
        idp_metadata_file: join(DIR, e.file),
        ...('entityId' in e ? { idp_entity_id: e.entityId } : {}),
        ...(e.wantsSigned ? signing() : {}),
      })),
    );
    const configFile = join(mkdtempSync(join(tmpdir(), 'xaa-fixtures-')), 'broker.config.yaml');
    writeFileSync(configFile, String(doc));
    const { config } = loadConfigFromDisk(configFile);
    expect(config.settings.connections).toHaveLength(FIXTURES.length + 39);
    expect(await checkStartup(config, 'broker.config.yaml')).toEqual({ problems: [], notes: [] });
  });
});

describe('metadata shapes refused, with the reason', () => {
  const okta = () => readFileSync(join(DIR, 'okta-like.xml'), 'utf8');
  const refusal = (xml: string) => checkSamlConnection({ id: 'corp', sp_entity_id: SAML_SP, acs_url: SAML_ACS, idp_metadata_xml: xml }).then(
    () => 'accepted',
    (e: unknown) => (e instanceof SamlConfigError ? e.message : `unexpected ${String(e)}`),
  );

  it('a document without the SAML metadata namespace says so', async () => {
    const bare = okta().replace(` xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"`, '').replace(/<(\/?)md:/g, '<$1');
    expect(await refusal(bare)).toBe('SAML connection corp: the root element EntityDescriptor is not in the SAML metadata namespace (urn:oasis:names:tc:SAML:2.0:metadata)');
  });

  it('a prefix bound to no namespace (md: never declared) says so, rather than finding no certificate', async () => {
    const unbound = okta().replace('<md:KeyDescriptor', '<md2:KeyDescriptor').replace('</md:KeyDescriptor>', '</md2:KeyDescriptor>');
    expect(await refusal(unbound)).toBe('SAML connection corp: the element md2:KeyDescriptor uses a prefix bound to no namespace');
  });
});
