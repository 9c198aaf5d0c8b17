import type { BrokerConfigInput } from '../../../src/config/schema.js';
import { nodeSamlFactory } from '../../../src/runtime/node-saml.js';
import { CookieJar as BaseCookieJar } from '../../helpers/cookie-jar.js';
import { BROKER, startTestBroker, testSettings, type TestBroker } from '../../helpers/broker.js';

/**
 * A whole broker (createBroker, the Node SAML factory) with one real SAML connection `corp` and one
 * OpenID app, driven through `app.request()` with a cookie jar: login start and ACS as a browser
 * meets them.
 */

export const APP = { client_id: 'wiki-agent', redirect_uri: 'https://app.test/cb' };
export const SAML_ACS = `${BROKER}/login/saml/corp/acs`;
export const SAML_SP = `${BROKER}/login/saml/corp/metadata`;

export async function samlBroker(connection: Record<string, unknown>): Promise<TestBroker> {
  const settings = await testSettings((s: BrokerConfigInput) => {
    s.connections = [
      {
        type: 'saml',
        id: 'corp',
        display_name: 'Corp SAML',
        sp_entity_id: SAML_SP,
        acs_url: SAML_ACS,
        authority: { email: { domains: ['example.com'], verified: 'always' } },
        ...connection,
      } as never,
    ];
    const wiki = s.clients!.find((c) => c.client_id === APP.client_id)!;
    wiki.oidc = { redirect_uris: [APP.redirect_uri], subject_namespace: 'analytics-users', scopes: ['openid', 'email'] };
  });
  return startTestBroker({ settings, deps: { saml: nodeSamlFactory } });
}

export function authorizeUrl(state = 'state-1'): string {
  return `/authorize?${new URLSearchParams({ client_id: APP.client_id, redirect_uri: APP.redirect_uri, response_type: 'code', scope: 'openid email', state, nonce: 'nonce-1' })}`;
}

/** One browser's cookies at this test broker. */
export class CookieJar extends BaseCookieJar {
  constructor(broker: TestBroker) {
    super((path, init) => broker.request(path, init));
  }
}

/** The auto-submitting form of an HTTP-POST binding page: its action and fields, markup-exact enough to be read back. */
export function readPostForm(html: string): { action: string; fields: Record<string, string>; scriptNonces: string[]; noscriptButton: boolean } {
  const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const forms = [...html.matchAll(/<form method="post" action="([^"]*)">/g)];
  if (forms.length !== 1) throw new Error(`expected one form, found ${forms.length}`);
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) fields[unescape(m[1]!)] = unescape(m[2]!);
  const scriptNonces = [...html.matchAll(/<script([^>]*)>/g)].map((m) => /nonce="([^"]+)"/.exec(m[1]!)?.[1] ?? '');
  return { action: unescape(forms[0]![1]!), fields, scriptNonces, noscriptButton: /<noscript><button type="submit">[^<]+<\/button><\/noscript>/.test(html) };
}
