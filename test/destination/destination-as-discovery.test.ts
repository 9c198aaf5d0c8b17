/**
 * The reference destination AS as the MCP client SDK discovers it (issue 9, part 4): its RFC 8414
 * metadata must pass the SDK's schema, and it must mint access tokens for the resource it protects.
 */
import { discoverAuthorizationServerMetadata } from '@modelcontextprotocol/client';
import type { Hono } from 'hono';
import { decodeJwt } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { JWT_BEARER_GRANT_TYPE, JWT_DPOP_GRANT_TYPE } from '../../src/destination/index.js';
import { createDestinationAs } from '../../examples/destination-as/app.js';
import { BROKER, DESTINATION, NOW, idJagPayload, signIdJag, signingKey, type SigningKey } from './fixtures.js';

const CLIENT = { client_id: 'agent', client_secret: 'agent-secret' };
const MCP = `${DESTINATION}/mcp`;

let broker: SigningKey;
let app: Hono;
const appFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => app.fetch(new Request(input, init));

beforeAll(async () => {
  broker = await signingKey();
  app = await createDestinationAs({
    issuer: DESTINATION,
    resource: MCP,
    scopes: ['notes.read', 'notes.write'],
    brokers: [{ issuer: BROKER, jwks: broker.jwks }],
    clients: [CLIENT],
    now: () => NOW,
  });
});

describe('reference destination AS: discovery by the MCP client SDK', () => {
  it('publishes metadata the SDK accepts (it requires authorization_endpoint and response_types_supported)', async () => {
    const metadata = await discoverAuthorizationServerMetadata(DESTINATION, { fetchFn: appFetch });
    expect(metadata).toMatchObject({
      issuer: DESTINATION,
      token_endpoint: `${DESTINATION}/token`,
      authorization_endpoint: `${DESTINATION}/authorize`,
      response_types_supported: [],
      // jwt-dpop: a DPoP-bound ID-JAG's grant (docs/dpop.md)
      grant_types_supported: [JWT_BEARER_GRANT_TYPE, JWT_DPOP_GRANT_TYPE],
      authorization_grant_profiles_supported: ['urn:ietf:params:oauth:grant-profile:id-jag'],
      scopes_supported: ['notes.read', 'notes.write'],
    });
  });

  it('refuses every authorization request at that endpoint, without redirecting (RFC 6749 §4.1.2.1)', async () => {
    const res = await app.request(`/authorize?response_type=code&client_id=agent&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.json()).toEqual({ error: 'unsupported_response_type', error_description: 'This authorization server has no authorization endpoint flow' });
  });

  it('mints access tokens for the resource it was configured with, and only for that one', async () => {
    const assertion = await signIdJag(broker, { payload: idJagPayload({ client_id: CLIENT.client_id, scope: 'notes.read', resource: MCP }) });
    const res = await app.request('/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${CLIENT.client_id}:${CLIENT.client_secret}`)}` },
      body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT_TYPE, assertion }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; resource: string; scope: string };
    expect(body).toMatchObject({ resource: MCP, scope: 'notes.read' });
    expect(decodeJwt(body.access_token)).toMatchObject({ aud: MCP, iss: DESTINATION });

    const forApi = await signIdJag(broker, { payload: idJagPayload({ client_id: CLIENT.client_id, scope: 'notes.read', resource: `${DESTINATION}/api` }) });
    const refused = await app.request('/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${CLIENT.client_id}:${CLIENT.client_secret}`)}` },
      body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT_TYPE, assertion: forApi }),
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_grant' });
  });
});
