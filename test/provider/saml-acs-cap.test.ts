import { describe, expect, it } from 'vitest';
import { SAML_ACS_MAX_IN_FLIGHT, SAML_ACS_RETRY_AFTER } from '../../src/provider/limits.js';
import { FakeSamlUpstream } from './fake-upstream.js';
import { location, providerState, startProvider, webAppRequest } from './harness.js';

/**
 * The ACS admits at most SAML_ACS_MAX_IN_FLIGHT posts at a time, counted from before the body is
 * read: excess posts get 503 with Retry-After at once, unread, and store nothing, so a flood
 * cannot make the broker hold an unbounded number of bodies or queue unbounded work.
 */
describe('SAML ACS concurrency cap', () => {
  const withSaml = (clock: () => number) => [new FakeSamlUpstream('legacy', clock)];

  /** A POST whose body never finishes until `end` is called: it holds its ACS slot meanwhile. */
  function slowPost(b: Awaited<ReturnType<typeof startProvider>>) {
    let close!: () => void;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('SAMLResponse=forg'));
        close = () => {
          controller.enqueue(new TextEncoder().encode('ed'));
          controller.close();
        };
      },
    });
    const response = b.fetch('/login/saml/legacy/acs', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, duplex: 'half' } as RequestInit);
    return { response, end: () => close() };
  }

  it('answers 503 with Retry-After to posts beyond the cap, storing nothing; a slot freed is usable again', async () => {
    const b = await startProvider({ connections: withSaml });
    const held = Array.from({ length: SAML_ACS_MAX_IN_FLIGHT }, () => slowPost(b));
    await new Promise((r) => setTimeout(r, 20));

    const before = providerState(b);
    const browser = b.browser();
    const excess = await browser.post('/login/saml/legacy/acs', { SAMLResponse: 'ok' });
    expect(excess.status).toBe(503);
    expect(excess.headers.get('retry-after')).toBe(String(SAML_ACS_RETRY_AFTER));
    expect(excess.headers.get('cache-control')).toBe('no-store');
    expect(providerState(b)).toEqual(before);

    // The held posts complete (refused as forged) and free their slots.
    for (const h of held) h.end();
    const statuses = await Promise.all(held.map((h) => h.response.then((r) => r.status)));
    expect(statuses.every((s) => s === 400)).toBe(true);

    const start = await browser.get(webAppRequest());
    const res = await browser.post('/login/saml/legacy/acs', { SAMLResponse: 'ok', RelayState: location(start).searchParams.get('RelayState')! });
    expect(res.status).toBe(303);
  });
});
