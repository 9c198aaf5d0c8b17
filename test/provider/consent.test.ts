import { describe, expect, it } from 'vitest';
import { FORM_LIFETIME } from '../../src/provider/limits.js';
import { CONSENT_CALLBACK, authorizePath, lastAudit, location, loginThroughUpstream, providerState, startProvider, webAppRequest, type Browser } from './harness.js';

const consentRequest = (overrides: Record<string, string> = {}) =>
  authorizePath({ client_id: 'basic-agent', redirect_uri: CONSENT_CALLBACK, response_type: 'code', scope: 'openid email', state: 'c-1', ...overrides });

/** The consent form's hidden fields. */
function formOf(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]!] = m[2]!.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  return fields;
}

async function consentPage(res: Response) {
  expect(res.status).toBe(200);
  const html = await res.text();
  expect(html).toContain('action="/authorize/consent"');
  return { html, fields: formOf(html) };
}

async function answer(browser: Browser, fields: Record<string, string>, decision: string) {
  return browser.post('/authorize/consent', { ...fields, decision });
}

describe('consent, only where configured', () => {
  it('is asked of a client that requires it; allowing issues the code (303) and is remembered', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const { html, fields } = await consentPage(await loginThroughUpstream(browser, consentRequest()));
    expect(html).toContain('Consent &lt;App&gt;');
    expect(html).toContain('<li>email</li>');
    expect(b.db.prepare('SELECT count(*) FROM authorization_codes').pluck().get()).toBe(0);

    const res = await answer(browser, fields, 'allow');
    expect(res.status).toBe(303);
    const to = location(res);
    expect(to.origin + to.pathname).toBe(CONSENT_CALLBACK);
    expect(to.searchParams.get('state')).toBe('c-1');
    expect(to.searchParams.get('code')).toBeTruthy();

    // Remembered for these scopes: no page the second time, even with prompt=none.
    const again = await browser.get(consentRequest({ prompt: 'none', state: 'c-2' }));
    expect(location(again).searchParams.get('code')).toBeTruthy();
    // A scope not consented to yet asks again.
    await consentPage(await browser.get(consentRequest({ scope: 'openid email profile' })));
  });

  it('prompt=consent asks again even when remembered', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const { fields } = await consentPage(await loginThroughUpstream(browser, consentRequest()));
    await answer(browser, fields, 'allow');
    await consentPage(await browser.get(consentRequest({ prompt: 'consent' })));
  });

  it('denying sends access_denied to the client', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const { fields } = await consentPage(await loginThroughUpstream(browser, consentRequest()));
    const res = await answer(browser, fields, 'deny');
    expect(res.status).toBe(303);
    expect(location(res).searchParams.get('error')).toBe('access_denied');
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'consent_denied', clientId: 'basic-agent' });
    expect(b.db.prepare('SELECT count(*) FROM authorization_codes').pluck().get()).toBe(0);
  });

  it('prompt=none when consent is needed → consent_required', async () => {
    const b = await startProvider();
    const browser = b.browser();
    await loginThroughUpstream(browser, consentRequest());
    const res = await browser.get(consentRequest({ prompt: 'none' }));
    expect(location(res).searchParams.get('error')).toBe('consent_required');
  });

  it('is never asked of a client that does not require it, even with prompt=consent', async () => {
    const b = await startProvider();
    const res = await loginThroughUpstream(b.browser(), webAppRequest({ prompt: 'consent' }));
    expect(location(res).searchParams.get('code')).toBeTruthy();
  });

  it('the form is bound to the session, the request and the time', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const { fields } = await consentPage(await loginThroughUpstream(browser, consentRequest()));

    // Another browser (another session) cannot submit it.
    const other = b.browser();
    await loginThroughUpstream(other, webAppRequest());
    const before = providerState(b);
    const foreign = await answer(other, fields, 'allow');
    expect(foreign.status).toBe(400);
    expect(lastAudit(b)).toMatchObject({ reason: 'form_token_invalid' });
    expect(providerState(b).tables).toEqual(before.tables);

    // The request it covers cannot be changed.
    const widened = await answer(browser, { ...fields, request: fields.request!.replace('scope=openid+email', 'scope=openid+email+profile') }, 'allow');
    expect(widened.status).toBe(400);

    // Without any session there is nothing to consent for.
    const anonymous = await answer(b.browser(), fields, 'allow');
    expect(anonymous.status).toBe(400);

    // It expires.
    b.clock.now += FORM_LIFETIME + 1;
    const late = await answer(browser, fields, 'allow');
    expect(late.status).toBe(400);
    expect(lastAudit(b)).toMatchObject({ reason: 'form_token_invalid' });
  });
});
