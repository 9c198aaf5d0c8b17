/**
 * Retention (issue 6 §3) on the OpenID Provider routes: refusals of requests that established no
 * user and no client (an unknown client at /authorize, a bad bearer token at /userinfo, a login
 * callback with an unknown state, …) are counted per (endpoint, reason, source) over an interval
 * and written as one summary record each, as at the token endpoint. Through the broker as
 * createBroker wires it, so the source comes from the request as in production.
 */
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/store/ports.js';
import { IDP, startTestBroker, TEST_IDP_AUTHORITY, testSettings, type TestBroker } from '../helpers/broker.js';
import { capture, type Line } from '../helpers/log.js';
import { APP_LOGOUT, codeFor, lastAudit, location, providerState, redeem, startProvider, webAppRequest, type ProviderBroker } from './harness.js';

const INTERVAL = 60;
const SOURCES = ['203.0.113.7', '198.51.100.9', '2001:db8:1:2::99'];
const SOURCE_KEYS = ['203.0.113.7', '198.51.100.9', '2001:db8:1:2::/64'];

async function floodBroker(): Promise<TestBroker> {
  return startTestBroker({
    settings: await testSettings((s) => {
      s.client_ip = { header: 'X-Forwarded-For' };
      s.retention = { refusal_summary_interval_seconds: INTERVAL };
      s.connections = [{ type: 'oidc', id: 'corp', issuer: IDP, client_id: 'broker', client_secret: 'x', redirect_uri: 'https://broker.test/login/oidc/corp/callback', authority: TEST_IDP_AUTHORITY }];
      s.clients!.find((c) => c.client_id === 'wiki-agent')!.oidc = { redirect_uris: ['https://app.test/cb'], subject_namespace: 'analytics-users', scopes: ['openid', 'email'] };
    }),
  });
}

const auditRows = (b: TestBroker) => (b.db.prepare('SELECT record FROM audit_log ORDER BY seq').pluck().all() as string[]).map((r) => JSON.parse(r) as AuditRecord);

/** Requests anyone can send, at each provider route, and what they are refused for. */
const FLOODS: { endpoint: string; reason: string; send: (b: TestBroker, i: number, source: string) => Promise<Response> }[] = [
  {
    endpoint: '/authorize',
    reason: 'client_unknown',
    send: (b, i, source) => b.request(`/authorize?client_id=nobody-${i}&redirect_uri=https://evil.test/cb&response_type=code&scope=openid`, { headers: { 'x-forwarded-for': source } }),
  },
  {
    endpoint: '/userinfo',
    reason: 'access_token_invalid',
    send: (b, i, source) => b.request('/userinfo', { headers: { authorization: `Bearer not.a.token${i}`, 'x-forwarded-for': source } }),
  },
  {
    endpoint: '/login/oidc/:id/callback',
    reason: 'login_failed',
    send: (b, i, source) => b.request(`/login/oidc/corp/callback?state=unknown-${i}&code=c`, { headers: { 'x-forwarded-for': source } }),
  },
];

describe('refusal summaries on the provider routes', () => {
  it.each(FLOODS)('a flood of $reason at $endpoint writes one record per (reason, source) per interval, the counts add up, the first of each is logged', async ({ endpoint, reason, send }) => {
    const b = await floodBroker();
    const lines: Line[] = [];
    b.services.logger = capture(lines);
    const start = b.clock.now;
    const N = 500;
    const statuses = new Set<number>();
    for (let i = 0; i < N; i++) {
      // Two intervals' worth of requests.
      if (i === N / 2) b.clock.now = start + INTERVAL;
      statuses.add((await send(b, i, SOURCES[i % SOURCES.length]!)).status);
    }
    expect([...statuses].every((s) => s >= 400 && s < 500)).toBe(true);
    b.clock.now = start + 3 * INTERVAL;
    await b.maintenance.flush();

    const rows = auditRows(b);
    expect(rows.filter((r) => r.event !== 'refusal_summary')).toEqual([]);
    // Three sources, two intervals: six records, not N.
    expect(rows).toHaveLength(2 * SOURCES.length);
    expect(rows.reduce((n, r) => n + r.count!, 0)).toBe(N);
    for (const r of rows) expect(r).toMatchObject({ event: 'refusal_summary', endpoint, reason, until: Math.floor(r.at / INTERVAL) * INTERVAL + INTERVAL });
    expect(new Set(rows.map((r) => r.source))).toEqual(new Set(SOURCE_KEYS));

    // Only the first refusal of each key in each interval is logged, and it carries the summary's request id.
    const logged = lines.filter((l) => l.level === 'warn' && l.fields.event === 'refusal');
    expect(logged).toHaveLength(rows.length);
    expect(new Set(logged.map((l) => l.fields.requestId))).toEqual(new Set(rows.map((r) => r.requestId)));
    expect(logged.every((l) => l.fields.endpoint === endpoint && l.fields.reason === reason && SOURCE_KEYS.includes(l.fields.source as string))).toBe(true);
  });
});

/** Every audit record, once the counts still in memory are written. */
async function flushedRows(b: TestBroker): Promise<AuditRecord[]> {
  await b.maintenance.flush({ final: true });
  return auditRows(b);
}

async function signedIn(b: ProviderBroker) {
  const browser = b.browser();
  const tokens = (await (await redeem(b, (await codeFor(browser, webAppRequest())).get('code')!)).json()) as Record<string, string>;
  return { browser, tokens };
}

describe('which provider refusals are summarised: those where no user and no client was established', () => {
  it('/authorize naming a registered client and its redirect_uri, without a session, is still anonymous (anyone can send it)', async () => {
    const b = await startProvider();
    const before = providerState(b);
    for (let i = 0; i < 3; i++) expect((await b.browser().get(webAppRequest({ prompt: 'none' }))).status).toBe(302);
    expect(providerState(b).auditCount).toBe(before.auditCount);
    const rows = (await flushedRows(b)).slice(before.auditCount);
    expect(rows).toEqual([expect.objectContaining({ event: 'refusal_summary', endpoint: '/authorize', reason: 'login_required', source: 'unknown', count: 3 })]);
  });

  it('with a browser session, each /authorize refusal is a record naming the user and the client', async () => {
    const b = await startProvider();
    const { browser } = await signedIn(b);
    const principalId = b.db.prepare('SELECT principal_id FROM sessions').pluck().get();
    for (const overrides of [{ scope: 'email' }, { redirect_uri: 'https://evil.test/cb' }]) {
      const before = providerState(b).auditCount;
      await browser.get(webAppRequest(overrides));
      expect(providerState(b).auditCount).toBe(before + 1);
      expect(lastAudit(b)).toMatchObject({ event: 'refusal', principalId, clientId: 'wiki-agent' });
    }
    // A malformed request is refused before it is parsed, and still recorded as this user's.
    await browser.get(`${webAppRequest()}&x=%ff`);
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'malformed_body', principalId });
    expect((await flushedRows(b)).filter((r) => r.event === 'refusal_summary')).toEqual([]);
  });

  it('a login callback that fails: anonymous, unless the browser already has a session (a signed-in user logging in again)', async () => {
    const b = await startProvider();
    const stranger = b.browser();
    const state = location(await stranger.get(webAppRequest())).searchParams.get('state')!;
    const before = providerState(b).auditCount;
    expect(location(await stranger.get(`/login/oidc/corp/callback?state=${state}&error=access_denied`)).searchParams.get('error')).toBe('access_denied');
    expect(providerState(b).auditCount).toBe(before);

    const { browser } = await signedIn(b);
    const principalId = b.db.prepare('SELECT principal_id FROM sessions').pluck().get();
    const again = location(await browser.get(webAppRequest({ prompt: 'login' }))).searchParams.get('state')!;
    const atLogin = providerState(b).auditCount;
    expect(location(await browser.get(`/login/oidc/corp/callback?state=${again}&error=access_denied`)).searchParams.get('error')).toBe('access_denied');
    expect(providerState(b).auditCount).toBe(atLogin + 1);
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'upstream_refused', principalId, clientId: 'wiki-agent', detail: 'connection=corp upstream_error=access_denied' });
    expect((await flushedRows(b)).at(-1)).toMatchObject({ event: 'refusal_summary', endpoint: '/login/oidc/:id/callback', reason: 'upstream_refused', count: 1 });
  });

  it('/userinfo: an unverified token is anonymous; a verified one whose session ended is a record naming the client', async () => {
    const b = await startProvider();
    const { browser, tokens } = await signedIn(b);
    expect((await b.fetch('/userinfo', { headers: { authorization: 'Bearer forged' } })).status).toBe(401);
    expect((await b.fetch('/userinfo')).status).toBe(401);
    await browser.get(`/logout?id_token_hint=${tokens.id_token}`);
    const before = providerState(b).auditCount;
    expect((await b.fetch('/userinfo', { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(401);
    expect(providerState(b).auditCount).toBe(before + 1);
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'session_inactive', clientId: 'wiki-agent' });
    const summaries = (await flushedRows(b)).filter((r) => r.event === 'refusal_summary');
    expect(summaries.map((r) => [r.endpoint, r.reason, r.count])).toEqual(expect.arrayContaining([
      ['/userinfo', 'access_token_invalid', 1],
      ['/userinfo', 'access_token_missing', 1],
    ]));
    expect(summaries).toHaveLength(2);
  });

  it('/logout: a verified id_token_hint names a user (a record); without it or a session, anonymous', async () => {
    const b = await startProvider();
    const { tokens } = await signedIn(b);
    // No session cookie (another browser), a valid hint, an unregistered redirect.
    const before = providerState(b).auditCount;
    await b.browser().get(`/logout?${new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.test/' })}`);
    expect(providerState(b).auditCount).toBe(before + 1);
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'post_logout_redirect_uri_unregistered' });
    // No session, no valid hint.
    for (let i = 0; i < 2; i++) expect((await b.browser().get(`/logout?${new URLSearchParams({ id_token_hint: 'garbage', post_logout_redirect_uri: APP_LOGOUT })}`)).status).toBe(400);
    expect(providerState(b).auditCount).toBe(before + 1);
    expect((await flushedRows(b)).at(-1)).toMatchObject({ event: 'refusal_summary', endpoint: '/logout', reason: 'id_token_hint_invalid', count: 2 });
  });

  it('the same reason at two routes is two summaries: the endpoint is part of the key', async () => {
    const b = await floodBroker();
    const from = { 'x-forwarded-for': SOURCES[0]! };
    await b.request('/authorize?client_id=nobody&redirect_uri=https://evil.test/cb', { headers: from });
    await b.request('/token', { method: 'POST', headers: { ...from, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=authorization_code&client_id=nobody&client_secret=x' });
    const rows = await flushedRows(b);
    expect(rows.map((r) => [r.event, r.endpoint, r.reason, r.source, r.count]).sort()).toEqual([
      ['refusal_summary', '/authorize', 'client_unknown', SOURCE_KEYS[0], 1],
      ['refusal_summary', '/token', 'client_unknown', SOURCE_KEYS[0], 1],
    ]);
  });
});
