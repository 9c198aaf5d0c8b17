import { describe, expect, it } from 'vitest';
import { principalIdOf } from '../../src/mapping/principal.js';
import { authoritySchema } from '../../src/trust/authority.js';
import { UpstreamTrust } from '../../src/trust/registry.js';
import { UPSTREAM_ISSUER } from './fake-upstream.js';
import { authorizePath, codeFor, decodeJwt, lastAudit, location, loginThroughUpstream, redeem, startProvider, webAppRequest, type ProviderBroker } from './harness.js';

/**
 * Issue 6 §1 through the broker's own login: a connection is believed only for what its authority
 * lists. What it is not authoritative for never reaches the principal record, the session, the ID
 * tokens the broker issues, or the namespaces keyed on a claim.
 */

/** The fake upstream, configured as a partner: believed for its people's names and passwords only. */
const PARTNER_AUTHORITY = authoritySchema.parse({ tenant: 'partner', amr: ['pwd'], claims: ['name'] });

async function partnerBroker(): Promise<ProviderBroker> {
  const b = await startProvider();
  b.services.trust = new UpstreamTrust(new Map(), new Map([['corp', PARTNER_AUTHORITY]]));
  return b;
}

function loginRecords(b: ProviderBroker): Array<Record<string, unknown>> {
  return (b.db.prepare('SELECT record FROM audit_log ORDER BY seq').pluck().all() as string[]).map((r) => JSON.parse(r)).filter((r) => r.event === 'login');
}

describe('a login is believed only for what its connection is authoritative for', () => {
  it('drops what the connection may not assert before recording the person and the session, and audits it', async () => {
    const b = await partnerBroker();
    const params = await codeFor(b.browser(), webAppRequest({ scope: 'openid email profile' }));
    const principal = await b.services.store.principals.get(await principalIdOf(UPSTREAM_ISSUER, 'alice'));
    expect(principal!.claims).toEqual({ name: 'Alice Example' });
    const session = JSON.parse(b.db.prepare('SELECT record FROM sessions').pluck().get() as string) as { acr?: string; amr: string[] };
    expect(session.acr).toBeUndefined();
    expect(session.amr).toEqual(['pwd']);
    const [login] = loginRecords(b);
    expect(login!.dropped).toEqual(expect.arrayContaining(['email(not_authoritative)', 'groups', 'given_name', 'secret_internal', 'acr:urn:example:mfa', 'amr:mfa']));

    // The app's ID token says only what was believed.
    const tokens = (await (await redeem(b, params.get('code')!)).json()) as Record<string, string>;
    const idToken = decodeJwt(tokens.id_token!);
    expect(idToken).not.toHaveProperty('email');
    expect(idToken).not.toHaveProperty('acr');
    expect(idToken.amr).toEqual(['pwd']);
    expect(idToken.name).toBe('Alice Example');
  });

  it('an app whose subject namespace is keyed on email cannot be logged in to with an address the connection does not vouch for', async () => {
    const b = await partnerBroker();
    const res = await loginThroughUpstream(b.browser(), authorizePath({ client_id: 'basic-agent', redirect_uri: 'https://consent.test/cb', response_type: 'code', scope: 'openid', state: 'q' }));
    expect(location(res).searchParams.get('error')).toBe('access_denied');
    expect(lastAudit(b)).toMatchObject({ reason: 'mapping_claim_missing', clientId: 'basic-agent' });
    expect(b.db.prepare("SELECT count(*) FROM subject_bindings WHERE namespace = 'crm-users'").pluck().get()).toBe(0);
  });

  it('control: the same login through a connection authoritative for it keeps email, groups and MFA', async () => {
    const b = await startProvider();
    await codeFor(b.browser(), webAppRequest({ scope: 'openid email profile' }));
    const principal = await b.services.store.principals.get(await principalIdOf(UPSTREAM_ISSUER, 'alice'));
    expect(principal!.claims).toMatchObject({ email: 'alice@example.com', email_verified: true, groups: ['staff'] });
    expect(loginRecords(b)[0]).not.toHaveProperty('dropped', expect.arrayContaining(['email(not_authoritative)']));
  });
});
