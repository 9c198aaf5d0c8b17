import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type ClientMetadata, type Configuration } from 'oidc-provider';
import { cookieHeader, keepCookies } from '../../../examples/cookies.js';

/**
 * A real upstream OpenID Provider (oidc-provider 9) on an ephemeral loopback port. Its interaction
 * pages are replaced by a handler that finishes each interaction programmatically with what the
 * test set in `op.next`: log an account in (with acr, amr and an auth_time of its choosing) and
 * grant consent, or deny with an OAuth error.
 */

export interface Account {
  sub: string;
  email: string;
  name: string;
}

export interface NextInteraction {
  accountId: string;
  acr?: string;
  amr?: string[];
  /** Seconds since epoch; becomes the ID token's auth_time. */
  loginTs?: number;
  /** Deny instead of logging in: the callback carries this OAuth error. */
  deny?: string;
}

export interface TestOp {
  issuer: string;
  provider: Provider;
  next: NextInteraction;
  /** Authorization request parameters, as the OP saw them at the last interaction. */
  lastParams: Record<string, unknown> | undefined;
  close(): Promise<void>;
}

export const ACCOUNTS: Record<string, Account> = {
  alice: { sub: 'alice-0001', email: 'alice@corp.example', name: 'Alice Example' },
  bob: { sub: 'bob-0002', email: 'bob@corp.example', name: 'Bob Example' },
};

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

async function signingKeys(): Promise<Configuration['jwks']> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { keys: [{ ...(await exportJWK(privateKey)), kid: 'test-op-1', alg: 'RS256', use: 'sig' }] as never };
}

function configuration(op: TestOp, clients: ClientMetadata[], jwks: Configuration['jwks']): Configuration {
  return {
    clients,
    jwks,
    cookies: { keys: ['test-op-cookie-key'] },
    // Like most workforce OPs, acr, amr and auth_time come with every ID token; sid only on request.
    claims: {
      sid: null,
      iss: null,
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    features: { devInteractions: { enabled: false }, claimsParameter: { enabled: true } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, id) => {
      const account = Object.values(ACCOUNTS).find((a) => a.sub === id);
      if (!account) return undefined;
      return { accountId: id, claims: () => ({ sub: account.sub, email: account.email, email_verified: true, name: account.name }) };
    },
    // Errors the OP shows the user come back as JSON, so a failing test says why.
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  } as Configuration;
}

/** Finishes whatever the OP is asking for: login first, then consent. */
async function interact(op: TestOp, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { provider } = op;
  const interaction = await provider.interactionDetails(req, res);
  op.lastParams = { ...interaction.params };
  const { next } = op;
  if (next.deny) {
    await provider.interactionFinished(req, res, { error: next.deny, error_description: 'the test OP denied' }, { mergeWithLastSubmission: false });
    return;
  }
  if (interaction.prompt.name === 'login') {
    const account = ACCOUNTS[next.accountId];
    if (!account) throw new Error(`test OP: no account ${next.accountId}`);
    const login = { accountId: account.sub, acr: next.acr, amr: next.amr, ts: next.loginTs, remember: false };
    await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
    return;
  }
  const accountId = interaction.session?.accountId;
  if (!accountId) throw new Error('test OP: consent without a session');
  const grant = interaction.grantId
    ? await provider.Grant.find(interaction.grantId)
    : new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
  if (!grant) throw new Error('test OP: grant vanished');
  const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

export async function startTestOp(clients: ClientMetadata[]): Promise<TestOp> {
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const server = createServer((req, res) => handle(req, res));
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const op = { issuer, next: { accountId: 'alice' }, lastParams: undefined } as TestOp;
  op.provider = new Provider(issuer, configuration(op, clients, await signingKeys()));
  const callback = op.provider.callback();
  handle = (req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      interact(op, req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
      return;
    }
    callback(req, res);
  };
  op.close = () => new Promise((resolve) => server.close(() => resolve()));
  return op;
}

/**
 * A browser that follows the OP's redirects with its cookies until the OP sends it to the broker's
 * callback, and returns that URL (the broker's callback itself is not fetched).
 */
export async function browse(start: URL, callbackPrefix: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = start;
  for (let hop = 0; hop < 20; hop++) {
    if (url.href.startsWith(callbackPrefix)) return url;
    const res = await fetch(url, { redirect: 'manual', headers: cookieHeader(jar) });
    keepCookies(jar, res);
    const location = res.headers.get('location');
    if (!location) throw new Error(`test browser: ${res.status} at ${url.pathname} without a redirect: ${await res.text()}`);
    await res.body?.cancel();
    url = new URL(location, url);
  }
  throw new Error('test browser: too many redirects');
}
