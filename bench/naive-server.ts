/**
 * A naive token endpoint, alone in its process (`node --import tsx bench/naive-server.ts jose|crypto`,
 * on $PORT): Hono, the broker's own form parser, and one ES256 JWT signed per request.
 *
 * - `jose`: signed with jose's SignJWT (WebCrypto): what a developer writes first, and the
 *   reference every other target is compared with.
 * - `crypto`: the JWS assembled by hand and signed with node:crypto (`ieee-p1363`, the JWS
 *   signature encoding): the physical floor of "parse a form, sign a JWT" on Node. Bench code
 *   only; the broker never hand-assembles a JWS.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { SignJWT, generateKeyPair } from 'jose';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { readForm } from '../src/http/form.js';

const ISSUER = 'http://naive.bench';
const AUDIENCE = 'https://todo.bench';
const LIFETIME = 300;

type Signer = (claims: Record<string, unknown>) => Promise<string> | string;

async function joseSigner(): Promise<Signer> {
  const { privateKey } = await generateKeyPair('ES256');
  return (claims) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'oauth-id-jag+jwt', kid: 'k' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${LIFETIME}s`)
      .setJti(randomUUID())
      .sign(privateKey);
}

function cryptoSigner(): Signer {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'oauth-id-jag+jwt', kid: 'k' })).toString('base64url');
  return (claims) => {
    const now = Math.floor(Date.now() / 1000);
    const payload = Buffer.from(JSON.stringify({ ...claims, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + LIFETIME, jti: randomUUID() })).toString('base64url');
    const input = `${header}.${payload}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
}

const kind = process.argv[2];
if (kind !== 'jose' && kind !== 'crypto') throw new Error('usage: naive-server.ts jose|crypto');
const signJwt = kind === 'jose' ? await joseSigner() : cryptoSigner();

const app = new Hono();
app.post('/token', async (c) => {
  const form = await readForm(c.req.raw);
  const jwt = await signJwt({ sub: form.get('subject_token_type') ?? 'x', scope: form.get('scope') });
  // The shape of an RFC 8693 answer, as the broker's: the pulled section's pipeline client checks issued_token_type.
  return c.json({ access_token: jwt, issued_token_type: 'urn:ietf:params:oauth:token-type:id-jag', token_type: 'N_A', expires_in: LIFETIME }, 200, { 'Cache-Control': 'no-store' });
});
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
