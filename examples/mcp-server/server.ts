/**
 * Runs the example MCP server (and its AS, on the same origin) on Node, trusting one broker.
 *
 *   PORT=9200 BROKER_ISSUER=http://localhost:8787 BROKER_JWKS_URI=http://localhost:8787/jwks \
 *   MCP_CLIENT_ID=agent-at-notes MCP_CLIENT_SECRET=… npx tsx examples/mcp-server/server.ts
 *
 * Optional: MCP_ORIGIN (default http://localhost:<PORT>), DEMO_SUB (a `sub` at the broker that
 * starts with one note). The broker needs a destination whose issuer is MCP_ORIGIN and whose
 * resource is MCP_ORIGIN/mcp (docs/mcp.md).
 */
import { serve } from '@hono/node-server';
import { createMcpServerApp } from './app.js';

const DEFAULT_PORT = 9200;

function env(name: string, fallback?: string): string {
  const value = process.env[name] || fallback;
  if (value === undefined || value === '') {
    console.error(`mcp-server: set ${name}`);
    process.exit(1);
  }
  return value;
}

const port = Number(env('PORT', String(DEFAULT_PORT)));
const origin = env('MCP_ORIGIN', `http://localhost:${port}`);
const brokerIssuer = env('BROKER_ISSUER');

const app = await createMcpServerApp({
  origin,
  brokers: [{ issuer: brokerIssuer, jwksUri: env('BROKER_JWKS_URI') }],
  clients: [{ client_id: env('MCP_CLIENT_ID'), client_secret: env('MCP_CLIENT_SECRET') }],
  notes: process.env.DEMO_SUB ? [{ broker: brokerIssuer, sub: process.env.DEMO_SUB, text: 'Try MCP Enterprise-Managed Authorization' }] : [],
  onRefusal: (reason) => console.warn(`refused: ${reason}`),
});

serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, ({ port: listening }) => {
  console.log(`mcp-server ${origin}/mcp (its AS: ${origin}) listening on :${listening}, trusting ${brokerIssuer}`);
});
