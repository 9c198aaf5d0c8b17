import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/store/ports.js';
import {
  BROKER,
  call,
  clientAssertion,
  CRM,
  errorOf,
  exchangeParams,
  ID_JAG_TYPE,
  idToken,
  JWT_BEARER_ASSERTION,
  postToken,
  rows,
  testWorker,
  workerEnv,
  TODO,
  TODO_API,
} from './helpers.js';

const worker = testWorker();

/**
 * Refusals before the client authenticated are counted into summaries (docs/operations.md): a
 * worker whose clock the test moves past the interval, then runs the cron handler to write them.
 */
function summarisingWorker() {
  const clock = { now: Math.floor(Date.now() / 1000) };
  const w = testWorker({ clock: () => clock.now });
  const writeSummaries = async () => {
    clock.now += 3_600;
    const ctx = createExecutionContext();
    await w.scheduled(createScheduledController(), workerEnv(), ctx);
    await waitOnExecutionContext(ctx);
  };
  return { w, writeSummaries };
}

async function auditByRequestId(requestId: string | null): Promise<AuditRecord> {
  const [row] = await rows<{ record: string; event: string }>('SELECT record, event FROM audit_log WHERE request_id = ?', requestId);
  expect(row, `an audit record for ${requestId}`).toBeDefined();
  return JSON.parse(row!.record) as AuditRecord;
}

describe('caller-pushed token exchange inside workerd', () => {
  let jwks: JSONWebKeySet;
  beforeAll(async () => {
    jwks = (await (await call(worker, '/jwks')).json()) as JSONWebKeySet;
  });

  it('mints an ID-JAG for the destination namespace, verifiable with the served JWKS', async () => {
    const res = await postToken(worker, await exchangeParams());
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ issued_token_type: ID_JAG_TYPE, token_type: 'N_A', scope: 'todos.read', expires_in: 300 });

    const jwt = body.access_token as string;
    expect(decodeProtectedHeader(jwt)).toMatchObject({ typ: 'oauth-id-jag+jwt', alg: 'ES256' });
    const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks), { issuer: BROKER, audience: TODO, typ: 'oauth-id-jag+jwt' });
    expect(payload).toMatchObject({ sub: 'todo-user-1001', client_id: 'wiki-at-todo', resource: TODO_API, scope: 'todos.read', email: 'alice@example.com' });
    expect(payload.exp! - payload.iat!).toBe(300);
  });

  it('writes the mint audit record to D1, naming mapping and policy and carrying no token', async () => {
    const params = await exchangeParams();
    const res = await postToken(worker, params);
    const { access_token } = (await res.json()) as { access_token: string };
    const record = await auditByRequestId(res.headers.get('x-request-id'));
    expect(record).toMatchObject({
      event: 'mint',
      clientId: 'wiki-agent',
      destination: 'todo',
      mapping: 'todo-users/table',
      grantedScopes: ['todos.read'],
      jti: decodeJwt(access_token).jti,
    });
    expect(record.policy).toContain('read-anything');
    const text = JSON.stringify(record);
    expect(text).not.toContain(access_token);
    expect(text).not.toContain(params.subject_token!);
  });

  it('binds a claim subject in D1 together with the audit record (one batch)', async () => {
    const subject_token = await idToken('carol', 'wiki-agent', { email: 'carol@example.com' });
    const res = await postToken(worker, await exchangeParams({ subject_token, audience: CRM, resource: undefined, scope: 'contacts.read' }));
    expect(res.status).toBe(200);
    expect(decodeJwt(((await res.json()) as { access_token: string }).access_token).sub).toBe('carol@example.com');
    const bindings = await rows<{ subject: string; source: string; version: number; upstream_issuer: string }>("SELECT subject, source, version, upstream_issuer FROM subject_bindings WHERE namespace = 'crm-users'");
    // The binding remembers which upstream told the broker this value (issue 6 §1).
    expect(bindings).toEqual([{ subject: 'carol@example.com', source: 'claim', version: 1, upstream_issuer: 'https://idp.test' }]);
    expect((await auditByRequestId(res.headers.get('x-request-id'))).event).toBe('mint');
  });

  it('an unverified address names nobody: the upstream is authoritative for verified example.com addresses only', async () => {
    const subject_token = await idToken('dave', 'wiki-agent', { email: 'dave@example.com', email_verified: false });
    const res = await postToken(worker, await exchangeParams({ subject_token, audience: CRM, resource: undefined, scope: 'contacts.read' }));
    expect(res.status).toBe(400);
    expect(await auditByRequestId(res.headers.get('x-request-id'))).toMatchObject({ reason: 'mapping_claim_missing', dropped: ['email(unverified)'] });
  });

  it('narrows to what policy allows', async () => {
    const res = await postToken(worker, await exchangeParams({ scope: 'todos.read todos.write' }));
    expect(((await res.json()) as { scope: string }).scope).toBe('todos.read');
  });
});

describe('refusals inside workerd', () => {
  it('refuses a bad client secret with 401 invalid_client and audits it', async () => {
    const { w, writeSummaries } = summarisingWorker();
    const res = await postToken(w, await exchangeParams({ client_secret: 'not-the-secret' }));
    expect(res.status).toBe(401);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await errorOf(res)).toBe('invalid_client');
    await writeSummaries();
    expect(await auditByRequestId(res.headers.get('x-request-id'))).toMatchObject({ event: 'refusal_summary', reason: 'client_secret_mismatch', count: 1 });
  });

  it('refuses an ID-JAG presented as the subject token with invalid_grant', async () => {
    const minted = (await (await postToken(worker, await exchangeParams())).json()) as { access_token: string };
    const res = await postToken(worker, await exchangeParams({ subject_token: minted.access_token }));
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toBe('invalid_grant');
    expect(await auditByRequestId(res.headers.get('x-request-id'))).toMatchObject({ event: 'refusal', reason: 'subject_token_is_id_jag', clientId: 'wiki-agent' });
  });

  it('refuses an unknown audience with invalid_target', async () => {
    const res = await postToken(worker, await exchangeParams({ audience: 'https://unknown.test' }));
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toBe('invalid_target');
  });

  it('refuses an ID token from an untrusted issuer', async () => {
    const { SignJWT } = await import('jose');
    const { privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']) as CryptoKeyPair;
    const t = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sub: 'alice', aud: 'wiki-agent' }).setProtectedHeader({ alg: 'ES256' }).setIssuer('https://evil.test').setIssuedAt(t).setExpirationTime(t + 60).sign(privateKey);
    const res = await postToken(worker, await exchangeParams({ subject_token: forged }));
    expect(await errorOf(res)).toBe('invalid_grant');
  });
});

describe('private_key_jwt replay protection is in D1, not in the isolate', () => {
  const params = async (assertion: string) => ({
    ...(await exchangeParams({ client_id: undefined, client_secret: undefined })),
    subject_token: await idToken('alice', 'key-agent'),
    client_assertion_type: JWT_BEARER_ASSERTION,
    client_assertion: assertion,
  });

  it('accepts a client assertion once and refuses its replay', async () => {
    const { w, writeSummaries } = summarisingWorker();
    const assertion = await clientAssertion(crypto.randomUUID());
    const first = await postToken(w, await params(assertion));
    expect(first.status).toBe(200);
    expect(decodeJwt(((await first.json()) as { access_token: string }).access_token).client_id).toBe('key-agent-at-todo');

    const replay = await postToken(w, await params(assertion));
    expect(replay.status).toBe(401);
    expect(await errorOf(replay)).toBe('invalid_client');
    await writeSummaries();
    expect(await auditByRequestId(replay.headers.get('x-request-id'))).toMatchObject({ event: 'refusal_summary', reason: 'client_assertion_replayed', count: 1 });
  });

  it('refuses the replay at a second, separately built broker (another isolate)', async () => {
    const jti = crypto.randomUUID();
    const assertion = await clientAssertion(jti);
    expect((await postToken(worker, await params(assertion))).status).toBe(200);
    const elsewhere = testWorker();
    const replay = await postToken(elsewhere, await params(assertion));
    expect(replay.status).toBe(401);
    expect(await errorOf(replay)).toBe('invalid_client');
    const recorded = await rows<{ scope: string }>('SELECT scope FROM replay WHERE id = ?', jti);
    expect(recorded).toEqual([{ scope: 'client_assertion:key-agent' }]);
  });

  it('lets only one of two concurrent uses of an assertion through', async () => {
    const assertion = await clientAssertion(crypto.randomUUID());
    const other = testWorker();
    const answers = await Promise.all([postToken(worker, await params(assertion)), postToken(other, await params(assertion))]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 401]);
  });
});
