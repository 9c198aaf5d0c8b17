/**
 * Issue 9 part 3, item 2: DPoP at the broker's token exchange (RFC 9449). A valid proof yields an
 * ID-JAG bound to its key (`cnf.jkt`); an invalid one is invalid_dpop_proof and mints nothing; a
 * client configured with `require_dpop` gets nothing without a proof; a client configured with
 * `dpop_nonce` must echo a server nonce (use_dpop_nonce + DPoP-Nonce, RFC 9449 §8). Grants that
 * cannot bind what they issue refuse a proof rather than ignore it.
 */
import { calculateJwkThumbprint, decodeJwt } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { exchangeParams, ID_JAG_TYPE, IDP, postToken, SECRET, startTestBroker, storeState, testSettings, TOKEN_EXCHANGE, type TestBroker } from '../helpers/broker.js';
import { ID_JAG_REFERENCE_TOKEN_TYPE } from '../../src/exchange/pulled.js';
import { pulledSettings } from './pulled-helpers.js';
import { DEFERRED_GRANT } from '../../src/exchange/deferred.js';
import { approveAccessRequest, submitAccessRequest, type Approver, type Submission } from '../../src/governance/tasks.js';
import { codeFor, redeem, startProvider, webAppRequest } from '../provider/harness.js';
import { dpopKey, proof, type DpopTestKey } from '../dpop/helpers.js';

const HTU = 'https://broker.test/token';
let key: DpopTestKey;
let jkt: string;

beforeAll(async () => {
  key = await dpopKey();
  jkt = await calculateJwkThumbprint(key.publicJwk, 'sha256');
});

async function lastAudit(b: TestBroker) {
  const [record] = await b.services.store.audit.recent(1);
  return record;
}

describe('token exchange with a DPoP proof', () => {
  it('a valid proof yields an ID-JAG with cnf.jkt = the thumbprint of the proof key', async () => {
    const b = await startTestBroker();
    const res = await postToken(b, await exchangeParams(b), { DPoP: await proof(key, { now: b.clock.now, htu: HTU }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    // Not an access token: RFC 8693 §2.2.1's N_A stays; the binding is in the ID-JAG.
    expect(body.token_type).toBe('N_A');
    expect(decodeJwt(body.access_token as string).cnf).toEqual({ jkt });
  });

  it('without a proof the ID-JAG carries no cnf (a client not required to use DPoP)', async () => {
    const b = await startTestBroker();
    const res = await postToken(b, await exchangeParams(b));
    expect(res.status).toBe(200);
    expect(decodeJwt(((await res.json()) as { access_token: string }).access_token)).not.toHaveProperty('cnf');
  });

  it.each([
    ['htu of another endpoint', { htu: 'https://broker.test/authorize' }, 'dpop_htu_mismatch'],
    ['htm GET', { htm: 'GET' }, 'dpop_htm_mismatch'],
    ['a stale iat', { iat: -3600 }, 'dpop_iat_too_old'],
    ['typ JWT', { typ: 'JWT' }, 'dpop_typ_invalid'],
  ] as const)('an invalid proof (%s) is invalid_dpop_proof, audited with its reason, and mints nothing', async (_, broken, reason) => {
    const b = await startTestBroker();
    const before = storeState(b);
    const o = { ...broken, ...('iat' in broken ? { iat: b.clock.now + broken.iat } : {}) };
    const res = await postToken(b, await exchangeParams(b), { DPoP: await proof(key, { now: b.clock.now, htu: HTU, ...o }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_dpop_proof');
    expect(body).not.toHaveProperty('access_token');
    expect(await lastAudit(b)).toMatchObject({ event: 'refusal', reason, clientId: 'wiki-agent' });
    expect(storeState(b).tables.subject_bindings).toEqual(before.tables.subject_bindings);
  });

  it('two DPoP headers are invalid_dpop_proof', async () => {
    const b = await startTestBroker();
    const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded' });
    headers.append('DPoP', await proof(key, { now: b.clock.now, htu: HTU }));
    headers.append('DPoP', await proof(key, { now: b.clock.now, htu: HTU }));
    const res = await b.request('/token', { method: 'POST', headers, body: new URLSearchParams(Object.entries(await exchangeParams(b)) as string[][]).toString() });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_dpop_proof' });
    expect(await lastAudit(b)).toMatchObject({ reason: 'dpop_multiple' });
  });

  it('a proof is single use: the same proof again is invalid_dpop_proof (dpop_replayed)', async () => {
    const b = await startTestBroker();
    const dpop = await proof(key, { now: b.clock.now, htu: HTU });
    expect((await postToken(b, await exchangeParams(b), { DPoP: dpop })).status).toBe(200);
    const again = await postToken(b, await exchangeParams(b), { DPoP: dpop });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_dpop_proof' });
    expect(await lastAudit(b)).toMatchObject({ reason: 'dpop_replayed' });
  });

  it('htu is the issuer base + /token, not the URL the request arrived at', async () => {
    // Behind a proxy: the request reaches https://broker.test, the public issuer is another origin.
    const b = await startTestBroker({ settings: await testSettings((s) => void (s.issuer = 'https://public.example')) });
    const params = await exchangeParams(b);
    const atIssuer = await postToken(b, params, { DPoP: await proof(key, { now: b.clock.now, htu: 'https://public.example/token' }) });
    expect(atIssuer.status).toBe(200);
    const atHost = await postToken(b, await exchangeParams(b), { DPoP: await proof(key, { now: b.clock.now, htu: HTU }) });
    expect(await atHost.json()).toMatchObject({ error: 'invalid_dpop_proof' });
  });
});

describe('per client: require_dpop', () => {
  const requiring = () => testSettings((s) => void (s.clients![0] = { ...s.clients![0]!, require_dpop: true }));

  it('refuses an exchange without a proof (invalid_request, dpop_required) and mints with one', async () => {
    const b = await startTestBroker({ settings: await requiring() });
    const bare = await postToken(b, await exchangeParams(b));
    expect(bare.status).toBe(400);
    expect(await bare.json()).toMatchObject({ error: 'invalid_request' });
    expect(await lastAudit(b)).toMatchObject({ reason: 'dpop_required', clientId: 'wiki-agent' });
    const bound = await postToken(b, await exchangeParams(b), { DPoP: await proof(key, { now: b.clock.now, htu: HTU }) });
    expect(bound.status).toBe(200);
    expect(decodeJwt(((await bound.json()) as { access_token: string }).access_token).cnf).toEqual({ jkt });
  });

  it('is per client: another client still exchanges without a proof', async () => {
    const b = await startTestBroker({ settings: await requiring() });
    const idToken = await b.idp.idToken({ sub: 'alice' }, 'basic-agent', { now: b.clock.now });
    const other = await postToken(b, await exchangeParams(b, { subject_token: idToken, client_id: undefined, client_secret: undefined }), { authorization: `Basic ${btoa('basic-agent:basic-secret-value')}` });
    expect(await other.json()).toMatchObject({ token_type: 'N_A' });
  });
});

describe('per client: dpop_nonce (RFC 9449 §8)', () => {
  const nonceSettings = () => testSettings((s) => void (s.clients![0] = { ...s.clients![0]!, dpop_nonce: true }));

  it('a proof without a nonce gets use_dpop_nonce with a DPoP-Nonce header; the retry with it mints', async () => {
    const b = await startTestBroker({ settings: await nonceSettings() });
    const first = await postToken(b, await exchangeParams(b), { DPoP: await proof(key, { now: b.clock.now, htu: HTU }) });
    expect(first.status).toBe(400);
    expect(await first.json()).toMatchObject({ error: 'use_dpop_nonce' });
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const retry = await postToken(b, await exchangeParams(b), { DPoP: await proof(key, { now: b.clock.now, htu: HTU, nonce: nonce! }) });
    expect(retry.status).toBe(200);
    expect(decodeJwt(((await retry.json()) as { access_token: string }).access_token).cnf).toEqual({ jkt });
  });

  it('the nonce secret is read (or made) when the broker starts, not by a request: requests share no pending store read', async () => {
    const secret = (b: TestBroker) => b.db.prepare("SELECT count(*) FROM broker_secrets WHERE name = 'dpop-nonce'").pluck().get();
    expect(secret(await startTestBroker({ settings: await nonceSettings() }))).toBe(1);
    // Nobody asks for nonces: no secret.
    expect(secret(await startTestBroker())).toBe(0);
  });

  it('a made-up or expired nonce is use_dpop_nonce again, with a fresh nonce', async () => {
    const b = await startTestBroker({ settings: await nonceSettings() });
    const made = await postToken(b, await exchangeParams(b), { DPoP: await proof(key, { now: b.clock.now, htu: HTU, nonce: 'made-up' }) });
    expect(await made.json()).toMatchObject({ error: 'use_dpop_nonce' });
    const nonce = made.headers.get('dpop-nonce')!;
    b.clock.now += 3600;
    const stale = await postToken(b, await exchangeParams(b), { DPoP: await proof(key, { now: b.clock.now, htu: HTU, nonce }) });
    expect(await stale.json()).toMatchObject({ error: 'use_dpop_nonce' });
    expect(stale.headers.get('dpop-nonce')).not.toBe(nonce);
    expect(await lastAudit(b)).toMatchObject({ reason: 'dpop_nonce_invalid' });
  });
});

describe('grants that cannot bind what they issue', () => {
  it('the authorization_code grant refuses a DPoP proof (invalid_request, dpop_not_supported_for_grant); the code still works without', async () => {
    const b = await startProvider();
    const params = await codeFor(b.browser(), webAppRequest());
    const code = params.get('code')!;
    const refused = await b.token({ grant_type: 'authorization_code', code, redirect_uri: 'https://app.test/cb', client_id: 'wiki-agent', client_secret: 'wiki-secret-value' }, { dpop: await proof(key, { now: b.clock.now, htu: HTU }) });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_request' });
    await b.maintenance.flush({ final: true });
    expect(await lastAudit(b)).toMatchObject({ reason: 'dpop_not_supported_for_grant' });
    expect((await redeem(b, code)).status).toBe(200);
  });
});

describe('the resource-pulled profile: references cannot be sender-constrained', () => {
  const askReference = async (b: TestBroker, headers: Record<string, string> = {}) => postToken(b, await exchangeParams(b, { requested_token_type: ID_JAG_REFERENCE_TOKEN_TYPE }), headers);

  it('asking for a reference with a DPoP proof is invalid_request (dpop_not_supported_for_profile), nothing issued', async () => {
    const b = await startTestBroker({ settings: await pulledSettings() });
    const res = await askReference(b, { DPoP: await proof(key, { now: b.clock.now, htu: HTU }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    expect(await lastAudit(b)).toMatchObject({ reason: 'dpop_not_supported_for_profile' });
    expect(b.db.prepare('SELECT count(*) FROM id_jag_references').pluck().get()).toBe(0);
  });

  it('a require_dpop client cannot get an unbound reference (dpop_required)', async () => {
    const b = await startTestBroker({ settings: await pulledSettings((s) => void (s.clients![0] = { ...s.clients![0]!, require_dpop: true })) });
    const res = await askReference(b);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    expect(await lastAudit(b)).toMatchObject({ reason: 'dpop_required' });
  });

  it('redeeming a reference with a DPoP proof is invalid_request (dpop_not_supported_for_profile)', async () => {
    const b = await startTestBroker({ settings: await pulledSettings() });
    const ref = ((await (await askReference(b)).json()) as { access_token: string }).access_token;
    const res = await postToken(
      b,
      { grant_type: TOKEN_EXCHANGE, requested_token_type: ID_JAG_TYPE, subject_token: ref, subject_token_type: ID_JAG_REFERENCE_TOKEN_TYPE, client_id: 'todo-as', client_secret: SECRET },
      { DPoP: await proof(key, { now: b.clock.now, htu: HTU }) },
    );
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    expect(await lastAudit(b)).toMatchObject({ reason: 'dpop_not_supported_for_profile', clientId: 'todo-as' });
  });
});

describe('deferred completion: the ID-JAG is bound to the proof on the poll that delivers it', () => {
  const POLICIES = `
@id("read-anything")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name like "*.read" };
@id("write-open")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" };
@id("write-needs-approval")
@requestable("approvers=group:admins&max_duration=PT4H")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" }
unless { context.approved.contains("write-needs-approval") };
`;
  const admin: Approver = { identity: { principalId: 'approver-1', upstreamIssuer: IDP, upstreamSubject: 'bob', claims: { groups: ['admins'] } }, label: 'bob' };

  async function approvedDeferral(b: TestBroker, headers: Record<string, string> = {}) {
    const res = await postToken(b, await exchangeParams(b, { scope: 'todos.write', deferred: 'true' }), headers);
    const body = (await res.json()) as Record<string, unknown> & { access_request: { request_context: string }; authzen: { subject: Submission['subject']; resource: Submission['items'][number]['resource']; action: { name: string } } };
    expect(body.error).toBe('authorization_pending');
    const submission: Submission = { requestContext: body.access_request.request_context, subject: body.authzen.subject, items: [{ resource: body.authzen.resource, action: body.authzen.action }], bodyHash: 'h' };
    const { task } = await submitAccessRequest(submission, 'wiki-agent', b.services, b.clock.now, 'r1');
    await approveAccessRequest(task.id, admin, 120, b.services, b.clock.now, 'r2');
    b.clock.now += 10;
    return body.deferral_code as string;
  }
  const poll = (b: TestBroker, code: string, headers: Record<string, string> = {}) => postToken(b, { grant_type: DEFERRED_GRANT, deferral_code: code, client_id: 'wiki-agent', client_secret: SECRET }, headers);

  it('a poll with a proof gets a bound ID-JAG', async () => {
    const b = await startTestBroker({ policies: POLICIES });
    const code = await approvedDeferral(b, { DPoP: await proof(key, { now: b.clock.now, htu: HTU }) });
    const done = await poll(b, code, { DPoP: await proof(key, { now: b.clock.now, htu: HTU }) });
    expect(done.status).toBe(200);
    expect(decodeJwt(((await done.json()) as { access_token: string }).access_token).cnf).toEqual({ jkt });
  });

  it('a require_dpop client polling without a proof is refused (dpop_required) and can still collect with one', async () => {
    const b = await startTestBroker({ policies: POLICIES, settings: await testSettings((s) => void (s.clients![0] = { ...s.clients![0]!, require_dpop: true })) });
    const code = await approvedDeferral(b, { DPoP: await proof(key, { now: b.clock.now, htu: HTU }) });
    const bare = await poll(b, code);
    expect(await bare.json()).toMatchObject({ error: 'invalid_request' });
    expect(await lastAudit(b)).toMatchObject({ reason: 'dpop_required' });
    const done = await poll(b, code, { DPoP: await proof(key, { now: b.clock.now, htu: HTU }) });
    expect(decodeJwt(((await done.json()) as { access_token: string }).access_token).cnf).toEqual({ jkt });
  });
});

describe('metadata', () => {
  it('advertises dpop_signing_alg_values_supported (asymmetric algorithms only)', async () => {
    const b = await startTestBroker();
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const body = (await (await b.request(path)).json()) as Record<string, unknown>;
      expect(body.dpop_signing_alg_values_supported).toContain('ES256');
      expect((body.dpop_signing_alg_values_supported as string[]).some((a) => a === 'none' || a.startsWith('HS'))).toBe(false);
    }
  });
});
