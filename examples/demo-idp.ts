/**
 * A tiny upstream IdP for the demo and the tests: it publishes a JWKS and signs ID tokens for
 * whoever asks. It stands in for a workforce IdP that delegates cross-app minting to the broker.
 * It has no login: never run it anywhere but on localhost.
 */
import { Hono } from 'hono';
import { SignJWT, exportJWK, generateKeyPair, calculateJwkThumbprint, type JWK } from 'jose';

export interface DemoUser {
  sub: string;
  email?: string;
  /** Whether the IdP verified the email; like a workforce directory, it has unless told otherwise. */
  email_verified?: boolean;
  groups?: string[];
  amr?: string[];
  acr?: string;
}

export interface DemoIdp {
  issuer: string;
  app: Hono;
  jwks: { keys: JWK[] };
  /** Signs an ID token for `user`, issued to `audience` (the client). */
  idToken(user: DemoUser, audience: string, options?: { lifetime?: number; now?: number; extra?: Record<string, unknown> }): Promise<string>;
}

export async function createDemoIdp(issuer = 'http://localhost:9000'): Promise<DemoIdp> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks = { keys: [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' }] };

  const idToken: DemoIdp['idToken'] = async (user, audience, options = {}) => {
    const now = options.now ?? Math.floor(Date.now() / 1000);
    return new SignJWT({
      email: user.email,
      ...(user.email !== undefined ? { email_verified: user.email_verified ?? true } : {}),
      groups: user.groups,
      amr: user.amr ?? ['pwd'],
      acr: user.acr,
      auth_time: now,
      ...options.extra,
    })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setSubject(user.sub)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + (options.lifetime ?? 600))
      .sign(privateKey);
  };

  const app = new Hono();
  app.get('/.well-known/openid-configuration', (c) => c.json({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['ES256'] }));
  app.get('/jwks', (c) => c.json(jwks));
  // Demo only: hands out an ID token for a named user. A real IdP would run a login here.
  app.post('/demo/id-token', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as Partial<DemoUser> & { client_id?: string };
    if (typeof body.sub !== 'string' || typeof body.client_id !== 'string') return c.json({ error: 'invalid_request' }, 400);
    return c.json({ id_token: await idToken(body as DemoUser, body.client_id) });
  });
  return { issuer, app, jwks, idToken };
}
