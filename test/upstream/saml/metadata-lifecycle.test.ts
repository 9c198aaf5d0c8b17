import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createBroker, type Broker } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/load.js';
import type { BrokerConfigInput, NamespaceConfig } from '../../../src/config/schema.js';
import { SAML_METADATA_RETRY_AFTER } from '../../../src/constants.js';
import { nodeJws } from '../../../src/runtime/node-jws.js';
import { nodeSamlFactory, sharedSamlVerifierPool } from '../../../src/runtime/node-saml.js';
import { createSqliteStore, openSqlite } from '../../../src/store/adapters/sqlite.js';
import { BROKER, TEST_POLICIES, testNamespaces, testSettings } from '../../helpers/broker.js';
import { aggregate, idpEntity, signRoot } from '../../fixtures/saml/lifecycle/federation.js';
import { createSamlConnection, createSamlSubjectTokenVerifier, MemoryLoginTransactionStore } from '../../../src/upstream/saml/index.js';
import { appAssertionToken, appSpec, exchangeBody, SAML2_TYPE, SAML_TEST_AUTHORITY, subjectTokenNamespaces, WIKI_SP } from '../../exchange/subject-token-helpers.js';
import { defaultSpec, expectRefusal, IDP_ENTITY, idpResponse, makeKeyPair, MemoryReplayStore, NOW, SP_ENTITY, testKeys, type KeyPair } from './helpers.js';

/**
 * The metadata lifecycle through the broker (createBroker with the Node runtime's SAML factory,
 * so verification runs on the worker-thread pool): IdP metadata from a URL served by the test,
 * the broker's clock moved by the test, real responses signed by samlify, posted to the ACS.
 */

const METADATA_URL = 'https://idp.example.test/metadata';
const ACS_URL = `${BROKER}/login/saml/corp/acs`;
const root = join(import.meta.dirname, '../../..');

let keys: Awaited<ReturnType<typeof testKeys>>;
let federationKey: KeyPair;
beforeAll(async () => {
  keys = await testKeys();
  federationKey = await makeKeyPair('Test Federation metadata signer');
});

/** The test IdP's metadata (its entity id is the one the responses carry), with these signing certificates. */
function metadata(certs: string[], o: { validUntil?: number; cacheDuration?: string } = {}): string {
  return idpEntity({ entityId: IDP_ENTITY, signing: certs, sso: { redirect: 'https://idp.example.test/sso/redirect', post: 'https://idp.example.test/sso/post' }, ...o });
}

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

interface LifecycleBroker extends Broker {
  clock: { now: number };
  host: { body: string | Error; fetches: number };
  lines: LogLine[];
  db: ReturnType<typeof openSqlite>;
  /** Posts an unsolicited response signed by `key` to the ACS, as the IdP's browser form would. */
  login(key: KeyPair): Promise<Response>;
  /** The refusal summaries written so far (flushed first). */
  refusals(): Promise<Record<string, unknown>[]>;
}

async function startBroker(
  initial: string,
  connection: Record<string, unknown> = {},
  o: { settings?: (s: BrokerConfigInput) => void; namespaces?: NamespaceConfig[]; subjectTokens?: boolean } = {},
): Promise<LifecycleBroker> {
  const settings: BrokerConfigInput = await testSettings((s) => {
    s.connections = [
      {
        type: 'saml',
        id: 'corp',
        sp_entity_id: SP_ENTITY,
        acs_url: ACS_URL,
        idp_metadata_url: METADATA_URL,
        allow_idp_initiated: true,
        authority: { email: { domains: ['example.com'], verified: 'always' }, claims: ['name', 'given_name', 'family_name'] },
        ...connection,
      } as NonNullable<BrokerConfigInput['connections']>[number],
    ];
    o.settings?.(s);
  });
  const config = loadConfig({
    broker: { path: 'broker.config.yaml', text: stringify(settings) },
    mappings: (o.namespaces ?? testNamespaces).map((ns) => ({ path: `mappings/${ns.namespace}.yaml`, text: stringify(ns) })),
    policies: [{ path: 'policies/test.cedar', text: TEST_POLICIES }],
    schema: { path: 'policies/xaa.cedarschema', text: readFileSync(join(root, 'policies/xaa.cedarschema'), 'utf8') },
  });
  const clock = { now: NOW };
  const host: { body: string | Error; fetches: number } = { body: initial, fetches: 0 };
  const lines: LogLine[] = [];
  const write = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  const db = openSqlite(':memory:');
  const broker = await createBroker({
    config,
    store: createSqliteStore(db),
    cedar,
    clock: () => clock.now,
    logger: { info: write('info'), warn: write('warn'), error: write('error') },
    jws: nodeJws,
    saml: nodeSamlFactory,
    ...(o.subjectTokens ? { samlSubjectTokens: createSamlSubjectTokenVerifier } : {}),
    fetch: (async (input: RequestInfo | URL) => {
      if (String(input instanceof Request ? input.url : input) !== METADATA_URL) return new Response('not found', { status: 404 });
      host.fetches++;
      if (host.body instanceof Error) throw host.body;
      return new Response(host.body, { status: 200, headers: { 'content-type': 'application/samlmetadata+xml' } });
    }) as typeof fetch,
  });
  return {
    ...broker,
    clock,
    host,
    lines,
    db,
    async login(key) {
      const now = clock.now;
      const spec = defaultSpec({ destination: ACS_URL, recipient: ACS_URL, issueInstant: now - 5, notBefore: now - 5, notOnOrAfter: now + 300, scdNotOnOrAfter: now + 300, authnInstant: now - 10 });
      const form = new URLSearchParams({ SAMLResponse: await idpResponse(spec, { key }) });
      return broker.app.request(ACS_URL, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    },
    async refusals() {
      await broker.maintenance.flush({ final: true });
      return (db.prepare("SELECT record FROM audit_log WHERE event = 'refusal_summary' ORDER BY rowid").pluck().all() as string[]).map((r) => JSON.parse(r) as Record<string, unknown>);
    },
  };
}

/** The IdP-initiated login completed: the broker set its session cookie. */
const signedIn = (res: Response) => res.status === 200 && res.headers.getSetCookie().some((c) => c.includes('xaa-session='));

describe('certificate rollover in IdP metadata takes effect without a restart', () => {
  it('a key added by a refresh verifies; a key removed by a later refresh is refused', async () => {
    const b = await startBroker(metadata([keys.idp.cert], { cacheDuration: 'PT1H' }));
    expect(signedIn(await b.login(keys.idp))).toBe(true);
    // The IdP starts signing with its next key before the broker has seen it: refused.
    const early = await b.login(keys.idp2);
    expect(early.status).toBe(400);

    // The IdP publishes both keys; within the hour the broker still has the old copy.
    b.host.body = metadata([keys.idp.cert, keys.idp2.cert], { cacheDuration: 'PT1H' });
    b.clock.now += 1800;
    expect((await b.login(keys.idp2)).status).toBe(400);
    expect(b.host.fetches).toBe(1);
    // After cacheDuration the next login fetches the new copy first: both keys verify, on the verification threads.
    b.clock.now += 1800;
    expect(signedIn(await b.login(keys.idp2))).toBe(true);
    expect(b.host.fetches).toBe(2);
    expect(signedIn(await b.login(keys.idp))).toBe(true);

    // The old key is retired from the metadata: responses it signs are refused from the next copy on.
    b.host.body = metadata([keys.idp2.cert], { cacheDuration: 'PT1H' });
    b.clock.now += 3600;
    expect((await b.login(keys.idp)).status).toBe(400);
    expect(signedIn(await b.login(keys.idp2))).toBe(true);
    expect(b.host.fetches).toBe(3);

    // The three refusals (each in its own summary interval, the clock having moved on).
    const reasons = (await b.refusals()).map((r) => String(r.detail));
    expect(reasons).toHaveLength(3);
    for (const r of reasons) expect(r).toMatch(/^connection=corp reason=signature_untrusted/);
    expect(b.lines.filter((l) => l.fields.event === 'saml_metadata_refreshed')).toHaveLength(2);
  });

  it('replaced metadata is released from the verification pool once no login uses it', async () => {
    const pool = sharedSamlVerifierPool();
    const b = await startBroker(metadata([keys.idp.cert], { cacheDuration: 'PT1H' }));
    expect(signedIn(await b.login(keys.idp))).toBe(true);
    const before = pool.setupCount();
    for (let i = 0; i < 3; i++) {
      b.host.body = metadata(i % 2 === 0 ? [keys.idp.cert, keys.idp2.cert] : [keys.idp.cert], { cacheDuration: 'PT1H' });
      b.clock.now += 3600;
      expect(signedIn(await b.login(keys.idp))).toBe(true);
    }
    expect(b.host.fetches).toBe(4);
    expect(pool.setupCount()).toBe(before);
  });
});

describe('validUntil', () => {
  it('a connection whose metadata expired refuses logins with metadata_expired until a fresh copy arrives', async () => {
    const b = await startBroker(metadata([keys.idp.cert], { validUntil: NOW + 3600, cacheDuration: 'P1D' }));
    expect(signedIn(await b.login(keys.idp))).toBe(true);
    b.host.body = new Error('connect ECONNREFUSED 192.0.2.1:443');
    b.clock.now = NOW + 3600;
    const refused = await b.login(keys.idp);
    expect(refused.status).toBe(400);
    expect((await b.refusals()).at(-1)).toMatchObject({
      reason: 'login_failed',
      detail: expect.stringMatching(/^connection=corp reason=metadata_expired detail=validUntil .* has passed; last refresh failed: metadata fetch failed: connect ECONNREFUSED/),
    });

    b.host.body = metadata([keys.idp.cert], { validUntil: NOW + 5 * 86_400, cacheDuration: 'P1D' });
    b.clock.now += SAML_METADATA_RETRY_AFTER;
    expect(signedIn(await b.login(keys.idp))).toBe(true);
  });
});

describe('validUntil at the login start', () => {
  it('an expired copy refuses the login start too: the browser is not sent to an IdP the broker cannot trust', async () => {
    const clock = { now: NOW };
    let body: string | Error = metadata([keys.idp.cert], { validUntil: NOW + 600 });
    const conn = await createSamlConnection(
      { id: 'corp', sp_entity_id: SP_ENTITY, acs_url: ACS_URL, idp_metadata_url: METADATA_URL },
      {
        replay: new MemoryReplayStore(),
        transactions: new MemoryLoginTransactionStore(),
        clock: () => clock.now,
        fetch: (async () => {
          if (body instanceof Error) throw body;
          return new Response(body);
        }) as unknown as typeof fetch,
      },
    );
    expect((await conn.startLogin({ binding: 'redirect', browserBinding: 'b' })).redirectUrl).toMatch(/^https:\/\/idp\.example\.test\/sso\/redirect\?SAMLRequest=/);
    body = new Error('connect ETIMEDOUT');
    clock.now = NOW + 600;
    const refusal = await expectRefusal(conn.startLogin({ binding: 'redirect', browserBinding: 'b' }), 'metadata_expired');
    expect(refusal.transactionConsumed).toBe(false);
    expect(conn.metadata.status(clock.now)).toMatchObject({ state: 'expired', lastFailure: { reason: 'metadata fetch failed: connect ETIMEDOUT' } });
  });
});

describe('a failed refresh keeps the last good copy, and the operator sees why', () => {
  it('the maintenance run refreshes when due, logs the connection and the reason, and reports the status', async () => {
    const b = await startBroker(metadata([keys.idp.cert], { cacheDuration: 'PT1H', validUntil: NOW + 7 * 86_400 }));
    b.host.body = '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="truncated';
    b.clock.now += 3600;
    const run = await b.maintenance.run();
    expect(b.host.fetches).toBe(2);
    expect(run.metadata).toEqual([
      expect.objectContaining({ connection: 'corp', source: 'url', state: 'stale', validUntil: NOW + 7 * 86_400, lastFailure: { at: b.clock.now, reason: expect.stringMatching(/^metadata refused: xml_malformed/) } }),
    ]);
    expect(b.lines).toContainEqual(expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ event: 'saml_metadata_refresh_failed', connection: 'corp', reason: expect.stringMatching(/xml_malformed/) }) }));
    expect(b.lines).toContainEqual(expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ event: 'saml_metadata', connection: 'corp', state: 'stale' }) }));
    // Logins go on with the last good copy.
    expect(signedIn(await b.login(keys.idp))).toBe(true);

    // The next run after the retry delay picks up a good copy; the status is current again.
    b.host.body = metadata([keys.idp.cert, keys.idp2.cert], { cacheDuration: 'PT1H', validUntil: NOW + 7 * 86_400 });
    b.clock.now += SAML_METADATA_RETRY_AFTER;
    const again = await b.maintenance.run();
    expect(again.metadata).toEqual([expect.objectContaining({ connection: 'corp', state: 'current', signingKeys: 2 })]);
    expect(again.metadata[0]!.lastFailure).toBeUndefined();
    expect(signedIn(await b.login(keys.idp2))).toBe(true);
  });

  it('a maintenance run before the copy is due fetches nothing', async () => {
    const b = await startBroker(metadata([keys.idp.cert], { cacheDuration: 'PT1H' }));
    b.clock.now += 3599;
    expect((await b.maintenance.run()).metadata).toEqual([expect.objectContaining({ connection: 'corp', state: 'current', nextRefreshAt: NOW + 3600 })]);
    expect(b.host.fetches).toBe(1);
  });
});

describe('a signed federation aggregate from a URL', () => {
  function signedAggregate(certs: string[]): string {
    return signRoot(
      aggregate({
        id: `_fed${Math.random().toString(16).slice(2)}`,
        publicationInstant: NOW,
        validUntil: NOW + 14 * 86_400,
        cacheDuration: 'PT6H',
        entities: [idpEntity({ entityId: 'https://other.example.org/idp/shibboleth', signing: [keys.attacker.cert] }), metadata(certs)],
      }),
      federationKey,
    );
  }

  it('is used only under the configured signer; a badly signed refresh leaves the last good copy in use', async () => {
    const b = await startBroker(signedAggregate([keys.idp.cert]), { idp_entity_id: IDP_ENTITY, metadata_signing_certificate: federationKey.cert });
    expect(signedIn(await b.login(keys.idp))).toBe(true);
    // A forged refresh listing the attacker's key, signed by someone else.
    b.host.body = signRoot(aggregate({ id: '_forged', publicationInstant: NOW, entities: [metadata([keys.attacker.cert])] }), keys.attacker);
    b.clock.now += 6 * 3600;
    expect((await b.login(keys.attacker)).status).toBe(400);
    expect(signedIn(await b.login(keys.idp))).toBe(true);
    expect(b.lines).toContainEqual(expect.objectContaining({ fields: expect.objectContaining({ event: 'saml_metadata_refresh_failed', connection: 'corp', reason: expect.stringMatching(/signature_untrusted/) }) }));
  });

  it('an unsigned aggregate from a URL stops the connection at start', async () => {
    const unsigned = aggregate({ id: '_u', publicationInstant: NOW, entities: [metadata([keys.idp.cert])] });
    await expect(startBroker(unsigned, { idp_entity_id: IDP_ENTITY })).rejects.toThrow(/must be signed: configure metadata_signing_certificate/);
  });
});

describe('saml2 subject tokens verify against the same refreshed metadata', () => {
  it('an assertion signed by a key the metadata adds is accepted after the refresh; one signed by a removed key is refused', async () => {
    const b = await startBroker(
      metadata([keys.idp.cert], { cacheDuration: 'PT1H' }),
      { authority: SAML_TEST_AUTHORITY },
      {
        namespaces: subjectTokenNamespaces,
        subjectTokens: true,
        settings: (s) => {
          s.clients!.find((c) => c.client_id === 'wiki-agent')!.saml_audiences = { corp: WIKI_SP };
        },
      },
    );
    const exchange = async (key: KeyPair) => {
      const now = b.clock.now;
      const token = await appAssertionToken(appSpec({ issueInstant: now - 5, notBefore: now - 5, notOnOrAfter: now + 300, scdNotOnOrAfter: now + 300, authnInstant: now - 10 }), { key });
      return b.app.request(`${BROKER}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(exchangeBody(token, SAML2_TYPE)).toString() });
    };
    expect((await exchange(keys.idp)).status).toBe(200);
    expect((await exchange(keys.idp2)).status).toBe(400);
    b.host.body = metadata([keys.idp2.cert], { cacheDuration: 'PT1H' });
    b.clock.now += 3600;
    expect((await exchange(keys.idp2)).status).toBe(200);
    const old = await exchange(keys.idp);
    expect(old.status).toBe(400);
    expect(await old.json()).toMatchObject({ error: 'invalid_grant' });
  });
});

describe("a refreshed copy passes start-up's checks (validateIdp)", () => {
  async function connection(sso: { redirect?: string; post?: string }, extra: Record<string, unknown> = {}) {
    const clock = { now: NOW };
    const host = { body: idpEntity({ entityId: IDP_ENTITY, signing: [keys.idp.cert], sso, cacheDuration: 'PT1H' }) };
    const conn = await createSamlConnection(
      { id: 'corp', sp_entity_id: SP_ENTITY, acs_url: ACS_URL, idp_metadata_url: METADATA_URL, ...extra },
      {
        replay: new MemoryReplayStore(),
        transactions: new MemoryLoginTransactionStore(),
        clock: () => clock.now,
        fetch: (async () => new Response(host.body)) as unknown as typeof fetch,
      },
    );
    const publish = (next: { redirect?: string; post?: string }) => {
      host.body = idpEntity({ entityId: IDP_ENTITY, signing: [keys.idp.cert], sso: next, cacheDuration: 'PT1H' });
      clock.now += 3600;
    };
    return { conn, clock, publish };
  }
  const both = { redirect: 'https://idp.example.test/sso/redirect', post: 'https://idp.example.test/sso/post' };

  it('an http SSO URL on a public host in a refresh is a failed refresh: logins keep the last good copy', async () => {
    const { conn, clock, publish } = await connection(both);
    publish({ redirect: 'http://idp.example.test/sso/redirect', post: both.post });
    const started = await conn.startLogin({ browserBinding: 'b' });
    expect(started.redirectUrl).toMatch(/^https:\/\/idp\.example\.test\/sso\/redirect\?SAMLRequest=/);
    expect(conn.metadata.status(clock.now)).toMatchObject({ state: 'stale', lastFailure: { reason: expect.stringContaining('SingleSignOnService Location http://idp.example.test/sso/redirect') } });
  });

  it('the default binding follows the copy in use: an IdP that drops HTTP-Redirect is reached by POST', async () => {
    const { conn, publish } = await connection(both);
    expect(conn.ssoBinding).toBe('redirect');
    publish({ post: both.post });
    const started = await conn.startLogin({ browserBinding: 'b' });
    expect(started.postForm?.action).toBe(both.post);
    expect(conn.ssoBinding).toBe('post');
  });

  it('a refresh that drops the configured sso_binding is a failed refresh', async () => {
    const { conn, clock, publish } = await connection(both, { sso_binding: 'redirect' });
    publish({ post: both.post });
    expect((await conn.startLogin({ browserBinding: 'b' })).redirectUrl).toMatch(/^https:\/\/idp\.example\.test\/sso\/redirect\?/);
    expect(conn.metadata.status(clock.now)).toMatchObject({ state: 'stale', lastFailure: { reason: 'sso_binding is redirect but the IdP metadata offers no HTTP-Redirect SingleSignOnService' } });
  });
});
