/**
 * `npm run demo:mcp`: MCP's Enterprise-Managed Authorization, end to end. An MCP client built on
 * the official client SDK's CrossAppAccessProvider, for a user who logged in at the broker:
 *
 *   agent (openid-client) ──/authorize──▶ broker (:8787) ──▶ OpenID Provider (:9000, login form) ──▶ broker's ID token
 *   MCP client ──POST /mcp──▶ MCP server (:9200) ◀── 401 Bearer resource_metadata="…"
 *   MCP client ──RFC 9728, RFC 8414──▶ MCP server / its AS (same origin, examples/destination-as)
 *   MCP client ──token exchange: ID token, audience=AS, resource=/mcp──▶ broker ◀── ID-JAG
 *   MCP client ──jwt-bearer: ID-JAG──▶ AS ◀── access token (aud = the MCP server) ──▶ tools/call
 *
 * Every HTTP exchange the SDK makes is printed as it happens, tokens decoded (never secrets). The
 * broker is built in this process from the configuration below, on its own SQLite file
 * (data/demo-mcp.sqlite). Ports and database move with DEMO_BROKER_PORT, DEMO_IDP_PORT,
 * DEMO_MCP_PORT and DEMO_DATABASE (the tests do).
 */
import { readFileSync } from 'node:fs';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { Client, CrossAppAccessProvider, StreamableHTTPClientTransport, discoverAndRequestJwtAuthGrant, exchangeJwtAuthGrant } from '@modelcontextprotocol/client';
import { stringify } from 'yaml';
import { createBroker } from '../src/app.js';
import { hashSecret } from '../src/clients/secrets.js';
import { loadConfig } from '../src/config/load.js';
import type { BrokerConfigInput, NamespaceConfig } from '../src/config/schema.js';
import { createSqliteStore, openSqlite } from '../src/store/adapters/sqlite.js';
import { decoded, show } from './demo-common.js';
import { DemoServers, freshDatabase } from './demo-servers.js';
import { loginAtBroker } from './demo-login.js';
import { createMcpServerApp } from './mcp-server/app.js';
import { createOidcIdp, demoAlice } from './oidc-idp.js';

const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PORTS = { broker: port('DEMO_BROKER_PORT', 8787), idp: port('DEMO_IDP_PORT', 9000), mcp: port('DEMO_MCP_PORT', 9200) };
const DATABASE = process.env.DEMO_DATABASE ?? 'data/demo-mcp.sqlite';
const BROKER = `http://localhost:${PORTS.broker}`;
const IDP = `http://localhost:${PORTS.idp}`;
const MCP_ORIGIN = `http://localhost:${PORTS.mcp}`;
const MCP = `${MCP_ORIGIN}/mcp`;

const CONNECTION = 'corp-sso';
const AT_OP = { client_id: 'xaa-broker', client_secret: 'demo-broker-secret-at-op', redirect_uri: `${BROKER}/login/oidc/${CONNECTION}/callback` };
/** The MCP client at the broker (it logs users in there and asks for ID-JAGs) and at the MCP server's AS. */
const AGENT = { client_id: 'mcp-agent', client_secret: 'demo-mcp-agent-secret', redirect_uri: 'http://localhost:3000/callback' };
const AT_NOTES = { client_id: 'agent-at-notes', client_secret: 'demo-agent-notes-secret' };
const ALICE = demoAlice(['staff', 'notes-writers']);

/** Who may let an MCP client use the notes server: anyone may read; writing needs the group. */
const POLICIES = `
@id("staff-read-notes")
permit (principal, action == Xaa::Action::"mint", resource in Xaa::Destination::"notes")
when { resource.name == "notes.read" };

@id("writers-write-notes")
permit (principal, action == Xaa::Action::"mint", resource in Xaa::Destination::"notes")
when { resource.name == "notes.write" && principal.groups.contains("notes-writers") };
`;

async function brokerConfig() {
  const settings: BrokerConfigInput = {
    issuer: BROKER,
    connections: [
      {
        type: 'oidc',
        id: CONNECTION,
        display_name: 'Corp SSO',
        issuer: IDP,
        client_id: AT_OP.client_id,
        client_secret: AT_OP.client_secret,
        client_auth: 'client_secret_basic',
        redirect_uri: AT_OP.redirect_uri,
        scopes: ['openid', 'email', 'profile', 'groups'],
        use_userinfo: true,
        allow_insecure_http_for_loopback: true,
        authority: { tenant: 'corp', email: { domains: ['corp.example'] }, groups: { allow_prefixes: ['notes-'] }, acr: ['urn:corp:loa:pwd', 'urn:corp:loa:2fa'], amr: ['pwd', 'otp', 'mfa'], claims: ['name'] },
      },
    ],
    clients: [
      {
        client_id: AGENT.client_id,
        name: 'MCP agent',
        token_endpoint_auth_method: 'client_secret_post',
        client_secret_hash: await hashSecret(AGENT.client_secret),
        destinations: { notes: { client_id: AT_NOTES.client_id, scopes: ['notes.read', 'notes.write'] } },
        oidc: { redirect_uris: [AGENT.redirect_uri], subject_namespace: 'agent-users', scopes: ['openid', 'email', 'profile'] },
      },
    ],
    destinations: [
      {
        id: 'notes',
        // The MCP server's AS: its issuer is the ID-JAG's aud; the MCP server is the resource.
        issuer: MCP_ORIGIN,
        resources: [MCP],
        namespace: 'notes-users',
        scope_translation: { 'notes.read': ['notes.read'], 'notes.write': ['notes.write'] },
      },
    ],
  };
  const namespaces: NamespaceConfig[] = [
    { namespace: 'agent-users', strategy: 'pairwise', sector: 'agent.corp.example' },
    // The notes server knows people by its own account names.
    { namespace: 'notes-users', strategy: 'table', version: 1, rows: [{ upstream_issuer: IDP, upstream_subject: ALICE.sub, subject: 'notes-user-7' }] },
  ];
  return loadConfig({
    broker: { path: 'examples/demo-mcp.ts (in code)', text: stringify(settings) },
    mappings: namespaces.map((ns) => ({ path: `mappings/${ns.namespace}.yaml (in code)`, text: stringify(ns) })),
    policies: [{ path: 'examples/demo-mcp.ts (in code)', text: POLICIES }],
    schema: { path: 'policies/xaa.cedarschema', text: readFileSync('policies/xaa.cedarschema', 'utf8') },
  });
}

/** Numbered headings for the exchanges the SDK makes, printed as they happen. */
let step = 2;
const next = () => `${++step}.`;

/** A form with its secrets and tokens replaced by what they are. */
const hidden = (params: URLSearchParams, names: string[]) => {
  const out: Record<string, string> = {};
  for (const [name, value] of params) out[name] = names.includes(name) ? `(${value.length} characters, not shown)` : value;
  return out;
};

/** The broker's metadata is long; the client needs only these. */
const BROKER_METADATA_SHOWN = ['issuer', 'token_endpoint', 'grant_types_supported', 'token_endpoint_auth_methods_supported', 'identity_chaining_requested_token_types_supported'];

/** The SDK's fetch, printing each exchange by what it is. Secrets and whole tokens are never printed. */
async function tap(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const url = new URL(request.url);
  const sentBody = request.method === 'POST' ? await request.clone().text() : '';
  const res = await fetch(request);
  const at = `${request.method} ${url.origin}${url.pathname}`;
  const json = async () => (res.headers.get('content-type')?.includes('json') ? ((await res.clone().json()) as Record<string, unknown>) : undefined);

  if (url.pathname.startsWith('/.well-known/')) {
    const metadata = (await json()) ?? {};
    const shown = url.origin === BROKER ? Object.fromEntries(BROKER_METADATA_SHOWN.map((name) => [name, metadata[name]])) : metadata;
    show(`${next()} ${at} → ${res.status}${url.origin === BROKER ? ' (the fields the client uses)' : ''}`, shown);
  } else if (url.pathname === '/token' && url.origin === BROKER) {
    const body = (await json()) ?? {};
    show(`${next()} ${at} → ${res.status}: token exchange at the broker (RFC 8693)`, { sent: hidden(new URLSearchParams(sentBody), ['subject_token', 'client_secret']), received: { ...body, access_token: '(the ID-JAG below)' } });
    if (typeof body.access_token === 'string') show('   The ID-JAG: aud is the MCP server’s AS, resource the MCP server; alice is "notes-user-7" there', decoded(body.access_token));
  } else if (url.pathname === '/token') {
    const body = (await json()) ?? {};
    show(`${next()} ${at} → ${res.status}: jwt-bearer grant at the MCP server's AS (RFC 7523)`, {
      sent: { authorization: `${request.headers.get('authorization')?.split(' ')[0]} (client ${AT_NOTES.client_id})`, ...hidden(new URLSearchParams(sentBody), ['assertion']) },
      received: typeof body.access_token === 'string' ? { ...body, access_token: decoded(body.access_token) } : body,
    });
  } else if (url.pathname === '/mcp') {
    const rpc = sentBody ? (JSON.parse(sentBody) as { method?: string; params?: unknown }) : {};
    const authorization = request.headers.get('authorization');
    if (res.status === 401 || res.status === 400) {
      show(`${next()} ${at} (${rpc.method ?? request.method}, ${authorization ? 'with a token' : 'no token'}) → ${res.status}`, { 'www-authenticate': res.headers.get('www-authenticate') });
    } else if (rpc.method === 'tools/list' || rpc.method === 'tools/call') {
      const result = ((await json()) ?? {}).result as Record<string, unknown> | undefined;
      const shown = rpc.method === 'tools/list' ? (result?.tools as { name: string; description: string }[] | undefined)?.map((t) => `${t.name}: ${t.description}`) : result;
      show(`${next()} ${at} ${rpc.method} ${rpc.method === 'tools/call' ? JSON.stringify(rpc.params) : ''} → ${res.status} (Bearer access token)`, shown);
    }
  }
  return res;
}

async function main() {
  freshDatabase(DATABASE);
  const servers = new DemoServers();

  try {
    const idp = await createOidcIdp({
      issuer: IDP,
      clients: [{ client_id: AT_OP.client_id, client_secret: AT_OP.client_secret, redirect_uris: [AT_OP.redirect_uri], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], response_types: ['code'] }],
      users: [ALICE],
    });
    await servers.listen(idp.listener, PORTS.idp);

    const broker = await createBroker({ config: await brokerConfig(), store: createSqliteStore(openSqlite(DATABASE)), cedar });
    await servers.serve(broker.app.fetch, PORTS.broker);

    // The MCP server and its AS (examples/mcp-server): it trusts the broker's keys; alice is notes-user-7.
    const mcp = await createMcpServerApp({
      origin: MCP_ORIGIN,
      brokers: [{ issuer: BROKER, jwksUri: `${BROKER}/jwks` }],
      clients: [AT_NOTES],
      notes: [{ broker: BROKER, sub: 'notes-user-7', text: 'Try MCP Enterprise-Managed Authorization' }],
    });
    await servers.serve(mcp.fetch, PORTS.mcp);
    show('0. Setup', {
      'OpenID Provider (oidc-provider, login form)': IDP,
      broker: BROKER,
      'MCP server (official server SDK, Streamable HTTP) and its authorization server': MCP,
      'the MCP client, at the broker': { client_id: AGENT.client_id, destinations: { notes: AT_NOTES.client_id } },
      'the MCP client, at the MCP server’s AS': { client_id: AT_NOTES.client_id, token_endpoint_auth_method: 'client_secret_basic' },
    });

    // 1–2. The user logs in to the agent at the broker: the broker's ID token, for the agent.
    const login = await loginAtBroker({ broker: BROKER, op: IDP, app: AGENT, user: ALICE });
    show('1. alice logs in to the agent at the broker, through the OpenID Provider', login.hops);
    show("2. The broker's ID token for the agent (its subject token from now on)", decoded(login.idToken));

    // 3–. The MCP client: CrossAppAccessProvider does discovery, the jwt-bearer grant and the
    // retries; the assertion callback gets the ID-JAG from the broker.
    let lastIdJag: string | undefined;
    const provider = new CrossAppAccessProvider({
      assertion: async (ctx) => {
        const grant = await discoverAndRequestJwtAuthGrant({
          idpUrl: BROKER,
          audience: ctx.authorizationServerUrl,
          resource: ctx.resourceUrl,
          idToken: login.idToken,
          clientId: AGENT.client_id,
          clientSecret: AGENT.client_secret,
          ...(ctx.scope ? { scope: ctx.scope } : {}),
          fetchFn: ctx.fetchFn,
        });
        lastIdJag = grant.jwtAuthGrant;
        return grant.jwtAuthGrant;
      },
      clientId: AT_NOTES.client_id,
      clientSecret: AT_NOTES.client_secret,
      expectedIssuer: MCP_ORIGIN,
      fetchFn: tap,
    });
    const client = new Client({ name: 'xaa-demo-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(MCP), { authProvider: provider, fetch: tap }));
    await client.listTools();
    await client.callTool({ name: 'list_notes', arguments: {} });
    await client.callTool({ name: 'add_note', arguments: { text: 'Written by an MCP client with an ID-JAG' } });
    await client.callTool({ name: 'list_notes', arguments: {} });
    await client.close();

    // The ID-JAG is single use at the AS (the extension requires jti replay detection).
    try {
      await exchangeJwtAuthGrant({ tokenEndpoint: `${MCP_ORIGIN}/token`, jwtAuthGrant: lastIdJag!, clientId: AT_NOTES.client_id, clientSecret: AT_NOTES.client_secret });
      throw new Error('the replayed ID-JAG was accepted');
    } catch (error) {
      show(`${next()} Presenting the same ID-JAG again at the AS`, { refused: error instanceof Error ? error.message : String(error) });
    }
    show('   The broker audit log (newest last)', (await broker.services.store.audit.recent(1)).reverse());
  } finally {
    servers.close();
  }
}

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  if (err && typeof err === 'object' && 'code' in err && err.code === 'EADDRINUSE') {
    console.error(`a port (${PORTS.broker}, ${PORTS.idp} or ${PORTS.mcp}) is in use: stop \`npm start\` or the other demo first`);
  }
  process.exit(1);
});
