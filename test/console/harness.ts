import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { expect } from 'vitest';
import { mountConsole } from '../../src/console/index.js';
import { newDenial, signDenial } from '../../src/governance/denial.js';
import { submitAccessRequest } from '../../src/governance/tasks.js';
import { principalIdOf } from '../../src/mapping/principal.js';
import { mountProvider, type ProviderDeps } from '../../src/provider/index.js';
import type { AccessRequestRecord } from '../../src/store/ports.js';
import { UpstreamTrust } from '../../src/trust/registry.js';
import type { UpstreamIdentity } from '../../src/identity/types.js';
import type { UpstreamConnection } from '../../src/upstream/registry.js';
import { BROKER, startTestBroker, testSettings, type TestBroker } from '../helpers/broker.js';
import { aliceIdentity, FakeOidcUpstream, FakeRegistry, UPSTREAM_ISSUER } from '../provider/fake-upstream.js';
import { PROVIDER_TEST_AUTHORITY } from '../provider/harness.js';

/**
 * The broker with its approval console, signing in through a fake upstream (test/provider):
 * the provider and the console are mounted as createBroker mounts them, over the fake registry.
 * Writes to Todo are forbidden unless approved by a todo-writer or by carol (at most 7 days).
 */

export const ORIGIN = new URL(BROKER).origin;

export const CONSOLE_POLICIES = `
@id("read-anything")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name like "*.read" };
@id("write-open")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" };
@id("todo-write-needs-approval")
@requestable("approvers=group:todo-writers email:carol@example.com&max_duration=P7D")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" } unless { context.approved.contains("todo-write-needs-approval") };
`;

/** Who logs in at the fake upstream: a subject, their email and groups (all believed). */
export function person(subject: string, email: string, groups: string[]): (now: number) => UpstreamIdentity {
  return (now) => {
    const base = aliceIdentity('corp', now);
    return { ...base, subject, claims: { ...base.claims, sub: subject, email, email_verified: true, name: subject, groups } };
  };
}

export const CAROL = person('carol', 'carol@example.com', ['staff']);
export const WRITER = person('walter', 'walter@example.com', ['staff', 'todo-writers']);
export const DAVE = person('dave', 'dave@example.com', ['staff']);
export const ALICE = person('alice', 'alice@example.com', ['staff', 'todo-writers']);

export interface ConsoleBroker extends TestBroker {
  oidc: FakeOidcUpstream;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  browser(): ConsoleBrowser;
  /** A pending access request for alice (wiki-agent → todo, todos.write), submitted through the governance core. */
  submit(input?: { justification?: string; requestedDuration?: number }): Promise<AccessRequestRecord>;
  task(id: string): Promise<AccessRequestRecord | undefined>;
}

/** A cookie jar for one browser; POSTs come from the console's own origin unless told otherwise. */
export class ConsoleBrowser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly b: Pick<ConsoleBroker, 'fetch'>) {}

  private absorb(res: Response) {
    for (const header of res.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const eq = pair!.indexOf('=');
      if (/max-age=0/i.test(header)) this.cookies.delete(pair!.slice(0, eq));
      else this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  }

  cookieHeader(): Record<string, string> {
    return this.cookies.size === 0 ? {} : { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  }

  async get(path: string): Promise<Response> {
    const res = await this.b.fetch(path, { headers: this.cookieHeader() });
    this.absorb(res);
    return res;
  }

  async post(path: string, form: Record<string, string> | string, headers: Record<string, string> = { origin: ORIGIN, 'sec-fetch-site': 'same-origin' }): Promise<Response> {
    const res = await this.b.fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.cookieHeader(), ...headers },
      body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
    });
    this.absorb(res);
    return res;
  }

  /** Signs in through the console: /console → sign-in → upstream → callback → back where it started. */
  async signIn(b: ConsoleBroker, identity: (now: number) => UpstreamIdentity, start = '/console'): Promise<Response> {
    b.oidc.identity = identity;
    const first = await this.get(start);
    expect(first.status).toBe(302);
    const signIn = await this.get(first.headers.get('location')!);
    expect(signIn.status).toBe(302);
    const upstream = new URL(signIn.headers.get('location')!);
    const state = upstream.searchParams.get('state')!;
    return this.get(`/login/oidc/corp/callback?${new URLSearchParams({ state, code: 'upstream-code' })}`);
  }

  /** The CSRF token on a request's page. */
  async csrf(id: string): Promise<string> {
    const page = await this.get(`/console/requests/${id}`);
    expect(page.status).toBe(200);
    const token = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1];
    expect(token).toBeDefined();
    return token!;
  }
}

/** `more`: further upstream connections beside the OIDC one, `corp` (e.g. a SAML connection). */
export async function startConsole(more: (clock: () => number) => UpstreamConnection[] = () => []): Promise<ConsoleBroker> {
  const b = await startTestBroker({ settings: await testSettings((s) => {
    s.clients!.find((c) => c.client_id === 'wiki-agent')!.name = 'Wiki <Agent>';
  }), policies: CONSOLE_POLICIES });
  // The fake connection is believed as the tests' corporate IdP is (emails at example.com, todo-writers).
  b.services.trust = new (class extends UpstreamTrust {
    override ofConnection() {
      return PROVIDER_TEST_AUTHORITY;
    }
  })(new Map(), new Map());
  const clock = () => b.clock.now;
  const oidc = new FakeOidcUpstream('corp', clock);
  const deps: ProviderDeps = { services: b.services, upstreams: new FakeRegistry([oidc, ...more(clock)]), clock, clients: new Map() };
  const app = new Hono();
  app.onError((err, c) => c.json({ error: 'server_error', message: err.message }, 500));
  const signIn = mountProvider(app, deps);
  mountConsole(app, { services: b.services, clock, signIn });
  app.route('/', b.app);
  const fetch = async (path: string, init?: RequestInit) => app.request(path.startsWith('http') ? path : `${BROKER}${path}`, init);
  const broker: ConsoleBroker = {
    ...b,
    oidc,
    fetch,
    browser: () => new ConsoleBrowser(broker),
    task: (id) => b.services.store.accessRequests.get(id),
    submit: async (input = {}) => {
      const now = b.clock.now;
      const denial = newDenial(
        {
          clientId: 'wiki-agent',
          principalId: await principalIdOf(UPSTREAM_ISSUER, 'alice'),
          upstreamIssuer: UPSTREAM_ISSUER,
          subjectLabel: 'alice@example.com',
          destination: 'todo',
          resources: [],
          scopes: ['todos.write'],
          policies: ['todo-write-needs-approval'],
        },
        now,
      );
      const requestContext = await signDenial(denial, b.services.settings.issuer, b.services.keys);
      const { task } = await submitAccessRequest(
        {
          requestContext,
          subject: { type: 'user', id: denial.principalId },
          items: [{ resource: { type: 'scope', id: 'todos.write', properties: { destination: 'todo' } }, action: { name: 'mint' } }],
          ...input,
          bodyHash: createHash('sha256').update(denial.id).digest('hex'),
        },
        'wiki-agent',
        b.services,
        now,
        crypto.randomUUID(),
      );
      return task;
    },
  };
  return broker;
}
