import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { decodeJwt } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createDemoIdp, type DemoIdp } from '../../examples/demo-idp.js';
import { createBroker, type Broker } from '../../src/app.js';
import { hashSecret } from '../../src/clients/secrets.js';
import { loadConfig } from '../../src/config/load.js';
import type { BrokerConfigInput, NamespaceConfig } from '../../src/config/schema.js';
import { DEFERRED_GRANT } from '../../src/exchange/deferred.js';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';
import { listen, type Listener } from '../e2e/helpers.js';
import { startTestOp, type TestOp } from '../upstream/oidc/test-op.js';
import { CONSOLE_POLICIES } from './harness.js';

/**
 * Issue 7 item 8 in a real browser: Debian's Chromium (driven by playwright-core) signs an approver
 * in through the broker's own upstream login (a real OpenID Provider), finds the pending request
 * and approves it with the keyboard only; the client that was told `authorization_pending` (and
 * submitted its access request at the AuthZEN endpoint) then polls the token endpoint with its
 * deferral code and receives its ID-JAG. All over loopback HTTP.
 *
 * Chromium is required, not optional: CI installs it (.ci/run). Set CHROMIUM_PATH to use another.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ID_JAG = 'urn:ietf:params:oauth:token-type:id-jag';
const WIKI = { client_id: 'wiki-agent', secret: 'wiki-secret-browser' };
const OP_CLIENT = { client_id: 'xaa-broker', client_secret: 'broker-secret-at-op' };

let op: TestOp;
let idp: DemoIdp;
let idpHttp: Listener;
let brokerHttp: Listener;
let broker: Broker;
let browser: Browser;
/** The broker's clock runs `skew` seconds ahead of the wall clock: the test moves it past polling intervals. */
let skew = 0;

beforeAll(async () => {
  brokerHttp = await listen();
  idpHttp = await listen();
  const BROKER = brokerHttp.origin;
  const callback = `${BROKER}/login/oidc/corp/callback`;
  op = await startTestOp([{ ...OP_CLIENT, token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [callback] }]);
  idp = await createDemoIdp(idpHttp.origin);
  idpHttp.serve(idp.app.fetch);

  const settings: BrokerConfigInput = {
    issuer: BROKER,
    // Subject tokens: the agent's users log in at the corporate IdP (the demo IdP here).
    trusted_issuers: [{ issuer: idp.issuer, jwks_uri: `${idp.issuer}/jwks`, algorithms: ['ES256'], authority: { email: { domains: ['example.com'] }, groups: { allow: ['staff'] }, amr: ['pwd', 'mfa'] } }],
    // Approvers sign in to the console through the broker's own login (a real OpenID Provider).
    connections: [
      {
        type: 'oidc',
        id: 'corp',
        display_name: 'Corp SSO',
        issuer: op.issuer,
        ...OP_CLIENT,
        redirect_uri: callback,
        allow_insecure_http_for_loopback: true,
        // The OP releases email only at its userinfo endpoint.
        use_userinfo: true,
        authority: { email: { domains: ['corp.example'] }, claims: ['name'] },
      },
    ],
    clients: [
      {
        client_id: WIKI.client_id,
        name: 'Wiki',
        token_endpoint_auth_method: 'client_secret_post',
        client_secret_hash: await hashSecret(WIKI.secret, 10_000),
        upstream_client_ids: { [idp.issuer]: WIKI.client_id },
        destinations: { todo: { client_id: 'wiki-at-todo', scopes: ['todos.read', 'todos.write'] } },
      },
    ],
    destinations: [{ id: 'todo', issuer: 'https://todo.test', resources: ['https://api.todo.test/'], namespace: 'todo-users', scope_translation: { 'todos.write': ['todos.write'], 'todos.read': ['todos.read'] } }],
  };
  const namespaces: NamespaceConfig[] = [{ namespace: 'todo-users', strategy: 'table', version: 1, rows: [{ upstream_issuer: idp.issuer, upstream_subject: 'alice', subject: 'todo-user-1001' }] }];
  // Bob at the OP (bob@corp.example) approves writes to Todo.
  const policies = CONSOLE_POLICIES.replace('email:carol@example.com', 'email:bob@corp.example');
  const config = loadConfig({
    broker: { path: 'broker.config.yaml', text: stringify(settings) },
    mappings: namespaces.map((ns) => ({ path: `mappings/${ns.namespace}.yaml`, text: stringify(ns) })),
    policies: [{ path: 'policies/console.cedar', text: policies }],
    schema: { path: 'policies/xaa.cedarschema', text: readFileSync(join(import.meta.dirname, '../../policies/xaa.cedarschema'), 'utf8') },
  });
  broker = await createBroker({ config, store: createSqliteStore(openSqlite(':memory:')), cedar, clock: () => Math.floor(Date.now() / 1000) + skew });
  brokerHttp.serve(broker.app.fetch);
});

afterAll(async () => {
  await browser?.close();
  await brokerHttp?.close();
  await idpHttp?.close();
  await op?.close();
});

async function token(params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${brokerHttp.origin}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Presses Tab until the focused element matches, as a keyboard user would; fails if it never does. */
async function tabTo(page: Page, matches: (el: { tag: string; text: string; name: string }) => boolean, max = 25): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return { tag: el?.tagName.toLowerCase() ?? '', text: el?.textContent?.trim() ?? '', name: el?.getAttribute('name') ?? '' };
    });
    if (matches(focused)) return;
  }
  throw new Error('focus never reached the element by Tab');
}

it('an approver signs in through the broker, approves the pending request with the keyboard, and the polling client receives its ID-JAG', async () => {
  // Not a skip: without Chromium this test fails, saying what to install.
  expect(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: install Debian's chromium package (apt-get install -y chromium), or set CHROMIUM_PATH`).toBe(true);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });

  // The agent asks for todos.write for alice and can wait: a requestable denial with a deferral code.
  const now = Math.floor(Date.now() / 1000) + skew;
  const subjectToken = await idp.idToken({ sub: 'alice', email: 'alice@example.com', email_verified: true, groups: ['staff'], amr: ['pwd', 'mfa'] }, WIKI.client_id, { now });
  const denied = await token({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    requested_token_type: ID_JAG,
    subject_token: subjectToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    audience: 'https://todo.test',
    scope: 'todos.write',
    deferred: 'true',
    client_id: WIKI.client_id,
    client_secret: WIKI.secret,
  });
  expect(denied.body).toMatchObject({ error: 'authorization_pending', deferral_code: expect.any(String) });
  // It submits the access request at the broker's AuthZEN access request endpoint.
  const accessRequest = denied.body.access_request as { endpoint: string; request_context: string };
  const authzen = denied.body.authzen as { subject: unknown; resource: unknown; action: unknown };
  const submitted = await fetch(accessRequest.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${WIKI.client_id}:${WIKI.secret}`)}` },
    body: JSON.stringify({
      ...authzen,
      context: { business_justification: 'Closing the <sprint> tasks' },
      requested_access: { requested_duration: 'PT1H' },
      denial: { evaluation_id: denied.body.evaluation_id, decision: { decision: false }, access_request: { requestable: true, request_context: accessRequest.request_context } },
    }),
  });
  expect(submitted.status).toBe(202);
  const task = ((await submitted.json()) as { task: { id: string; status: string } }).task;
  expect(task.status).toBe('pending');

  // Bob opens the console: no session, so the broker's login (at the OP) and back to the console.
  op.next = { accountId: 'bob' };
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(`${m.text()} ${m.location().url}`)));
  await page.goto(`${brokerHttp.origin}/console`);
  expect(new URL(page.url()).pathname).toBe('/console');
  await expect.poll(() => page.locator('h1').textContent()).toBe('Pending access requests');
  expect(await page.locator('.who strong').textContent()).toBe('bob@corp.example');
  const row = page.locator('tbody tr');
  expect(await row.count()).toBe(1);
  const rowText = (await row.textContent())!;
  for (const text of ['alice@example.com', 'Wiki', 'todo', 'todos.write', 'Closing the <sprint> tasks', 'todo-write-needs-approval', '1 hour']) expect(rowText).toContain(text);

  // Keyboard only: Tab to the request's link, Enter; Tab to the duration, type; Tab to Approve, Enter.
  await tabTo(page, (el) => el.tag === 'a' && el.text.startsWith('Review'));
  await Promise.all([page.waitForURL(`**/console/requests/${task.id}`), page.keyboard.press('Enter')]);
  expect(await page.locator('h1').textContent()).toBe('Access request from alice@example.com');
  await tabTo(page, (el) => el.name === 'duration');
  expect(await page.inputValue('#duration')).toBe('PT1H');
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type('PT2H');
  await tabTo(page, (el) => el.tag === 'button' && el.text === 'Approve');
  await Promise.all([page.waitForURL(/\/console\?done=approved/), page.keyboard.press('Enter')]);
  expect(await page.locator('[role=status]').textContent()).toMatch(/^Approved alice@example\.com's request for todos\.write at todo until .+ UTC\.$/);
  expect(await page.locator('tbody tr').count()).toBe(0);
  expect(consoleErrors).toEqual([]);

  // The store says approved, by bob, for two hours.
  const stored = await broker.services.store.accessRequests.get(task.id);
  expect(stored).toMatchObject({ status: 'approved', decidedByLabel: 'bob@corp.example' });
  expect(stored!.approval!.approvedUntil - stored!.approval!.approvedAt).toBe(7200);

  // The agent polls after its interval and receives its ID-JAG, which ends no later than the approval.
  skew += Number(denied.body.interval) + 1;
  const done = await token({ grant_type: DEFERRED_GRANT, deferral_code: denied.body.deferral_code as string, client_id: WIKI.client_id, client_secret: WIKI.secret });
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  expect(done.body.issued_token_type).toBe(ID_JAG);
  const jag = decodeJwt(done.body.access_token as string);
  expect(jag).toMatchObject({ aud: 'https://todo.test', sub: 'todo-user-1001', client_id: 'wiki-at-todo', scope: 'todos.write' });
  expect(jag.exp).toBeLessThanOrEqual(stored!.approval!.approvedUntil);
  await page.close();
});
