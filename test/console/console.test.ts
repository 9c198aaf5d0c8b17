import { beforeEach, describe, expect, it } from 'vitest';
import { CONSOLE_MAX_FORM_BYTES } from '../../src/console/limits.js';
import { csrfToken } from '../../src/console/security.js';
import { sha256Base64url } from '../../src/provider/crypto.js';
import { providerLimits } from '../../src/provider/index.js';
import { BROKER } from '../helpers/broker.js';
import { FakeSamlUpstream } from '../provider/fake-upstream.js';
import { ALICE, CAROL, DAVE, ORIGIN, startConsole, WRITER, type ConsoleBroker, type ConsoleBrowser } from './harness.js';

let b: ConsoleBroker;
beforeEach(async () => {
  b = await startConsole();
});

async function signedIn(identity = CAROL): Promise<ConsoleBrowser> {
  const browser = b.browser();
  const back = await browser.signIn(b, identity);
  expect(back.status).toBe(302);
  expect(back.headers.get('location')).toBe(`${BROKER}/console`);
  return browser;
}

/** The task as stored and the store's governance and audit rows, to compare before and after a refused POST. */
async function snapshot(id: string) {
  const rows = (sql: string) => b.db.prepare(sql).all();
  return JSON.stringify({ task: await b.task(id), tasks: rows('SELECT * FROM access_requests ORDER BY rowid'), audit: rows('SELECT seq FROM audit_log ORDER BY seq') });
}

describe('sign-in', () => {
  it('without a session, /console redirects to the console sign-in, which logs in upstream and comes back to /console', async () => {
    const browser = b.browser();
    const first = await browser.get('/console');
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe(`${BROKER}/console/sign-in?then=%2Fconsole`);
    const back = await browser.signIn(b, CAROL);
    expect(back.status).toBe(302);
    expect(back.headers.get('location')).toBe(`${BROKER}/console`);
    const list = await browser.get('/console');
    expect(list.status).toBe(200);
    expect(await list.text()).toContain('Signed in as <strong>carol@example.com</strong>');
  });

  it('a request page without a session comes back to that page after sign-in', async () => {
    const task = await b.submit();
    const browser = b.browser();
    const back = await browser.signIn(b, CAROL, `/console/requests/${task.id}`);
    expect(back.headers.get('location')).toBe(`${BROKER}/console/requests/${task.id}`);
  });

  it('sign-in never returns anywhere but the console (no open redirect)', async () => {
    for (const then of ['//evil.test/x', 'https://evil.test/', '/\\evil.test', '/console/../token', '/login/oidc/corp/callback']) {
      const browser = b.browser();
      b.oidc.identity = CAROL;
      const start = await browser.get(`/console/sign-in?${new URLSearchParams({ then })}`);
      const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
      const back = await browser.get(`/login/oidc/corp/callback?${new URLSearchParams({ state, code: 'c' })}`);
      expect(back.headers.get('location')).toBe(`${BROKER}/console`);
    }
  });

  it('with several connections and no default, sign-in shows a chooser whose links come back to the console; a SAML login returns with a 303', async () => {
    b = await startConsole((clock) => [new FakeSamlUpstream('legacy', clock)]);
    const browser = b.browser();
    const chooser = await browser.get('/console/sign-in?then=%2Fconsole');
    expect(chooser.status).toBe(200);
    const links = [...(await chooser.text()).matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));
    expect(links).toEqual([`${BROKER}/console/sign-in?then=%2Fconsole&connection=corp`, `${BROKER}/console/sign-in?then=%2Fconsole&connection=legacy`]);
    const start = await browser.get(links[1]!);
    const relayState = new URL(start.headers.get('location')!).searchParams.get('RelayState')!;
    const back = await browser.post('/login/saml/legacy/acs', { SAMLResponse: 'ok', RelayState: relayState }, {});
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe(`${BROKER}/console`);
    expect((await browser.get('/console')).status).toBe(200);
    expect((await browser.get('/console/sign-in?connection=nope')).status).toBe(302);
    expect((await b.browser().get('/console/sign-in?connection=nope')).status).toBe(400);
  });

  it('the approver is who the session says, whatever the form claims', async () => {
    const task = await b.submit();
    const browser = await signedIn(CAROL);
    const csrf = await browser.csrf(task.id);
    const res = await browser.post(`/console/requests/${task.id}/approve`, { csrf, duration: 'PT1H', approver: 'someone-else', decidedBy: 'x' });
    expect(res.status).toBe(303);
    expect((await b.task(task.id))?.decidedByLabel).toBe('carol@example.com');
  });
});

describe('what approvers see', () => {
  it('lists the pending requests they may decide: who, app, destination, scopes, justification, policy, duration, age', async () => {
    await b.submit({ justification: 'Release day: I need to close the sprint tasks', requestedDuration: 8 * 3600 });
    b.clock.now += 600;
    const browser = await signedIn(WRITER);
    const html = await (await browser.get('/console')).text();
    for (const text of ['alice@example.com', 'Wiki &lt;Agent&gt;', 'wiki-agent', 'todo', 'todos.write', 'Release day: I need to close the sprint tasks', 'todo-write-needs-approval', '8 hours', 'PT8H', '10 minutes ago']) {
      expect(html).toContain(text);
    }
  });

  it('someone who is not an approver sees no requests, and a request page refuses them with 403 naming the policy', async () => {
    const task = await b.submit({ justification: 'private reasons' });
    const browser = await signedIn(DAVE);
    const list = await (await browser.get('/console')).text();
    expect(list).not.toContain('private reasons');
    expect(list).toContain('There are no pending access requests for you to decide.');
    const page = await browser.get(`/console/requests/${task.id}`);
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('You are not an approver for policy todo-write-needs-approval.');
  });

  it('an unknown request is 404', async () => {
    const browser = await signedIn();
    expect((await browser.get(`/console/requests/arq_${'A'.repeat(43)}`)).status).toBe(404);
    expect((await browser.get('/console/requests/not-an-id')).status).toBe(404);
  });

  it('escapes a hostile justification and app name', async () => {
    const task = await b.submit({ justification: '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&' });
    const browser = await signedIn();
    for (const path of ['/console', `/console/requests/${task.id}`]) {
      const html = await (await browser.get(path)).text();
      expect(html).not.toContain('<script');
      expect(html).not.toContain('<img');
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;');
      expect(html).not.toContain('Wiki <Agent>');
    }
  });

  it('pages are never cached or framed, run no script and load only the broker’s stylesheet', async () => {
    const task = await b.submit();
    const browser = await signedIn();
    for (const path of ['/console', `/console/requests/${task.id}`]) {
      const res = await browser.get(path);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("form-action 'self'");
      expect(csp).not.toMatch(/script-src|unsafe-inline/);
      const html = await res.text();
      expect(html).toMatch(/^<!DOCTYPE html><html lang="en">/);
      expect(html).not.toMatch(/<script|style=/i);
    }
    const css = await b.fetch('/console/console.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('the approve form defaults to the requested duration, capped by the policy, and shows the maximum', async () => {
    const asked = await b.submit({ requestedDuration: 86_400 });
    const unasked = await b.submit();
    const browser = await signedIn();
    const one = await (await browser.get(`/console/requests/${asked.id}`)).text();
    expect(one).toMatch(/<input id="duration" name="duration" type="text" required="" value="P1D"/);
    expect(one).toContain('At most P7D (1 week)');
    const other = await (await browser.get(`/console/requests/${unasked.id}`)).text();
    expect(other).toMatch(/name="duration" type="text" required="" value="P7D"/);
  });

  it('every input is labelled and the headings are in order', async () => {
    const task = await b.submit();
    const browser = await signedIn();
    const html = await (await browser.get(`/console/requests/${task.id}`)).text();
    const ids = [...html.matchAll(/<(?:input|textarea)\b(?![^>]*type="hidden")[^>]*\bid="([^"]+)"/g)].map((m) => m[1]);
    expect(ids).toEqual(['duration', 'reason']);
    for (const id of ids) expect(html).toContain(`<label for="${id}">`);
    expect([...html.matchAll(/<h([1-6])/g)].map((m) => Number(m[1]))).toEqual([1, 2, 2]);
    expect(html).toMatch(/<div role="status"/);
  });
});

describe('deciding', () => {
  it('approves with a duration: 303 back to the list with a status message; the task is approved until now + duration', async () => {
    const task = await b.submit();
    const browser = await signedIn();
    const csrf = await browser.csrf(task.id);
    const res = await browser.post(`/console/requests/${task.id}/approve`, { csrf, duration: 'PT8H' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${BROKER}/console?done=approved&request=${task.id}`);
    const stored = await b.task(task.id);
    expect(stored).toMatchObject({ status: 'approved', decidedByLabel: 'carol@example.com', approval: { approvedUntil: b.clock.now + 8 * 3600 } });
    const list = await (await browser.get(res.headers.get('location')!)).text();
    expect(list).toMatch(/<div role="status" class="notice ok">Approved alice@example.com&#39;s request for todos.write at todo until \d{4}-\d\d-\d\d \d\d:\d\d UTC\.<\/div>/);
    expect(list).toContain('There are no pending access requests for you to decide.');
  });

  it('approving again is refused as an invalid state (409) and changes nothing', async () => {
    const task = await b.submit();
    const browser = await signedIn();
    const csrf = await browser.csrf(task.id);
    expect((await browser.post(`/console/requests/${task.id}/approve`, { csrf, duration: 'PT1H' })).status).toBe(303);
    const before = await snapshot(task.id);
    b.clock.now += 5;
    const again = await browser.post(`/console/requests/${task.id}/approve`, { csrf, duration: 'PT2H' });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('The access request is approved.');
    expect(await snapshot(task.id)).toBe(before);
  });

  it('an approval longer than the policy allows is refused (400) and changes nothing', async () => {
    const task = await b.submit();
    const browser = await signedIn();
    const csrf = await browser.csrf(task.id);
    const before = await snapshot(task.id);
    const res = await browser.post(`/console/requests/${task.id}/approve`, { csrf, duration: 'P8D' });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('The policy allows approvals of at most P7D.');
    expect(html).toMatch(/value="P8D"/);
    expect(await snapshot(task.id)).toBe(before);
    const garbage = await browser.post(`/console/requests/${task.id}/approve`, { csrf, duration: 'eight hours' });
    expect(garbage.status).toBe(400);
    expect(await garbage.text()).toContain('The duration must be an ISO 8601 duration such as PT8H or P2D.');
    expect(await snapshot(task.id)).toBe(before);
  });

  it('a denial needs a reason (400, nothing changes); with one, the task is denied with it', async () => {
    const task = await b.submit();
    const browser = await signedIn();
    const csrf = await browser.csrf(task.id);
    const before = await snapshot(task.id);
    const forms: Record<string, string>[] = [{ csrf }, { csrf, reason: '   ' }, { csrf, reason: 'x'.repeat(501) }];
    for (const form of forms) {
      const res = await browser.post(`/console/requests/${task.id}/deny`, form);
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('A denial needs a reason of 1 to 500 characters.');
      expect(await snapshot(task.id)).toBe(before);
    }
    const res = await browser.post(`/console/requests/${task.id}/deny`, { csrf, reason: 'Use the read-only export' });
    expect(res.status).toBe(303);
    expect(await b.task(task.id)).toMatchObject({ status: 'denied', reason: 'Use the read-only export' });
    expect(await (await browser.get(res.headers.get('location')!)).text()).toContain('Denied alice@example.com&#39;s request for todos.write at todo.');
  });

  it('someone who is not an approver is refused (403) even with a valid CSRF token, and nothing changes', async () => {
    const task = await b.submit();
    const browser = await signedIn(DAVE);
    // Dave's own token for this task, as his session produces it: only eligibility stops him.
    const secret = browser.cookies.get(`${providerLimits.HOST_PREFIX}${providerLimits.SESSION_COOKIE}`)!;
    const record = await b.services.store.sessions.active(await sha256Base64url(secret), b.clock.now);
    const csrf = await csrfToken({ record: record!, secret }, task.id);
    const before = await snapshot(task.id);
    const res = await browser.post(`/console/requests/${task.id}/approve`, { csrf, duration: 'PT1H' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('You are not an approver for policy todo-write-needs-approval.');
    expect(await snapshot(task.id)).toBe(before);
  });

  it('nobody decides their own request', async () => {
    const task = await b.submit();
    const browser = await signedIn(ALICE);
    const page = await browser.get(`/console/requests/${task.id}`);
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('Nobody may decide an access request for themselves.');
  });
});

describe('CSRF and origin', () => {
  it('refuses a POST without a CSRF token, with a wrong one, or with another session’s (403), and nothing changes', async () => {
    const task = await b.submit();
    const second = await b.submit();
    const browser = await signedIn();
    const other = await signedIn(WRITER);
    const othersToken = await other.csrf(task.id);
    // A token is bound to its task too.
    const secondToken = await browser.csrf(second.id);
    const before = await snapshot(task.id);
    const forms: Record<string, string>[] = [{ duration: 'PT1H' }, { csrf: 'A'.repeat(43), duration: 'PT1H' }, { csrf: othersToken, duration: 'PT1H' }, { csrf: 'short', duration: 'PT1H' }, { csrf: secondToken, duration: 'PT1H' }];
    for (const form of forms) {
      const res = await browser.post(`/console/requests/${task.id}/approve`, form);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('The form could not be verified.');
    }
    expect((await browser.post(`/console/requests/${task.id}/deny`, { csrf: secondToken, reason: 'no' })).status).toBe(403);
    expect(await snapshot(task.id)).toBe(before);
  });

  it('refuses a cross-origin POST, or one that shows no origin at all (403), even with a valid token, and nothing changes', async () => {
    const task = await b.submit();
    const browser = await signedIn();
    const csrf = await browser.csrf(task.id);
    const before = await snapshot(task.id);
    const refused: Record<string, string>[] = [{ origin: 'https://evil.test' }, { origin: 'null' }, { origin: ORIGIN, 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, {}];
    for (const headers of refused) {
      const res = await browser.post(`/console/requests/${task.id}/approve`, { csrf, duration: 'PT1H' }, headers);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('This form was not sent from the approval console.');
    }
    expect(await snapshot(task.id)).toBe(before);
    // A browser that sends only Sec-Fetch-Site: same-origin is accepted.
    expect((await browser.post(`/console/requests/${task.id}/approve`, { csrf, duration: 'PT1H' }, { 'sec-fetch-site': 'same-origin' })).status).toBe(303);
  });

  it('a POST without a session is refused (403) and changes nothing', async () => {
    const task = await b.submit();
    const before = await snapshot(task.id);
    const res = await b.browser().post(`/console/requests/${task.id}/approve`, { csrf: 'A'.repeat(43), duration: 'PT1H' });
    expect(res.status).toBe(403);
    expect(await snapshot(task.id)).toBe(before);
  });

  it('a form body over the bound is refused (413) and changes nothing', async () => {
    const task = await b.submit();
    const browser = await signedIn();
    const csrf = await browser.csrf(task.id);
    const before = await snapshot(task.id);
    const res = await browser.post(`/console/requests/${task.id}/deny`, { csrf, reason: 'x'.repeat(CONSOLE_MAX_FORM_BYTES) });
    expect(res.status).toBe(413);
    expect(await snapshot(task.id)).toBe(before);
  });
});
