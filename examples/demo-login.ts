/**
 * A user logging in to an app at the broker, scripted: the app (openid-client) sends a browser to
 * the broker's /authorize, the broker sends it on to the upstream OpenID Provider's login form,
 * the browser fills it in, and the app redeems the code for the broker's ID token. The same steps
 * as examples/demo-oidc.ts, reusable (the MCP demo and its interop test use them); `Browser` is the
 * one scripted browser of every demo.
 */
import * as client from 'openid-client';
import { cookieHeader, keepCookies } from './cookies.js';

/** A scripted browser: one cookie jar per origin, redirects followed one hop at a time. */
export class Browser {
  private readonly jars = new Map<string, Map<string, string>>();

  cookie(origin: string, name: string): string | undefined {
    return this.jars.get(origin)?.get(name);
  }

  async go(url: URL, form?: Record<string, string>): Promise<Response> {
    const jar = this.jars.get(url.origin) ?? new Map<string, string>();
    this.jars.set(url.origin, jar);
    const headers: Record<string, string> = cookieHeader(jar);
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method: form ? 'POST' : 'GET', headers, redirect: 'manual', ...(form ? { body: new URLSearchParams(form).toString() } : {}) });
    keepCookies(jar, res);
    return res;
  }

  /** Follows redirects from `start` until a URL for which `done` is true, or a page that is not a redirect. */
  async follow(start: URL, done: (url: URL) => boolean, hops: string[]): Promise<{ url: URL; res?: Response }> {
    let url = start;
    for (let i = 0; i < 10; i++) {
      if (done(url)) return { url };
      const res = await this.go(url);
      hops.push(`GET ${url.origin}${url.pathname} → ${res.status}`);
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return { url, res };
      await res.body?.cancel();
      url = new URL(location, url);
    }
    throw new Error('too many redirects');
  }
}

/** The OP's login form: where it posts. */
function loginFormAction(html: string, base: URL): URL {
  const action = /<form[^>]*method="post"[^>]*action="([^"]*)"/i.exec(html)?.[1];
  if (!action) throw new Error(`expected the OP's login form, got: ${html.slice(0, 300)}`);
  return new URL(action.replace(/&amp;/g, '&'), base);
}

export interface BrokerLogin {
  /** The broker's ID token for the app. */
  idToken: string;
  /** The browser's way through: broker, OP login form, broker callback, app. */
  hops: string[];
}

/**
 * Logs `user` in to the app `app` at `broker` (code + PKCE, state, nonce), through the OP at `op`
 * that the broker federates; resolves to the broker's ID token.
 */
export async function loginAtBroker(o: {
  broker: string;
  op: string;
  app: { client_id: string; client_secret: string; redirect_uri: string };
  user: { username: string; password: string; otp: string };
  scope?: string;
}): Promise<BrokerLogin> {
  const app = await client.discovery(new URL(o.broker), o.app.client_id, undefined, client.ClientSecretPost(o.app.client_secret), {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorize = client.buildAuthorizationUrl(app, {
    redirect_uri: o.app.redirect_uri,
    scope: o.scope ?? 'openid email profile',
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const browser = new Browser();
  const hops: string[] = [];
  // The broker sends the browser to the OP, which shows its login form.
  const atOp = await browser.follow(authorize, () => false, hops);
  if (atOp.res?.status !== 200 || atOp.url.origin !== new URL(o.op).origin) throw new Error(`expected the OP's login page, got ${atOp.res?.status} at ${atOp.url.href}`);
  const action = loginFormAction(await atOp.res.text(), atOp.url);
  const posted = await browser.go(action, { username: o.user.username, password: o.user.password, otp: o.user.otp });
  hops.push(`POST ${action.origin}${action.pathname} (username, password, one-time code) → ${posted.status}`);
  const location = posted.headers.get('location');
  if (!location) throw new Error(`the OP refused the login: ${posted.status}`);
  // The OP returns to the broker's callback; the broker returns to the app with a code.
  const back = await browser.follow(new URL(location, action), (u) => u.href.startsWith(o.app.redirect_uri), hops);
  if (!back.url.href.startsWith(o.app.redirect_uri)) throw new Error(`the login did not return to the app: ${back.res?.status} ${await back.res?.text()}`);
  const tokens = await client.authorizationCodeGrant(app, back.url, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  return { idToken: tokens.id_token!, hops };
}
