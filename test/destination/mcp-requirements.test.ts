/**
 * What MCP's Enterprise-Managed Authorization extension (stable) requires of the MCP server's
 * authorization server, one test per requirement, against the reference destination AS configured
 * as an MCP server's AS. The kit-level tests these rest on are listed in docs/mcp.md.
 */
import type { Hono } from 'hono';
import { decodeJwt, type JWTPayload } from 'jose';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IdJagRejected, InvalidTarget, JWT_BEARER_GRANT_TYPE, checkResourceIndicator } from '../../src/destination/index.js';
import type { OAuthError } from '../../src/oauth/errors.js';
import { createDestinationAs } from '../../examples/destination-as/app.js';
import { BROKER, DESTINATION, NOW, idJagPayload, signIdJag, signingKey, type SigningKey } from './fixtures.js';

const MCP = `${DESTINATION}/mcp`;
const CLIENT = { client_id: 'agent', client_secret: 'agent-secret' };

let broker: SigningKey;
let app: Hono;
let refusals: OAuthError[];

beforeAll(async () => {
  broker = await signingKey();
});

beforeEach(async () => {
  refusals = [];
  app = await createDestinationAs({
    issuer: DESTINATION,
    resource: MCP,
    scopes: ['notes.read', 'notes.write'],
    brokers: [{ issuer: BROKER, jwks: broker.jwks }],
    clients: [CLIENT],
    now: () => NOW,
    onRefusal: (error) => refusals.push(error),
  });
});

function idJag(claims: JWTPayload = {}): Promise<string> {
  return signIdJag(broker, { payload: idJagPayload({ client_id: CLIENT.client_id, resource: MCP, scope: 'notes.read notes.write', ...claims }) });
}

async function redeem(assertion: string, extra: Record<string, string | string[]> = {}) {
  const body = new URLSearchParams({ grant_type: JWT_BEARER_GRANT_TYPE, assertion });
  for (const [name, value] of Object.entries(extra)) for (const item of [value].flat()) body.append(name, item);
  const res = await app.request('/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${CLIENT.client_id}:${CLIENT.client_secret}`)}` },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

const lastReason = () => {
  const last = refusals.at(-1);
  return last instanceof IdJagRejected ? last.idJagReason : last?.reason;
};

describe('MCP Enterprise-Managed Authorization: the authorization server', () => {
  it('§7.6.2, §7.4.1: refuses an ID-JAG whose aud is another authorization server (invalid_grant)', async () => {
    expect(await redeem(await idJag({ aud: 'https://other-as.example' }))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(lastReason()).toBe('aud_mismatch');
  });

  it('§7.6.2: refuses an ID-JAG whose resource claim is another MCP server (invalid_grant)', async () => {
    expect(await redeem(await idJag({ resource: 'https://other-mcp.example/mcp' }))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(lastReason()).toBe('resource_audience_mismatch');
  });

  it('RFC 8707: refuses a token request whose resource parameter is another server (invalid_target), without spending the ID-JAG', async () => {
    const assertion = await idJag();
    expect(await redeem(assertion, { resource: 'https://other-mcp.example/mcp' })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    expect(lastReason()).toBe('resource_unknown');
    // Checked before the ID-JAG: the same one still redeems for the right resource.
    expect(await redeem(assertion, { resource: MCP })).toMatchObject({ status: 200, body: { resource: MCP } });
  });

  it('§7.2.1: issues the intersection of the requested scopes and the ID-JAG’s, never more than the ID-JAG', async () => {
    expect((await redeem(await idJag(), { scope: 'notes.read' })).body.scope).toBe('notes.read');
    expect((await redeem(await idJag({ scope: 'notes.read' }), { scope: 'notes.read notes.write' })).body.scope).toBe('notes.read');
    expect((await redeem(await idJag({ scope: 'notes.read' }))).body.scope).toBe('notes.read');
  });

  it('§7.2.1: refuses when the requested scopes and the ID-JAG’s have nothing in common (invalid_scope)', async () => {
    expect(await redeem(await idJag({ scope: 'notes.read' }), { scope: 'notes.write' })).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
  });

  it('§7.4.2: detects jti replay: the same ID-JAG is redeemed once', async () => {
    const assertion = await idJag();
    expect((await redeem(assertion)).status).toBe(200);
    expect(await redeem(assertion)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(lastReason()).toBe('replayed');
  });

  it('§7.4.2: a re-signed ID-JAG reusing a redeemed jti is refused too (replay is keyed on iss and jti, not on the bytes)', async () => {
    const jti = crypto.randomUUID();
    expect((await redeem(await idJag({ jti }))).status).toBe(200);
    expect(await redeem(await idJag({ jti, scope: 'notes.read' }))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(lastReason()).toBe('replayed');
  });

  it('§5.1: the access token is audience-restricted to the MCP server named by the resource claim', async () => {
    const { status, body } = await redeem(await idJag());
    expect(status).toBe(200);
    expect(body.resource).toBe(MCP);
    expect(decodeJwt(body.access_token!).aud).toBe(MCP);
  });
});

describe('checkResourceIndicator (RFC 8707 §2 at the token endpoint)', () => {
  const form = (...resources: string[]) => new URLSearchParams(resources.map((r) => ['resource', r]));

  it('returns the resource the client named when this server serves it, or undefined when it named none', () => {
    expect(checkResourceIndicator(form(MCP), [MCP])).toBe(MCP);
    expect(checkResourceIndicator(form(MCP, MCP), [MCP])).toBe(MCP);
    expect(checkResourceIndicator(form(), [MCP])).toBeUndefined();
  });

  it.each([
    ['a resource this server does not serve', ['https://other.example/mcp']],
    ['a relative resource', ['/mcp']],
    ['a resource with a fragment', [`${MCP}#x`]],
    ['two different resources (one audience per token here)', [MCP, `${DESTINATION}/api`]],
  ])('refuses %s with invalid_target', (_label, resources) => {
    expect(() => checkResourceIndicator(form(...resources), [MCP, `${DESTINATION}/api`])).toThrow(InvalidTarget);
  });
});
