/**
 * examples/mcp-server/server.ts as an operator runs it: configuration from the environment, a
 * missing setting named in one line, the discovery documents served over real HTTP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startProcess } from '../helpers/process.js';

const PORT = '19204';
const ORIGIN = `http://localhost:${PORT}`;
const baseEnv = { PATH: process.env.PATH, PORT, BROKER_ISSUER: 'http://localhost:18790', BROKER_JWKS_URI: 'http://localhost:18790/jwks', MCP_CLIENT_ID: 'agent-at-notes', MCP_CLIENT_SECRET: 'x-secret' };
let stop: (() => void) | undefined;

afterEach(() => stop?.());

describe('examples/mcp-server/server.ts', () => {
  it('serves the protected resource metadata and the AS metadata, and challenges a request without a token', async () => {
    const run = startProcess(['--import', 'tsx', 'examples/mcp-server/server.ts'], baseEnv);
    stop = () => run.child.kill();
    expect(await run.waitFor(/listening on :19204/)).toContain(`mcp-server ${ORIGIN}/mcp (its AS: ${ORIGIN}) listening on :19204, trusting http://localhost:18790`);

    const prm = await fetch(`${ORIGIN}/.well-known/oauth-protected-resource/mcp`);
    expect(await prm.json()).toMatchObject({ resource: `${ORIGIN}/mcp`, authorization_servers: [ORIGIN] });
    const as = await fetch(`${ORIGIN}/.well-known/oauth-authorization-server`);
    expect(await as.json()).toMatchObject({ issuer: ORIGIN, token_endpoint: `${ORIGIN}/token`, authorization_endpoint: `${ORIGIN}/authorize` });
    const mcp = await fetch(`${ORIGIN}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(mcp.status).toBe(401);
    expect(mcp.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${ORIGIN}/.well-known/oauth-protected-resource/mcp"`);
  });

  it('refuses to start without a broker, naming the setting', async () => {
    const { BROKER_ISSUER: _, ...env } = baseEnv;
    const run = startProcess(['--import', 'tsx', 'examples/mcp-server/server.ts'], env);
    stop = () => run.child.kill();
    await run.waitFor(/mcp-server: set/);
    expect(await run.exited).toBe(1);
    expect(run.lines).toEqual(['mcp-server: set BROKER_ISSUER']);
  });
});
