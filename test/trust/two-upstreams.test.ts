import { decodeJwt } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { createDemoIdp, type DemoIdp, type DemoUser } from '../../examples/demo-idp.js';
import { principalIdOf } from '../../src/mapping/principal.js';
import type { AuditRecord } from '../../src/store/ports.js';
import type { BrokerConfigInput, NamespaceConfig } from '../../src/config/schema.js';
import { CRM, CRM_API, IDP, TODO, TODO_API, exchangeParams, postToken, startTestBroker, testNamespaces, testSettings, type TestBroker } from '../helpers/broker.js';

/**
 * Issue 6 §1, reproduced: two trusted upstreams, a corporate IdP (the tests' IDP, authoritative
 * for example.com, its groups, MFA) and a partner IdP (authoritative for partner.example only).
 * Whatever the partner asserts beyond that must not name, entitle or describe anyone.
 */

const PARTNER = 'https://partner.test';
let partner: DemoIdp;

async function settings(edit: (s: BrokerConfigInput) => void = () => {}) {
  partner ??= await createDemoIdp(PARTNER);
  return testSettings((s) => {
    s.tenant = 'broker-tenant';
    s.trusted_issuers!.push({ issuer: PARTNER, jwks: partner.jwks, algorithms: ['ES256'], authority: { tenant: 'partner', email: { domains: ['partner.example'] }, amr: ['pwd'] } });
    const wiki = s.clients!.find((c) => c.client_id === 'wiki-agent')!;
    wiki.upstream_client_ids = { ...wiki.upstream_client_ids, [PARTNER]: 'wiki-agent' };
    edit(s);
  });
}

/** The CRM keys people on email, and believes only the corporate IdP's addresses. */
const crmOnlyCorp: NamespaceConfig[] = testNamespaces.map((ns) => (ns.namespace === 'crm-users' ? { namespace: 'crm-users', strategy: 'claim', claim: 'email', upstreams: [IDP] } : ns));

async function tokenFrom(b: TestBroker, idp: 'corp' | 'partner', user: DemoUser, extra: Record<string, unknown> = {}) {
  return (idp === 'corp' ? b.idp : partner).idToken(user, 'wiki-agent', { now: b.clock.now, extra });
}

async function exchange(b: TestBroker, subjectToken: string, target: 'todo' | 'crm', scope: string) {
  const res = await postToken(b, await exchangeParams(b, { subject_token: subjectToken, ...(target === 'crm' ? { audience: CRM, resource: CRM_API } : { audience: TODO, resource: TODO_API }), scope }));
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

async function lastAudit(b: TestBroker): Promise<AuditRecord> {
  return (await b.services.store.audit.recent(1))[0]!;
}

/** The Todo table has no row for mallory at the partner: give them one, so that only policy decides. */
async function givePartnerUserATodoAccount(b: TestBroker) {
  const rows = [
    { namespace: 'todo-users', upstreamIssuer: IDP, upstreamSubject: 'alice', subject: 'todo-user-1001' },
    { namespace: 'todo-users', upstreamIssuer: PARTNER, upstreamSubject: 'mallory', subject: 'todo-user-9' },
  ];
  await b.services.store.mappings.replaceTable('todo-users', rows, { version: 2, hash: 'with-partner-row' });
}

function bindings(b: TestBroker) {
  return b.db.prepare("SELECT principal_id, subject, upstream_issuer FROM subject_bindings WHERE namespace = 'crm-users'").all();
}

describe('a partner IdP is believed only for what it is configured to be authoritative for', () => {
  let b: TestBroker;
  beforeEach(async () => {
    b = await startTestBroker({ settings: await settings(), namespaces: crmOnlyCorp });
  });

  it('a partner user asserting a corporate address is not named by it; the real owner then is', async () => {
    const forged = await exchange(b, await tokenFrom(b, 'partner', { sub: 'mallory', email: 'alice@example.com' }), 'crm', 'contacts.read');
    expect(forged).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'mapping_upstream_not_accepted', upstreamIssuer: PARTNER, dropped: ['email(domain)'] });
    expect(bindings(b)).toEqual([]);

    const real = await exchange(b, await tokenFrom(b, 'corp', { sub: 'alice', email: 'alice@example.com' }), 'crm', 'contacts.read');
    expect(real.status).toBe(200);
    expect(decodeJwt(real.body.access_token!).sub).toBe('alice@example.com');
    // The binding remembers which upstream told the broker this value.
    expect(bindings(b)).toEqual([{ principal_id: await principalIdOf(IDP, 'alice'), subject: 'alice@example.com', upstream_issuer: IDP }]);
  });

  it('without an upstream list on the namespace, the partner\'s out-of-domain address is still dropped', async () => {
    const open = await startTestBroker({ settings: await settings(), namespaces: testNamespaces });
    const forged = await exchange(open, await tokenFrom(open, 'partner', { sub: 'mallory', email: 'alice@example.com' }), 'crm', 'contacts.read');
    expect(forged).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await lastAudit(open)).toMatchObject({ reason: 'mapping_claim_missing', dropped: ['email(domain)'] });
    const real = await exchange(open, await tokenFrom(open, 'corp', { sub: 'alice', email: 'alice@example.com' }), 'crm', 'contacts.read');
    expect(decodeJwt(real.body.access_token!).sub).toBe('alice@example.com');
  });

  it('an unverified corporate address names nobody (email_verified: false)', async () => {
    const res = await exchange(b, await tokenFrom(b, 'corp', { sub: 'alice', email: 'alice@example.com', email_verified: false }), 'crm', 'contacts.read');
    expect(res.status).toBe(400);
    expect(await lastAudit(b)).toMatchObject({ reason: 'mapping_claim_missing', dropped: ['email(unverified)'] });
  });

  it('partner groups and MFA claims do not entitle: todos.write is refused, and the audit says what was dropped', async () => {
    const partnerUser = { sub: 'mallory', groups: ['todo-writers'], amr: ['pwd', 'mfa'] };
    await givePartnerUserATodoAccount(b);
    const res = await exchange(b, await tokenFrom(b, 'partner', partnerUser), 'todo', 'todos.write');
    expect(res).toMatchObject({ status: 400, body: { error: 'access_denied' } });
    const record = await lastAudit(b);
    expect(record).toMatchObject({ reason: 'policy_denied', upstreamIssuer: PARTNER });
    expect(record.dropped).toEqual(expect.arrayContaining(['groups', 'amr:mfa']));

    // Control: the same assertions from the corporate IdP grant the write.
    const corp = await exchange(b, await tokenFrom(b, 'corp', { sub: 'alice', groups: ['todo-writers'], amr: ['pwd', 'mfa'] }), 'todo', 'todos.write');
    expect(corp.status).toBe(200);
  });

  it('the ID-JAG carries an email only when an authoritative upstream verified it', async () => {
    const verified = await exchange(b, await tokenFrom(b, 'corp', { sub: 'alice', email: 'alice@example.com' }), 'todo', 'todos.read');
    expect(decodeJwt(verified.body.access_token!).email).toBe('alice@example.com');
    const unverified = await exchange(b, await tokenFrom(b, 'corp', { sub: 'alice', email: 'alice@example.com', email_verified: false }), 'todo', 'todos.read');
    expect(decodeJwt(unverified.body.access_token!)).not.toHaveProperty('email');
  });
});

describe('tenant and issuer in policy and in the ID-JAG', () => {
  it('Cedar sees the configured tenant, never a tenant claim', async () => {
    const b = await startTestBroker({
      settings: await settings(),
      namespaces: crmOnlyCorp,
      policies: '@id("corp-tenant-reads") permit (principal, action, resource) when { resource.name like "*.read" && principal has tenant && principal.tenant == "corp" && context has tenant && context.tenant == "corp" };',
    });
    await givePartnerUserATodoAccount(b);
    const forged = await exchange(b, await tokenFrom(b, 'partner', { sub: 'mallory' }, { tenant: 'corp' }), 'todo', 'todos.read');
    expect(forged).toMatchObject({ status: 400, body: { error: 'access_denied' } });
    expect(await lastAudit(b)).toMatchObject({ reason: 'policy_denied', dropped: ['tenant'] });
    const real = await exchange(b, await tokenFrom(b, 'corp', { sub: 'alice' }), 'todo', 'todos.read');
    expect(real.status).toBe(200);
  });

  it('Cedar sees the upstream issuer', async () => {
    const b = await startTestBroker({
      settings: await settings(),
      policies: `@id("reads") permit (principal, action, resource) when { resource.name like "*.read" };\n@id("corp-only") forbid (principal, action, resource) unless { principal.upstreamIssuer == "${IDP}" };`,
    });
    await givePartnerUserATodoAccount(b);
    expect((await exchange(b, await tokenFrom(b, 'partner', { sub: 'mallory' }), 'todo', 'todos.read')).status).toBe(400);
    expect(await lastAudit(b)).toMatchObject({ reason: 'policy_denied', policy: expect.stringContaining('corp-only') });
    expect((await exchange(b, await tokenFrom(b, 'corp', { sub: 'alice' }), 'todo', 'todos.read')).status).toBe(200);
  });

  it('the ID-JAG tenant is the broker\'s own, whatever the person\'s token says', async () => {
    const b = await startTestBroker({ settings: await settings((s) => (s.destinations![0]!.include_claims = ['tenant'])) });
    const res = await exchange(b, await tokenFrom(b, 'corp', { sub: 'alice' }, { tenant: 'forged' }), 'todo', 'todos.read');
    expect(decodeJwt(res.body.access_token!).tenant).toBe('broker-tenant');
  });

  it('aud_tenant travels with aud_sub, or neither is sent', async () => {
    const withTenant = await startTestBroker({ settings: await settings((s) => (s.destinations![0]!.tenant = 'todo-tenant-7')) });
    const claims = decodeJwt((await exchange(withTenant, await tokenFrom(withTenant, 'corp', { sub: 'alice' }), 'todo', 'todos.read')).body.access_token!);
    expect(claims).toMatchObject({ sub: 'todo-user-1001', aud_tenant: 'todo-tenant-7', aud_sub: 'todo-user-1001' });

    const without = await startTestBroker({ settings: await settings() });
    const plain = decodeJwt((await exchange(without, await tokenFrom(without, 'corp', { sub: 'alice' }), 'todo', 'todos.read')).body.access_token!);
    expect(plain).not.toHaveProperty('aud_tenant');
    expect(plain).not.toHaveProperty('aud_sub');
  });
});
