import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Hono } from 'hono';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../src/constants.js';
import { IdJagRejected, JWT_BEARER_GRANT_TYPE, JWT_DPOP_GRANT_TYPE } from '../../src/destination/index.js';
import type { OAuthError } from '../../src/oauth/errors.js';
import { createDestinationAs } from '../../examples/destination-as/app.js';
import { BROKER, DESTINATION, NOW, SUBJECT, idJagPayload, signIdJag, signingKey, type SigningKey } from './fixtures.js';

const CLIENT = { client_id: 'agent', client_secret: 's3cret-with:colon' };
const API = `${DESTINATION}/api`;
const TODOS = [{ id: '1', title: 'Ship the destination kit', done: false }];

let broker: SigningKey;
let app: Hono;
let current: Date;
let refusals: OAuthError[];

beforeAll(async () => {
  broker = await signingKey();
});

beforeEach(async () => {
  current = NOW;
  refusals = [];
  app = await createDestinationAs({
    issuer: DESTINATION,
    brokers: [{ issuer: BROKER, jwks: broker.jwks, todos: { [SUBJECT]: TODOS } }],
    clients: [CLIENT],
    now: () => current,
    onRefusal: (error) => refusals.push(error),
  });
});

function basic(id: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${btoa(`${encode(id)}:${encode(secret)}`)}`;
}

function idJag(claims: JWTPayload = {}): Promise<string> {
  return signIdJag(broker, { payload: idJagPayload({ client_id: CLIENT.client_id, scope: 'todos.read todos.write admin', ...claims }) });
}

interface TokenRequest {
  params?: Record<string, string | string[]>;
  authorization?: string | null;
  contentType?: string;
}

async function tokenRequest({ params = {}, authorization, contentType }: TokenRequest = {}) {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of [value].flat()) body.append(name, item);
  }
  const headers: Record<string, string> = { 'content-type': contentType ?? 'application/x-www-form-urlencoded' };
  if (authorization !== null) headers.authorization = authorization ?? basic(CLIENT.client_id, CLIENT.client_secret);
  return app.request('/token', { method: 'POST', headers, body });
}

async function redeem(assertion: string, extra: Record<string, string | string[]> = {}, authorization?: string | null) {
  return tokenRequest({ params: { grant_type: JWT_BEARER_GRANT_TYPE, assertion, ...extra }, authorization });
}

async function expectTokenError(response: Response, status: number, error: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('pragma')).toBe('no-cache');
  const body = (await response.json()) as Record<string, unknown>;
  expect(body.error).toBe(error);
  return body;
}

function lastIdJagReason(): string | undefined {
  const last = refusals.at(-1);
  return last instanceof IdJagRejected ? last.idJagReason : undefined;
}

function todos(accessToken?: string) {
  return app.request('/api/todos', { headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {} });
}

describe('reference destination AS', () => {
  it('publishes its metadata', async () => {
    const response = await app.request('/.well-known/oauth-authorization-server');
    expect(await response.json()).toMatchObject({
      issuer: DESTINATION,
      token_endpoint: `${DESTINATION}/token`,
      jwks_uri: `${DESTINATION}/jwks`,
      grant_types_supported: [JWT_BEARER_GRANT_TYPE, JWT_DPOP_GRANT_TYPE],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    });
  });

  it('advertises the ID-JAG grant profile (draft -03 §7)', async () => {
    const metadata = (await (await app.request('/.well-known/oauth-authorization-server')).json()) as Record<string, unknown>;
    expect(metadata.authorization_grant_profiles_supported).toEqual(['urn:ietf:params:oauth:grant-profile:id-jag']);
  });

  it('publishes only public keys', async () => {
    const { keys } = (await (await app.request('/jwks')).json()) as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(keys[0]).not.toHaveProperty('d');
  });

  describe('happy path', () => {
    it('redeems an ID-JAG for an RFC 9068 access token that opens the API', async () => {
      const response = await redeem(await idJag({ acr: 'urn:example:mfa', auth_time: 1 }));
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('pragma')).toBe('no-cache');
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 300, scope: 'todos.read todos.write' });
      // The ID-JAG named no resource, so none is reported as granted.
      expect(body).not.toHaveProperty('resource');

      const accessToken = body.access_token as string;
      expect(decodeProtectedHeader(accessToken)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
      const jwks = createLocalJWKSet(await (await app.request('/jwks')).json());
      const { payload } = await jwtVerify(accessToken, jwks, { issuer: DESTINATION, audience: API, currentDate: NOW });
      expect(payload).toMatchObject({ sub: SUBJECT, client_id: CLIENT.client_id, acr: 'urn:example:mfa', auth_time: 1 });
      expect(payload.exp! - payload.iat!).toBe(300);

      const api = await todos(accessToken);
      expect(api.status).toBe(200);
      expect(await api.json()).toEqual({ sub: SUBJECT, todos: TODOS });
    });

    it('authenticates with client_secret_post', async () => {
      const response = await redeem(await idJag(), { ...CLIENT }, null);
      expect(response.status).toBe(200);
    });

    it('narrows to the scope the client requested', async () => {
      const response = await redeem(await idJag(), { scope: 'todos.read admin' });
      expect(await response.json()).toMatchObject({ scope: 'todos.read' });
    });

    it('accepts an ID-JAG whose resource is this API and reports it as granted (draft -03 §4.4.1)', async () => {
      const response = await redeem(await idJag({ resource: API }));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ resource: API, scope: 'todos.read todos.write' });
    });

    it('reports only this API as granted when the ID-JAG names several resources', async () => {
      const response = await redeem(await idJag({ resource: ['https://other.example/api', API] }));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ resource: API });
    });

    it('accepts an empty authorization_details array: there is nothing to process', async () => {
      expect((await redeem(await idJag({ authorization_details: [] }))).status).toBe(200);
    });

    it('keys accounts on (iss, sub): the same sub from another trusted broker is another person', async () => {
      const OTHER = 'https://other-broker.example';
      const other = await signingKey();
      app = await createDestinationAs({
        issuer: DESTINATION,
        brokers: [
          { issuer: BROKER, jwks: broker.jwks, todos: { [SUBJECT]: TODOS } },
          { issuer: OTHER, jwks: other.jwks },
        ],
        clients: [CLIENT],
        now: () => current,
      });
      const fromOther = await signIdJag(other, { payload: idJagPayload({ iss: OTHER, client_id: CLIENT.client_id, scope: 'todos.read' }) });
      const body = (await (await redeem(fromOther)).json()) as { access_token: string };
      expect(await (await todos(body.access_token)).json()).toEqual({ sub: SUBJECT, todos: [] });
      // The broker the account belongs to still reaches it.
      const own = (await (await redeem(await idJag())).json()) as { access_token: string };
      expect(await (await todos(own.access_token)).json()).toEqual({ sub: SUBJECT, todos: TODOS });
    });

    it('returns an empty list for a subject with no todos', async () => {
      const body = (await (await redeem(await idJag({ sub: 'newcomer' }))).json()) as { access_token: string };
      expect(await (await todos(body.access_token)).json()).toEqual({ sub: 'newcomer', todos: [] });
    });
  });

  describe('client authentication', () => {
    it('answers a wrong Basic secret with 401 and a Basic challenge', async () => {
      const response = await redeem(await idJag(), {}, basic(CLIENT.client_id, 'wrong'));
      await expectTokenError(response, 401, 'invalid_client');
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="https:\/\/todo\.example"/);
      expect(refusals.at(-1)?.reason).toBe('client_secret_mismatch');
    });

    it('answers a wrong client_secret_post secret with 401 and no challenge', async () => {
      const response = await redeem(await idJag(), { client_id: CLIENT.client_id, client_secret: 'wrong' }, null);
      await expectTokenError(response, 401, 'invalid_client');
      expect(response.headers.get('www-authenticate')).toBeNull();
    });

    it('refuses an unknown client', async () => {
      await expectTokenError(await redeem(await idJag(), {}, basic('nobody', 'x')), 401, 'invalid_client');
      expect(refusals.at(-1)?.reason).toBe('client_unknown');
    });

    it('refuses a request with no client authentication', async () => {
      await expectTokenError(await redeem(await idJag(), {}, null), 401, 'invalid_client');
    });

    it('refuses malformed Basic credentials with a challenge', async () => {
      const response = await redeem(await idJag(), {}, 'Basic !!!');
      await expectTokenError(response, 401, 'invalid_client');
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic /);
    });

    it('refuses two authentication methods at once', async () => {
      const response = await redeem(await idJag(), { client_secret: CLIENT.client_secret });
      await expectTokenError(response, 400, 'invalid_request');
    });
  });

  describe('request shape', () => {
    it('refuses another grant type', async () => {
      const response = await tokenRequest({ params: { grant_type: 'client_credentials' } });
      await expectTokenError(response, 400, 'unsupported_grant_type');
    });

    it('refuses a repeated assertion', async () => {
      await expectTokenError(await redeem(await idJag(), { assertion: [await idJag(), await idJag()] }), 400, 'invalid_request');
    });

    it('refuses a non-form body', async () => {
      const response = await tokenRequest({ params: { grant_type: JWT_BEARER_GRANT_TYPE }, contentType: 'application/json' });
      await expectTokenError(response, 400, 'invalid_request');
    });

    it('refuses an oversized body with 413', async () => {
      const response = await tokenRequest({ params: { grant_type: JWT_BEARER_GRANT_TYPE, pad: 'x'.repeat(MAX_BODY_BYTES) } });
      await expectTokenError(response, 413, 'invalid_request');
    });
  });

  describe('grant refusals', () => {
    it.each([
      ['issued to another client', { client_id: 'someone-else' }, 'client_id_mismatch'],
      ['addressed to another AS', { aud: 'https://other.example' }, 'aud_mismatch'],
      ['expired', { iat: Math.floor(NOW.getTime() / 1000) - 600, exp: Math.floor(NOW.getTime() / 1000) - 300 }, 'expired'],
      ['from an untrusted issuer', { iss: 'https://evil.example' }, 'issuer_untrusted'],
    ])('refuses an ID-JAG %s as invalid_grant without saying why', async (_, claims, reason) => {
      const body = await expectTokenError(await redeem(await idJag(claims)), 400, 'invalid_grant');
      expect(JSON.stringify(body)).not.toContain(reason);
      expect(lastIdJagReason()).toBe(reason);
    });

    it('refuses a replayed ID-JAG', async () => {
      const assertion = await idJag();
      expect((await redeem(assertion)).status).toBe(200);
      await expectTokenError(await redeem(assertion), 400, 'invalid_grant');
      expect(lastIdJagReason()).toBe('replayed');
      // The audited broker-wide reason names what was replayed: an ID-JAG, not a client assertion.
      expect(refusals.at(-1)?.reason).toBe('id_jag_replayed');
    });

    it('refuses an ID-JAG whose resource is another API', async () => {
      await expectTokenError(await redeem(await idJag({ resource: 'https://other.example/api' })), 400, 'invalid_grant');
      expect(refusals.at(-1)?.reason).toBe('resource_audience_mismatch');
    });

    it('refuses an ID-JAG carrying authorization_details, since it understands no type (draft -03 §4.4.1)', async () => {
      const assertion = await idJag({ authorization_details: [{ type: 'todo_list', actions: ['read'] }] });
      const body = await expectTokenError(await redeem(assertion), 400, 'invalid_grant');
      expect(JSON.stringify(body)).not.toContain('authorization_details');
      expect(refusals.at(-1)?.reason).toBe('authorization_details_unsupported');
      expect(refusals.at(-1)?.detail).toBe('authorization_details_unsupported: todo_list');
    });

    it('refuses malformed authorization_details in the kit, before its own policy', async () => {
      await expectTokenError(await redeem(await idJag({ authorization_details: { type: 'todo_list' } })), 400, 'invalid_grant');
      expect(lastIdJagReason()).toBe('claim_invalid');
    });

    it('refuses a key-bound (cnf) ID-JAG presented without a DPoP proof (destination-as-dpop.test.ts has the rest)', async () => {
      await expectTokenError(await redeem(await idJag({ cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } })), 400, 'invalid_grant');
      expect(lastIdJagReason()).toBe('dpop_proof_missing');
    });

    it('refuses an ID-JAG bound by another method than a DPoP thumbprint (cnf.x5t#S256)', async () => {
      await expectTokenError(await redeem(await idJag({ cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } })), 400, 'invalid_grant');
      expect(lastIdJagReason()).toBe('key_binding_unsupported');
    });

    it('refuses when no scope of the ID-JAG is one this AS knows', async () => {
      await expectTokenError(await redeem(await idJag({ scope: 'admin billing' })), 400, 'invalid_scope');
    });

    it('refuses an ID-JAG without scope', async () => {
      await expectTokenError(await redeem(await idJag({ scope: undefined })), 400, 'invalid_scope');
    });
  });

  describe('API protection', () => {
    async function accessToken(scope?: string): Promise<string> {
      const response = await redeem(await idJag(), scope ? { scope } : {});
      return ((await response.json()) as { access_token: string }).access_token;
    }

    it('challenges a request without a token', async () => {
      const response = await todos();
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(`Bearer realm="${DESTINATION}"`);
    });

    it('refuses a token it did not mint', async () => {
      const response = await todos(await idJag());
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    });

    it('refuses an expired access token', async () => {
      const token = await accessToken();
      current = new Date(NOW.getTime() + 301_000);
      expect((await todos(token)).status).toBe(401);
    });

    it('refuses a token without todos.read with 403 insufficient_scope', async () => {
      const response = await todos(await accessToken('todos.write'));
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    });
  });

  describe('configuration', () => {
    it('refuses an issuer with a path', async () => {
      await expect(createDestinationAs({ issuer: `${DESTINATION}/as`, brokers: [], clients: [] })).rejects.toThrow(TypeError);
    });

    it('refuses a broker with both jwks and jwksUri', async () => {
      const brokers = [{ issuer: BROKER, jwks: broker.jwks, jwksUri: `${BROKER}/jwks` }];
      await expect(createDestinationAs({ issuer: DESTINATION, brokers, clients: [] })).rejects.toThrow(TypeError);
    });
  });
});
