/**
 * Issue 6 §2: a policy denial about authentication strength answers insufficient_user_authentication
 * with RFC 9470 hints (ID-JAG draft, "Step-Up Authentication"), not invalid_scope. A forbid marks
 * itself with `@step_up("acr_values=…&max_age=…&amr=…")`; the refusal is a step-up only when
 * a fresh login meeting those hints would have been granted the scope.
 */
import { describe, expect, it } from 'vitest';
import { exchangeParams, postToken, startTestBroker } from '../helpers/broker.js';

const POLICIES = `
@id("read-anything")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name like "*.read" };
@id("writers-need-group")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" && principal.groups.contains("todo-writers") };
@id("mfa-for-write")
@step_up("acr_values=urn:example:acr:mfa&amr=mfa&max_age=600")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" } unless { context.amr.contains("mfa") };
`;

async function ask(user: { groups: string[]; amr: string[] }, scope: string) {
  const b = await startTestBroker({ policies: POLICIES });
  const idToken = await b.idp.idToken({ sub: 'alice', email: 'alice@example.com', ...user }, 'wiki-agent', { now: b.clock.now });
  const res = await postToken(b, await exchangeParams(b, { subject_token: idToken, scope }));
  const [record] = await b.services.store.audit.recent(1);
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, record: record! };
}

describe('authentication-strength denials', () => {
  it('a writer without MFA gets insufficient_user_authentication with acr_values and max_age, not invalid_scope', async () => {
    const r = await ask({ groups: ['todo-writers'], amr: ['pwd'] }, 'todos.write');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: 'insufficient_user_authentication', error_description: expect.any(String), acr_values: 'urn:example:acr:mfa', max_age: 600 });
    expect(r.record).toMatchObject({ event: 'refusal', reason: 'authentication_insufficient' });
    expect(r.record.policy).toContain('mfa-for-write');
  });

  it('someone who would be refused even after stepping up gets access_denied (policy_denied)', async () => {
    const r = await ask({ groups: ['staff'], amr: ['pwd'] }, 'todos.write');
    expect(r.body).toMatchObject({ error: 'access_denied' });
    expect(r.body).not.toHaveProperty('acr_values');
    expect(r.record.reason).toBe('policy_denied');
  });

  it('a partial grant is still narrowed, not turned into a step-up', async () => {
    const r = await ask({ groups: ['todo-writers'], amr: ['pwd'] }, 'todos.read todos.write');
    expect(r.status).toBe(200);
    expect(r.body.scope).toBe('todos.read');
  });

  it('a writer with MFA is granted', async () => {
    const r = await ask({ groups: ['todo-writers'], amr: ['pwd', 'mfa'] }, 'todos.write');
    expect(r.status).toBe(200);
  });
});
