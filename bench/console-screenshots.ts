/**
 * `npm run screenshots`: renders the approval console with demo data in Debian's Chromium
 * (playwright-core) and writes docs/images/console-pending.png and console-detail.png.
 *
 * The broker runs in this process on a loopback port, on in-memory SQLite, at a fixed time. Its
 * access requests are submitted through the governance core from signed denials, as the token
 * endpoint's would be. The approver's broker session is written straight into the store (there is
 * no upstream to sign in at here); everything else is the console as served.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { chromium } from 'playwright-core';
import { stringify } from 'yaml';
import { createBroker } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import type { BrokerConfigInput } from '../src/config/schema.js';
import { newDenial, signDenial } from '../src/governance/denial.js';
import { submitAccessRequest } from '../src/governance/tasks.js';
import { principalIdOf } from '../src/mapping/principal.js';
import { randomToken, sha256Base64url } from '../src/provider/crypto.js';
import { providerLimits } from '../src/provider/index.js';
import { createSqliteStore, openSqlite } from '../src/store/adapters/sqlite.js';

const root = join(import.meta.dirname, '..');
const out = join(root, 'docs/images');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const NOW = Date.UTC(2026, 11, 7, 9, 30) / 1000;
const CORP = 'https://login.corp.example';

const POLICIES = `
@id("read-anything")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name like "*.read" };
@id("writes-open")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name like "*.write" };
@id("todo-write-needs-approval")
@requestable("approvers=group:todo-admins&max_duration=P7D")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" } unless { context.approved.contains("todo-write-needs-approval") };
@id("crm-export-needs-approval")
@requestable("approvers=group:todo-admins&max_duration=PT8H")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "contacts.write" } unless { context.approved.contains("crm-export-needs-approval") };
`;

async function main() {
  let handler: (r: Request) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
  const server = serve({ fetch: (r) => handler(r), port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  const origin = `http://localhost:${(server.address() as AddressInfo).port}`;

  const settings: BrokerConfigInput = {
    issuer: origin,
    clients: [
      { client_id: 'wiki-agent', name: 'Wiki assistant', token_endpoint_auth_method: 'none', destinations: { todo: { client_id: 'wiki', scopes: ['todos.read', 'todos.write'] } } },
      { client_id: 'sales-copilot', name: 'Sales copilot', token_endpoint_auth_method: 'none', destinations: { crm: { client_id: 'copilot', scopes: ['contacts.read', 'contacts.write'] } } },
    ],
    destinations: [
      { id: 'todo', issuer: 'https://todo.example', namespace: 'todo-users', scope_translation: { 'todos.read': ['todos.read'], 'todos.write': ['todos.write'] } },
      { id: 'crm', issuer: 'https://crm.example', namespace: 'crm-users', scope_translation: { 'contacts.read': ['contacts.read'], 'contacts.write': ['contacts.write'] } },
    ],
  };
  const config = loadConfig({
    broker: { path: 'broker.config.yaml', text: stringify(settings) },
    mappings: [
      { path: 'mappings/todo-users.yaml', text: stringify({ namespace: 'todo-users', strategy: 'pairwise', sector: 'todo.example' }) },
      { path: 'mappings/crm-users.yaml', text: stringify({ namespace: 'crm-users', strategy: 'pairwise', sector: 'crm.example' }) },
    ],
    policies: [{ path: 'policies/demo.cedar', text: POLICIES }],
    schema: { path: 'policies/xaa.cedarschema', text: readFileSync(join(root, 'policies/xaa.cedarschema'), 'utf8') },
  });
  const store = createSqliteStore(openSqlite(':memory:'));
  const broker = await createBroker({ config, store, cedar, clock: () => NOW });
  handler = broker.app.fetch;

  const demo: Array<{ who: string; client: string; destination: string; scope: string; policy: string; justification: string; duration?: number; agoMinutes: number }> = [
    { who: 'alice@corp.example', client: 'wiki-agent', destination: 'todo', scope: 'todos.write', policy: 'todo-write-needs-approval', justification: 'Release week: the assistant closes the sprint’s tasks from the release notes.', duration: 2 * 86_400, agoMinutes: 95 },
    { who: 'dmitri@corp.example', client: 'sales-copilot', destination: 'crm', scope: 'contacts.write', policy: 'crm-export-needs-approval', justification: 'Update the contact owners after the territory change.', duration: 4 * 3600, agoMinutes: 32 },
    { who: 'priya@corp.example', client: 'wiki-agent', destination: 'todo', scope: 'todos.write', policy: 'todo-write-needs-approval', justification: 'Create follow-up tasks from today’s incident review.', agoMinutes: 6 },
  ];
  const ids: string[] = [];
  for (const d of demo) {
    const at = NOW - d.agoMinutes * 60;
    const principalId = await principalIdOf(CORP, d.who.split('@')[0]!);
    const denial = newDenial({ clientId: d.client, principalId, upstreamIssuer: CORP, subjectLabel: d.who, destination: d.destination, resources: [], scopes: [d.scope], policies: [d.policy] }, at);
    const { task } = await submitAccessRequest(
      {
        requestContext: await signDenial(denial, origin, broker.services.keys),
        subject: { type: 'user', id: principalId },
        items: [{ resource: { type: 'scope', id: d.scope, properties: { destination: d.destination } }, action: { name: 'mint' } }],
        justification: d.justification,
        ...(d.duration !== undefined ? { requestedDuration: d.duration } : {}),
        bodyHash: denial.id,
      },
      d.client,
      broker.services,
      at,
      'screenshots',
    );
    ids.push(task.id);
  }

  // The approver: a todo-admin, signed in (the session an upstream login would have started).
  const approverId = await principalIdOf(CORP, 'morgan');
  await store.principals.upsert({ id: approverId, upstreamIssuer: CORP, upstreamSubject: 'morgan', connectionId: 'corp', claims: { email: 'morgan@corp.example', email_verified: true, groups: ['todo-admins'] }, updatedAt: NOW });
  const secret = randomToken();
  await store.sessions.create({ id: await sha256Base64url(secret), principalId: approverId, connectionId: 'corp', amr: ['pwd', 'mfa'], createdAt: NOW, expiresAt: NOW + 3600 });

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: 1 });
    await context.addCookies([{ name: providerLimits.SESSION_COOKIE, value: secret, url: origin }]);
    const page = await context.newPage();
    mkdirSync(out, { recursive: true });
    await page.goto(`${origin}/console`);
    await page.screenshot({ path: join(out, 'console-pending.png'), fullPage: true });
    await page.goto(`${origin}/console/requests/${ids[0]}`);
    await page.setViewportSize({ width: 1000, height: 720 });
    await page.screenshot({ path: join(out, 'console-detail.png'), fullPage: true });
  } finally {
    await browser.close();
    server.close();
  }
  console.log(`wrote ${join('docs/images', 'console-pending.png')} and ${join('docs/images', 'console-detail.png')}`);
}

await main();
