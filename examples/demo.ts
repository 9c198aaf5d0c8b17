/**
 * `npm run demo`: the whole Cross-App Access flow on localhost, each artifact printed decoded, in
 * both profiles.
 *
 * Caller-pushed:
 *   demo IdP (:9000) ── ID token ──▶ wiki-agent ── token exchange ──▶ broker (:8787) ── ID-JAG ──▶
 *   wiki-agent ── jwt-bearer ──▶ Todo AS (:9100) ── access token ──▶ GET /api/todos
 * Resource-pulled (docs/profiles/pulled.md):
 *   wiki-agent ── token exchange ──▶ broker ── reference ──▶ wiki-agent ── token exchange ──▶ Todo AS
 *   Todo AS ── back channel: token exchange as todo-as ──▶ broker ── ID-JAG ──▶ Todo AS ── access token ──▶ wiki-agent
 * Escalation (docs/access-requests.md):
 *   wiki-agent ── token exchange, deferred=true ──▶ broker ── authorization_pending + access_request + deferral code
 *   wiki-agent ── POST /access/v1/requests ──▶ broker ── task;  an approver approves;  wiki-agent polls ──▶ ID-JAG
 *
 * The broker runs from broker.config.yaml on its own SQLite file (data/demo.sqlite).
 */
import { serve } from '@hono/node-server';
import { rmSync } from 'node:fs';
import { startNodeBroker } from '../src/runtime/node.js';
import { silentLogger } from '../src/logger.js';
import { createDemoIdp } from './demo-idp.js';
import { createDestinationAs } from './destination-as/app.js';
import { decoded, show } from './demo-common.js';
import { approveAccessRequest } from '../src/governance/tasks.js';
import { principalIdOf } from '../src/mapping/principal.js';

const BROKER = 'http://localhost:8787';
const IDP = 'http://localhost:9000';
const TODO = 'http://localhost:9100';
const TODO_API = `${TODO}/api`;
/** The client's credentials at the broker and at the Todo AS (two registrations, two client_ids). */
const AT_BROKER = { client_id: 'wiki-agent', client_secret: 'demo-wiki-secret' };
const AT_TODO = { client_id: 'wiki-at-todo', client_secret: 'demo-todo-secret' };
/** The Todo AS's own back-channel client at the broker (broker.config.yaml `destinations[todo].backchannel_client`). */
const TODO_AS_AT_BROKER = { clientId: 'todo-as', clientSecret: 'demo-todo-as-secret' };
const REFERENCE_TYPE = 'https://xaa-broker.dev/token-type/id-jag-reference';


async function post(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form) });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

async function main() {
  rmSync('data/demo.sqlite', { force: true });
  rmSync('data/demo.sqlite-wal', { force: true });
  rmSync('data/demo.sqlite-shm', { force: true });

  const idp = await createDemoIdp(IDP);
  const servers = [serve({ fetch: idp.app.fetch, port: 9000, hostname: '127.0.0.1' })];
  const broker = await startNodeBroker({ database: 'data/demo.sqlite', logger: silentLogger });
  servers.push(broker.server);
  const todoAs = await createDestinationAs({
    issuer: TODO,
    // backChannel: the Todo AS finds the broker's token endpoint in its metadata and redeems references there.
    brokers: [{ issuer: BROKER, jwksUri: `${BROKER}/jwks`, backChannel: TODO_AS_AT_BROKER, todos: { 'todo-user-1001': [{ id: '1', title: 'Ship the Cross-App Access demo', done: false }, { id: '2', title: 'Rotate signing keys', done: true }] } }],
    clients: [AT_TODO],
  });
  servers.push(serve({ fetch: todoAs.fetch, port: 9100, hostname: '127.0.0.1' }));
  console.log(`upstream IdP ${IDP}, broker ${BROKER}, Todo AS ${TODO}`);

  try {
    // 1. The user signs in at the upstream IdP; the agent holds an ID token issued to it.
    const idToken = await idp.idToken({ sub: 'alice', email: 'alice@example.com', groups: ['staff'], amr: ['pwd', 'mfa'] }, AT_BROKER.client_id);
    show('1. ID token from the upstream IdP (subject token)', decoded(idToken));

    // 2. Token exchange at the broker: ID token → ID-JAG for the Todo AS.
    const exchange = await post(`${BROKER}/token`, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
      subject_token: idToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      audience: TODO,
      resource: TODO_API,
      scope: 'todos.read todos.write',
      ...AT_BROKER,
    });
    if (exchange.status !== 200) throw new Error(`token exchange failed: ${JSON.stringify(exchange.body)}`);
    const { access_token: idJag, ...rest } = exchange.body;
    show('2. Token exchange response from the broker', { ...rest, access_token: '(the ID-JAG below)' });
    show('   The ID-JAG: alice is "todo-user-1001" at the Todo AS; todos.write was refused by policy (not in todo-writers)', decoded(idJag!));

    // 3. The agent redeems the ID-JAG at the Todo AS (RFC 7523 jwt-bearer) for an access token.
    const basic = `Basic ${btoa(`${AT_TODO.client_id}:${AT_TODO.client_secret}`)}`;
    const grant = await post(`${TODO}/token`, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: idJag! }, { authorization: basic });
    if (grant.status !== 200) throw new Error(`jwt-bearer grant failed: ${JSON.stringify(grant.body)}`);
    show('3. Access token minted by the Todo AS itself', { ...grant.body, access_token: decoded(grant.body.access_token!) });

    // 4. The agent calls the Todo API as alice.
    const api = await fetch(`${TODO_API}/todos`, { headers: { authorization: `Bearer ${grant.body.access_token}` } });
    show(`4. GET ${TODO_API}/todos → ${api.status}`, await api.json());

    // 5. Replaying the same ID-JAG is refused by the destination.
    const replay = await post(`${TODO}/token`, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: idJag! }, { authorization: basic });
    show(`5. Replaying the ID-JAG at the Todo AS → ${replay.status}`, replay.body);

    // 6–9. The resource-pulled profile: the agent gets a reference and never sees the ID-JAG.
    const asked = await post(`${BROKER}/token`, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      requested_token_type: REFERENCE_TYPE,
      subject_token: idToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      audience: TODO,
      resource: TODO_API,
      scope: 'todos.read',
      ...AT_BROKER,
    });
    if (asked.status !== 200) throw new Error(`reference request failed: ${JSON.stringify(asked.body)}`);
    const reference = asked.body.access_token!;
    show('6. Resource-pulled: the broker answers an opaque ID-JAG reference (single use, ≤ 60 s, no claims)', asked.body);

    const pulled = await post(`${TODO}/token`, { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: reference, subject_token_type: REFERENCE_TYPE }, { authorization: basic });
    if (pulled.status !== 200) throw new Error(`reference redemption failed: ${JSON.stringify(pulled.body)}`);
    show('7. The Todo AS redeemed the reference at the broker over its back channel (as todo-as) and minted', { ...pulled.body, access_token: decoded(pulled.body.access_token!) });

    const pulledApi = await fetch(`${TODO_API}/todos`, { headers: { authorization: `Bearer ${pulled.body.access_token}` } });
    show(`8. GET ${TODO_API}/todos with the pulled access token → ${pulledApi.status}`, await pulledApi.json());

    const again = await post(`${TODO}/token`, { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: reference, subject_token_type: REFERENCE_TYPE }, { authorization: basic });
    show(`9. Presenting the same reference again → ${again.status}`, again.body);

    // 10. A refusal at the broker: an audience no destination answers to.
    const refused = await post(`${BROKER}/token`, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
      subject_token: idToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      audience: 'https://unknown.example',
      ...AT_BROKER,
    });
    show(`10. Token exchange for an unknown audience → ${refused.status}`, refused.body);
    show('   The broker audit log (newest last): the reference issued, redeemed by todo-as, refused again, then the refusal', (await broker.services.store.audit.recent(4)).reverse());

    // 11–16. Denial as the start of escalation: todos.export needs a todo admin's approval (policies/demo.cedar).
    const pending = await post(`${BROKER}/token`, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
      subject_token: idToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      audience: TODO,
      resource: TODO_API,
      scope: 'todos.export',
      deferred: 'true',
      ...AT_BROKER,
    });
    const escalation = pending.body as unknown as { deferral_code: string; interval: number; access_request: Record<string, unknown>; authzen: Record<string, unknown> };
    show(`11. todos.export with deferred=true → ${pending.status}: a requestable denial, a deferral code to poll`, { ...pending.body, deferral_code: '(secret)', access_request: { ...escalation.access_request, request_context: decoded(escalation.access_request.request_context as string) } });

    const agentBasic = `Basic ${btoa(`${AT_BROKER.client_id}:${AT_BROKER.client_secret}`)}`;
    const submitted = await fetch(`${BROKER}/access/v1/requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: agentBasic, 'idempotency-key': crypto.randomUUID() },
      body: JSON.stringify({
        ...escalation.authzen,
        context: { business_justification: 'Quarterly export of my todos for the planning review' },
        requested_access: { requested_duration: 'PT1H' },
        denial: { decision: { decision: false }, access_request: escalation.access_request },
      }),
    });
    const task = (await submitted.json()) as { task: { id: string; status_endpoint: string } };
    show(`12. POST ${BROKER}/access/v1/requests (AuthZEN Access Request profile) → ${submitted.status}`, task);

    const poll = () => post(`${BROKER}/token`, { grant_type: 'https://xaa-broker.dev/grant-type/deferred', deferral_code: escalation.deferral_code, ...AT_BROKER });
    await new Promise((r) => setTimeout(r, escalation.interval * 1000));
    const waiting = await poll();
    show(`13. Polling the token endpoint with the deferral code → ${waiting.status}`, waiting.body);

    // In the approval console (docs/console.md) a todo admin signs in and clicks Approve; the demo has no
    // browser, so bob approves through the same governance call the console makes.
    const bob = { principalId: await principalIdOf(IDP, 'bob'), upstreamIssuer: IDP, upstreamSubject: 'bob', claims: { email: 'bob@example.com', email_verified: true, groups: ['todo-admins'] }, tenant: 'corp' };
    const approved = await approveAccessRequest(task.task.id, { identity: bob, label: 'bob@example.com' }, undefined, broker.services, Math.floor(Date.now() / 1000), crypto.randomUUID());
    show('14. bob (todo-admins) approves the request for the hour asked', { status: approved.status, approval: approved.approval });

    await new Promise((r) => setTimeout(r, escalation.interval * 1000));
    const completed = await poll();
    if (completed.status !== 200) throw new Error(`deferred completion failed: ${JSON.stringify(completed.body)}`);
    show(`15. Polling again → ${completed.status}: the ID-JAG, re-evaluated with the approval, ending no later than it`, { ...completed.body, access_token: decoded(completed.body.access_token!) });

    const status = await fetch(task.task.status_endpoint, { headers: { authorization: agentBasic } });
    show(`16. GET the task's status_endpoint → ${status.status}`, await status.json());
  } finally {
    for (const s of servers) s.close();
  }
}

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  if (err && typeof err === 'object' && 'code' in err && err.code === 'EADDRINUSE') console.error('a port (9000, 8787 or 9100) is in use: stop `npm start` first');
  process.exit(1);
});
