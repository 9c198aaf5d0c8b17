/**
 * Resource-pulled profile (docs/profiles/pulled.md), through the broker's token endpoint: a client
 * gets an opaque ID-JAG reference; the destination's back-channel client redeems it once, for the
 * destination it was issued for, and the broker decides again at that moment. Every rule broken alone.
 */
import { decodeJwt } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { ID_JAG_REFERENCE_LIFETIME } from '../../src/constants.js';
import { ID_JAG_REFERENCE_TOKEN_TYPE } from '../../src/exchange/pulled.js';
import { randomToken, sha256Base64url } from '../../src/provider/crypto.js';
import type { AuditRecord } from '../../src/store/ports.js';
import { CRM, exchangeParams, ID_JAG_TYPE, postToken, SECRET, startTestBroker, TODO, TODO_API, TOKEN_EXCHANGE, type TestBroker } from '../helpers/broker.js';
import { pulledSettings } from './pulled-helpers.js';
import { appAssertionToken, exchange, issueRefreshToken, login, REFRESH_TOKEN_TYPE, SAML2_TYPE, startSubjectTokenBroker } from './subject-token-helpers.js';

const TODO_AS = { client_id: 'todo-as', client_secret: SECRET };
const CRM_AS = { client_id: 'crm-as', client_secret: SECRET };

async function askReference(b: TestBroker, overrides: Record<string, string | string[] | undefined> = {}) {
  return postToken(b, await exchangeParams(b, { requested_token_type: ID_JAG_REFERENCE_TOKEN_TYPE, ...overrides }));
}

async function reference(b: TestBroker, overrides: Record<string, string | string[] | undefined> = {}): Promise<{ access_token: string; scope: string; expires_in: number }> {
  const res = await askReference(b, overrides);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as { access_token: string; scope: string; expires_in: number };
}

function redemption(ref: string, by: { client_id: string; client_secret: string } = TODO_AS, extra: Record<string, string> = {}) {
  return {
    grant_type: TOKEN_EXCHANGE,
    requested_token_type: ID_JAG_TYPE,
    subject_token: ref,
    subject_token_type: ID_JAG_REFERENCE_TOKEN_TYPE,
    ...by,
    ...extra,
  };
}

function references(b: TestBroker) {
  return b.db.prepare('SELECT * FROM id_jag_references ORDER BY rowid').all() as Array<{ reference_hash: string; record: string; expires_at: number; consumed_at: number | null }>;
}

function state(b: TestBroker) {
  const tables: Record<string, unknown[]> = {};
  for (const t of ['id_jag_references', 'subject_bindings', 'replay', 'sessions', 'principals']) tables[t] = b.db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all();
  return { tables, audit: b.db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number };
}

/** A refusal: its wire shape, its audit record (reason), and whether the store changed. */
async function refused(b: TestBroker, params: Record<string, string | string[]>, e: { error: string; reason: string; status?: number; changes?: boolean }): Promise<AuditRecord> {
  const before = state(b);
  const res = await postToken(b, params);
  const text = await res.text();
  expect(res.status, text).toBe(e.status ?? 400);
  expect(JSON.parse(text).error, text).toBe(e.error);
  expect(text).not.toContain(e.reason);
  const after = state(b);
  if (!e.changes) expect(after.tables).toEqual(before.tables);
  expect(after.audit).toBe(before.audit + 1);
  const [record] = await b.services.store.audit.recent(1);
  expect(record).toMatchObject({ event: 'refusal', reason: e.reason });
  expect(record).not.toHaveProperty('jti');
  return record!;
}

describe('resource-pulled profile: ID-JAG references', () => {
  let b: TestBroker;
  beforeEach(async () => {
    b = await startTestBroker({ settings: await pulledSettings() });
  });

  describe('the token type', () => {
    it('is an absolute URI, advertised in the broker metadata beside the ID-JAG type', async () => {
      expect(new URL(ID_JAG_REFERENCE_TOKEN_TYPE).protocol).toBe('https:');
      const metadata = (await (await b.request('/.well-known/oauth-authorization-server')).json()) as Record<string, string[]>;
      expect(metadata.id_jag_reference_token_types_supported).toEqual([ID_JAG_REFERENCE_TOKEN_TYPE]);
      expect(metadata.identity_chaining_requested_token_types_supported).toEqual([ID_JAG_TYPE]);
    });
  });

  describe('issue (client → broker)', () => {
    it('answers an opaque, single-use reference (≥128 random bits, ≤60 s), stored by hash only, audited with its id', async () => {
      const res = await askReference(b);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toEqual({ access_token: expect.any(String), issued_token_type: ID_JAG_REFERENCE_TOKEN_TYPE, token_type: 'N_A', expires_in: ID_JAG_REFERENCE_LIFETIME, scope: 'todos.read' });
      expect(ID_JAG_REFERENCE_LIFETIME).toBeLessThanOrEqual(60);
      const ref = body.access_token as string;
      // 43 base64url characters = 256 bits; no dots: not a JWT, no claims.
      expect(ref).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const [row] = references(b);
      expect(row!.reference_hash).toBe(await sha256Base64url(ref));
      expect(JSON.stringify(row)).not.toContain(ref);
      expect(row!.expires_at).toBe(b.clock.now + ID_JAG_REFERENCE_LIFETIME);
      const stored = JSON.parse(row!.record) as Record<string, unknown>;
      expect(stored).toMatchObject({ clientId: 'wiki-agent', destination: 'todo', resources: [TODO_API], scopes: ['todos.read'] });
      // The destination's subject is decided at redemption, not stored with the reference.
      expect(row!.record).not.toContain('todo-user-1001');
      const [audit] = await b.services.store.audit.recent(1);
      expect(audit).toMatchObject({ event: 'reference', clientId: 'wiki-agent', destination: 'todo', reference: stored.id, grantedScopes: ['todos.read'] });
      expect(JSON.stringify(audit)).not.toContain(ref);
    });

    it('two references are never equal', async () => {
      const [a, c] = await Promise.all([reference(b), reference(b)]);
      expect(a.access_token).not.toBe(c.access_token);
    });

    it('runs every step of the pushed exchange first: a scope policy refuses is refused, nothing stored', async () => {
      await refused(b, await exchangeParams(b, { requested_token_type: ID_JAG_REFERENCE_TOKEN_TYPE, scope: 'todos.write' }), { error: 'access_denied', reason: 'policy_denied' });
    });

    it('is refused for a destination without a back-channel client: nobody could redeem it', async () => {
      const plain = await startTestBroker({ settings: await pulledSettings((s) => delete s.destinations!.find((d) => d.id === 'todo')!.backchannel_client) });
      await refused(plain, await exchangeParams(plain, { requested_token_type: ID_JAG_REFERENCE_TOKEN_TYPE }), { error: 'invalid_target', reason: 'destination_not_pulled' });
    });
  });

  describe('redemption (destination → broker)', () => {
    it('returns the ID-JAG to the destination’s back-channel client: aud that destination, client_id the original client’s there', async () => {
      const ref = await reference(b);
      const res = await postToken(b, redemption(ref.access_token));
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({ issued_token_type: ID_JAG_TYPE, token_type: 'N_A', scope: 'todos.read' });
      const claims = decodeJwt(body.access_token as string);
      expect(claims).toMatchObject({ iss: 'https://broker.test', aud: TODO, sub: 'todo-user-1001', client_id: 'wiki-at-todo', scope: 'todos.read', resource: TODO_API });
      const [audit] = await b.services.store.audit.recent(1);
      const id = (JSON.parse(references(b)[0]!.record) as { id: string }).id;
      expect(audit).toMatchObject({ event: 'mint', clientId: 'todo-as', forClient: 'wiki-agent', reference: id, destination: 'todo', jti: claims.jti });
      expect(references(b)[0]!.consumed_at).toBe(b.clock.now);
    });

    it('is single use: a second redemption is invalid_grant (reference_replayed)', async () => {
      const ref = await reference(b);
      expect((await postToken(b, redemption(ref.access_token))).status).toBe(200);
      await refused(b, redemption(ref.access_token), { error: 'invalid_grant', reason: 'reference_replayed' });
    });

    it('of two concurrent redemptions exactly one wins', async () => {
      const ref = await reference(b);
      const results = await Promise.all(Array.from({ length: 4 }, () => postToken(b, redemption(ref.access_token))));
      expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400]);
      const mints = (await b.services.store.audit.recent(10)).filter((r) => r.event === 'mint');
      expect(mints).toHaveLength(1);
    });

    it('expires: past its lifetime it is invalid_grant (reference_expired) and is not consumed', async () => {
      const ref = await reference(b);
      b.clock.now += ID_JAG_REFERENCE_LIFETIME;
      await refused(b, redemption(ref.access_token), { error: 'invalid_grant', reason: 'reference_expired' });
      expect(references(b)[0]!.consumed_at).toBeNull();
    });

    it('a reference this broker never issued (forged, foreign) is invalid_grant (reference_unknown)', async () => {
      await refused(b, redemption(randomToken()), { error: 'invalid_grant', reason: 'reference_unknown' });
    });

    it('anything a reference cannot look like is invalid_grant (reference_malformed), unhashed', async () => {
      await refused(b, redemption('not-a-reference'), { error: 'invalid_grant', reason: 'reference_malformed' });
      await refused(b, redemption('a'.repeat(300)), { error: 'invalid_grant', reason: 'reference_malformed' });
    });

    it('presented by another destination: refused (reference_wrong_destination) and burned for the right one', async () => {
      const ref = await reference(b);
      const record = await refused(b, redemption(ref.access_token, CRM_AS), { error: 'invalid_grant', reason: 'reference_wrong_destination', changes: true });
      expect(record).toMatchObject({ clientId: 'crm-as', destination: 'todo', forClient: 'wiki-agent' });
      expect(references(b)[0]!.consumed_at).toBe(b.clock.now);
      await refused(b, redemption(ref.access_token), { error: 'invalid_grant', reason: 'reference_replayed' });
    });

    it('presented by the client it was issued to (which must never see the destination subject): refused and burned', async () => {
      const ref = await reference(b);
      await refused(b, redemption(ref.access_token, { client_id: 'wiki-agent', client_secret: SECRET }), { error: 'invalid_grant', reason: 'reference_wrong_destination', changes: true });
      await refused(b, redemption(ref.access_token), { error: 'invalid_grant', reason: 'reference_replayed' });
    });

    it('audience, resource or scope at redemption are refused (the reference binds them), and the reference is not spent', async () => {
      const ref = await reference(b);
      await refused(b, redemption(ref.access_token, TODO_AS, { audience: CRM }), { error: 'invalid_request', reason: 'reference_parameter_not_allowed' });
      await refused(b, redemption(ref.access_token, TODO_AS, { scope: 'todos.write' }), { error: 'invalid_request', reason: 'reference_parameter_not_allowed' });
      await refused(b, redemption(ref.access_token, TODO_AS, { resource: TODO_API }), { error: 'invalid_request', reason: 'reference_parameter_not_allowed' });
      expect((await postToken(b, redemption(ref.access_token))).status).toBe(200);
    });

    it('asks for an ID-JAG, nothing else: another requested_token_type is invalid_request and spends nothing', async () => {
      const ref = await reference(b);
      await refused(b, { ...redemption(ref.access_token), requested_token_type: ID_JAG_REFERENCE_TOKEN_TYPE }, { error: 'invalid_request', reason: 'invalid_parameter' });
      expect(references(b)[0]!.consumed_at).toBeNull();
    });
  });

  describe('redemption decides again, now', () => {
    it('the session: a subject that rode on a broker session (refresh token) whose session ended is refused (session_ended)', async () => {
      const l = await login(b);
      const { token } = await issueRefreshToken(b, l);
      const ref = await reference(b, { subject_token: token, subject_token_type: REFRESH_TOKEN_TYPE });
      await b.services.store.sessions.revoke(l.session.id, b.clock.now);
      await refused(b, redemption(ref.access_token), { error: 'invalid_grant', reason: 'session_ended', changes: true });
    });

    it('the person: their current record is what policy sees (a group removed since the issue refuses the write)', async () => {
      const l = await login(b, { principal: { claims: { email: 'alice@example.com', groups: ['todo-writers'] } } });
      const { token } = await issueRefreshToken(b, l);
      const ref = await reference(b, { subject_token: token, subject_token_type: REFRESH_TOKEN_TYPE, scope: 'todos.write' });
      expect(ref.scope).toBe('todos.write');
      await b.services.store.principals.upsert({ ...l.principal, claims: { email: 'alice@example.com', groups: [] }, updatedAt: b.clock.now });
      await refused(b, redemption(ref.access_token), { error: 'invalid_grant', reason: 'policy_denied', changes: true });
    });

    it('the mapping: a person deprovisioned from the table since the issue is refused (mapping_missing)', async () => {
      const ref = await reference(b);
      await b.services.store.mappings.replaceTable('todo-users', [], { version: 2, hash: 'empty' });
      await refused(b, redemption(ref.access_token), { error: 'invalid_grant', reason: 'mapping_missing', changes: true });
    });

    it('the mapping: a table that names the person anew since the issue gives the new name', async () => {
      const ref = await reference(b);
      await b.services.store.mappings.replaceTable('todo-users', [{ namespace: 'todo-users', upstreamIssuer: 'https://idp.test', upstreamSubject: 'alice', subject: 'todo-user-7777' }], { version: 2, hash: 'renamed' });
      const res = await postToken(b, redemption(ref.access_token));
      expect(decodeJwt(((await res.json()) as { access_token: string }).access_token).sub).toBe('todo-user-7777');
    });

    it('the policy and configuration in force at redemption, not at issue (another broker on the same store)', async () => {
      const ref = await reference(b);
      const strict = await startTestBroker({ settings: await pulledSettings(), db: b.db, policies: '@id("nothing") forbid (principal, action, resource);', now: b.clock.now });
      await refused(strict, redemption(ref.access_token), { error: 'invalid_grant', reason: 'policy_denied', changes: true });

      const ref2 = await reference(b);
      const withdrawn = await startTestBroker({ settings: await pulledSettings((s) => delete s.clients!.find((c) => c.client_id === 'wiki-agent')!.destinations!.todo), db: b.db, now: b.clock.now });
      await refused(withdrawn, redemption(ref2.access_token), { error: 'invalid_grant', reason: 'client_not_enabled_for_destination', changes: true });
    });

    it('never grants more than the issue did: the reference’s scopes bound the ID-JAG', async () => {
      const ref = await reference(b, { scope: 'todos.read' });
      const res = await postToken(b, redemption(ref.access_token));
      expect(decodeJwt(((await res.json()) as { access_token: string }).access_token).scope).toBe('todos.read');
    });
  });
});

describe('resource-pulled profile with a single-use subject token', () => {
  it('a SAML assertion is spent by the issue of a reference: presented again, it is a replay', async () => {
    const b = await startSubjectTokenBroker({ settings: (s) => {
      s.clients!.push({ client_id: 'todo-as', token_endpoint_auth_method: 'client_secret_post', client_secret_hash: s.clients!.find((c) => c.client_id === 'wiki-agent')!.client_secret_hash! });
      s.destinations!.find((d) => d.id === 'todo')!.backchannel_client = 'todo-as';
    } });
    const assertion = await appAssertionToken();
    const first = await exchange(b, assertion, SAML2_TYPE, { requested_token_type: ID_JAG_REFERENCE_TOKEN_TYPE });
    expect(first.status, await first.clone().text()).toBe(200);
    const again = await exchange(b, assertion, SAML2_TYPE, { requested_token_type: ID_JAG_REFERENCE_TOKEN_TYPE });
    expect(again.status).toBe(400);
    expect((await b.services.store.audit.recent(1))[0]).toMatchObject({ event: 'refusal', reason: 'subject_token_replayed' });
    // The reference itself still redeems: the assertion's use was the issue.
    const ref = ((await first.json()) as { access_token: string }).access_token;
    expect((await postToken(b, redemption(ref))).status).toBe(200);
  });
});
