/**
 * A small workforce OpenID Provider for the OIDC demo, built with oidc-provider 9: its own RSA
 * signing key (generated at start), discovery, JWKS, the authorization code flow with PKCE, and
 * userinfo. Like most workforce OPs, its ID tokens carry only the login (sub, acr, amr,
 * auth_time, and sid on request): email, name and groups are served at userinfo.
 *
 * Its login page is a bare HTML form (username, password, one-time code) at
 * `/interaction/:uid`, posted to `/interaction/:uid/login`; the demo's scripted browser fills it
 * in. Consent is not asked: the broker is registered as a first-party client, and the OP grants
 * it what it requests. Accounts, passwords and the one-time code are fixed. Never run it anywhere
 * but on localhost.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

export interface OidcIdpUser {
  /** The OP's subject identifier for this person (the same at every client, in this demo). */
  sub: string;
  username: string;
  password: string;
  /** The one-time code the login form accepts as the second factor. */
  otp: string;
  email: string;
  givenName: string;
  familyName: string;
  name: string;
  groups: string[];
}

/** Alice, the demos' person at the OP, in the groups a demo's policies ask about. */
export function demoAlice(groups: string[]): OidcIdpUser {
  return {
    sub: '00u1a2b3c4d5e6f7g8h9',
    username: 'alice',
    password: 'correct horse battery staple',
    otp: '246810',
    email: 'alice@corp.example',
    givenName: 'Alice',
    familyName: 'Liddell',
    name: 'Alice Liddell',
    groups,
  };
}

export interface OidcIdpOptions {
  /** Where the OP is served, e.g. `http://localhost:9000`: its Issuer Identifier. */
  issuer: string;
  /** Registered clients (the broker); all of them first-party: no consent page. */
  clients: ClientMetadata[];
  users: OidcIdpUser[];
  /** The acr of a login with the one-time code (default `urn:corp:loa:2fa`). */
  mfaAcr?: string;
}

/** One login at the form, as the OP recorded it. */
export interface OidcIdpLogin {
  uid: string;
  accountId: string;
  acr: string;
  amr: string[];
  ts: number;
}

export interface OidcIdp {
  issuer: string;
  provider: Provider;
  /** The OP as a Node request listener (node:http `createServer(idp.listener)`). */
  listener: RequestListener;
  /** Logins at the form, oldest first. */
  readonly logins: readonly OidcIdpLogin[];
  /** Token endpoint responses (with the ID tokens the OP issued), oldest first. */
  readonly tokenResponses: readonly Record<string, unknown>[];
  /** Userinfo responses, oldest first. */
  readonly userinfoResponses: readonly Record<string, unknown>[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function loginPage(uid: string, clientId: string, error?: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Corp SSO: sign in</title></head>
<body>
<h1>Sign in to continue to ${esc(clientId)}</h1>
${error ? `<p role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<label>One-time code <input name="otp" inputmode="numeric" autocomplete="one-time-code"></label>
<button type="submit">Sign in</button>
</form>
</body></html>`;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 16_384) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res: ServerResponse, status: number, type: string, body: string) {
  res.statusCode = status;
  res.setHeader('content-type', `${type}; charset=utf-8`);
  res.setHeader('cache-control', 'no-store');
  res.end(body);
}

export async function createOidcIdp(options: OidcIdpOptions): Promise<OidcIdp> {
  const users = new Map(options.users.map((u) => [u.sub, u]));
  const logins: OidcIdpLogin[] = [];
  const tokenResponses: Record<string, unknown>[] = [];
  const userinfoResponses: Record<string, unknown>[] = [];
  const mfaAcr = options.mfaAcr ?? 'urn:corp:loa:2fa';
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });

  const configuration: Configuration = {
    clients: options.clients,
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'corp-sso-1', alg: 'RS256', use: 'sig' }] as never },
    cookies: { keys: [crypto.randomUUID()] },
    // The ID token carries the login; the person's claims are at userinfo (conformIdTokenClaims).
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      sid: null,
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    acrValues: ['urn:corp:loa:pwd', mfaAcr],
    features: { devInteractions: { enabled: false }, claimsParameter: { enabled: true } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, id) => {
      const user = users.get(id);
      if (!user) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: user.sub,
          email: user.email,
          email_verified: true,
          name: user.name,
          given_name: user.givenName,
          family_name: user.familyName,
          groups: user.groups,
        }),
      };
    },
    // First-party clients only: what the client asks for (OIDC scopes, claims requested by name)
    // is granted without a consent page.
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const { oidc } = ctx;
      if (!oidc.session?.accountId || !oidc.client) return undefined;
      const existing = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(oidc.client.clientId);
      const grant = (existing ? await oidc.provider.Grant.find(existing) : undefined) ?? new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
      grant.addOIDCClaims([...oidc.requestParamClaims]);
      await grant.save();
      return grant;
    },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, AuthorizationCode: 60, IdToken: 300 },
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
  const provider = new Provider(options.issuer, configuration);

  // Keep what the token and userinfo endpoints answered, for the demo to show.
  provider.use(async (ctx, next) => {
    await next();
    const route = (ctx as KoaContextWithOIDC).oidc?.route;
    if (ctx.status !== 200 || !ctx.body || typeof ctx.body !== 'object') return;
    if (route === 'token') tokenResponses.push({ ...(ctx.body as Record<string, unknown>) });
    if (route === 'userinfo') userinfoResponses.push({ ...(ctx.body as Record<string, unknown>) });
  });

  async function interaction(req: IncomingMessage, res: ServerResponse, uid: string, action: string | undefined) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return send(res, 400, 'text/plain', 'interaction mismatch');
    const clientId = String(details.params.client_id);
    if (details.prompt.name !== 'login') return send(res, 400, 'text/plain', `unexpected prompt ${details.prompt.name}`);
    if (req.method === 'GET' && action === undefined) return send(res, 200, 'text/html', loginPage(uid, clientId));
    if (req.method !== 'POST' || action !== 'login') return send(res, 405, 'text/plain', 'method not allowed');

    const form = await readForm(req);
    const user = options.users.find((u) => u.username === form.get('username'));
    if (!user || form.get('password') !== user.password) return send(res, 200, 'text/html', loginPage(uid, clientId, 'Wrong username or password.'));
    const otp = form.get('otp');
    if (otp && otp !== user.otp) return send(res, 200, 'text/html', loginPage(uid, clientId, 'Wrong one-time code.'));
    const login: OidcIdpLogin = {
      uid,
      accountId: user.sub,
      acr: otp ? mfaAcr : 'urn:corp:loa:pwd',
      amr: otp ? ['pwd', 'otp', 'mfa'] : ['pwd'],
      ts: Math.floor(Date.now() / 1000),
    };
    logins.push(login);
    await provider.interactionFinished(req, res, { login: { accountId: login.accountId, acr: login.acr, amr: login.amr, ts: login.ts, remember: false } }, { mergeWithLastSubmission: false });
  }

  const callback = provider.callback();
  const listener: RequestListener = (req, res) => {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/([a-z]+))?(?:\?.*)?$/.exec(req.url ?? '');
    if (!m) return void callback(req, res);
    interaction(req, res, m[1]!, m[2]).catch((err: unknown) => {
      if (!res.headersSent) send(res, 400, 'text/plain', `interaction failed: ${err instanceof Error ? err.message : String(err)}`);
      else res.end();
    });
  };

  return { issuer: options.issuer, provider, listener, logins, tokenResponses, userinfoResponses };
}
