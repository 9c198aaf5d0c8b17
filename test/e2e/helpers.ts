import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { createBroker, type Broker } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { BrokerConfigInput, NamespaceConfig } from '../../src/config/schema.js';
import { nodeSamlFactory } from '../../src/runtime/node-saml.js';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';
import { TEST_POLICIES } from '../helpers/broker.js';
import { cookieHeader, keepCookies } from '../../examples/cookies.js';

/**
 * Real servers on loopback ports for the end-to-end tests: each one listens before it knows what
 * it serves, so every issuer and redirect URI can name every other port before anything is built.
 */

export interface Listener {
  port: number;
  /** `http://localhost:<port>`: the origin the others know this server by. */
  origin: string;
  serve(fetch: (request: Request) => Response | Promise<Response>): void;
  close(): Promise<void>;
}

export async function listen(): Promise<Listener> {
  let handler: (request: Request) => Response | Promise<Response> = () => new Response('not ready', { status: 503 });
  const server: ServerType = serve({ fetch: (request) => handler(request), port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: `http://localhost:${port}`,
    serve: (fetch) => {
      handler = fetch;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets from fetch would hold close() open.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

const root = join(import.meta.dirname, '../..');

export interface E2eBroker extends Broker {
  db: Database.Database;
}

/**
 * The broker as the Node runtime builds it (SAML included), from a configuration written in the
 * test, on in-memory SQLite. Policies: the unit tests' (reads open; writes need a group and MFA).
 */
export async function buildBroker(settings: BrokerConfigInput, namespaces: NamespaceConfig[], policies = TEST_POLICIES): Promise<E2eBroker> {
  const config = loadConfig({
    broker: { path: 'broker.config.yaml', text: stringify(settings) },
    mappings: namespaces.map((ns) => ({ path: `mappings/${ns.namespace}.yaml`, text: stringify(ns) })),
    policies: [{ path: 'policies/e2e.cedar', text: policies }],
    schema: { path: 'policies/xaa.cedarschema', text: readFileSync(join(root, 'policies/xaa.cedarschema'), 'utf8') },
  });
  const db = openSqlite(':memory:');
  const broker = await createBroker({ config, store: createSqliteStore(db), cedar, saml: nodeSamlFactory });
  return { ...broker, db };
}

/** What a browser did at one step, for assertions on the hops themselves. */
export interface Hop {
  method: 'GET' | 'POST';
  url: URL;
  status: number;
  /** For a POST: the form fields sent. */
  form?: Record<string, string>;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ENTITIES[e.toLowerCase()] ?? whole;
  });
}

function attribute(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}\\s*=\\s*"([^"]*)"`, 'i').exec(tag);
  return m ? decodeEntities(m[1]!) : undefined;
}

/** An auto-submitting POST form (the SAML HTTP-POST binding's), as a browser would submit it. */
export function autoPostForm(html: string, base: URL): { action: URL; fields: Record<string, string> } | undefined {
  const form = /<form\b[^>]*>/i.exec(html)?.[0];
  if (!form || (attribute(form, 'method') ?? 'get').toLowerCase() !== 'post') return undefined;
  const fields: Record<string, string> = {};
  for (const input of html.match(/<input\b[^>]*>/gi) ?? []) {
    const name = attribute(input, 'name');
    if (name !== undefined) fields[name] = attribute(input, 'value') ?? '';
  }
  return { action: new URL(attribute(form, 'action') ?? '', base), fields };
}

/**
 * A browser driven by fetch: a cookie jar per origin (cookies the servers set come back to them),
 * redirects followed by hand, auto-submitting POST forms submitted. It stops when it reaches the
 * URL the test is waiting for (an app's redirect_uri, which nothing serves), and records each hop.
 */
export class Browser {
  readonly jar = new Map<string, Map<string, string>>();
  readonly hops: Hop[] = [];

  cookies(origin: string): Map<string, string> {
    let jar = this.jar.get(origin);
    if (!jar) this.jar.set(origin, (jar = new Map()));
    return jar;
  }

  private async send(url: URL, init: { method: 'GET' | 'POST'; form?: Record<string, string> }): Promise<Response> {
    const jar = this.cookies(url.origin);
    const headers: Record<string, string> = cookieHeader(jar);
    if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method: init.method, headers, redirect: 'manual', ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}) });
    keepCookies(jar, res);
    this.hops.push({ method: init.method, url, status: res.status, ...(init.form ? { form: init.form } : {}) });
    return res;
  }

  /** Navigates from `start` until a URL for which `done` is true; returns that URL (not fetched). */
  async navigate(start: URL | string, done: (url: URL) => boolean, maxHops = 20): Promise<URL> {
    let next: { url: URL; method: 'GET' | 'POST'; form?: Record<string, string> } = { url: new URL(start), method: 'GET' };
    for (let hop = 0; hop < maxHops; hop++) {
      if (done(next.url)) return next.url;
      const res = await this.send(next.url, next);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        next = { url: new URL(location, next.url), method: 'GET' };
        continue;
      }
      const body = await res.text();
      const form = res.status === 200 ? autoPostForm(body, next.url) : undefined;
      if (!form) throw new Error(`browser: ${res.status} at ${next.url.href} without a redirect or form: ${body.slice(0, 500)}`);
      next = { url: form.action, method: 'POST', form: form.fields };
    }
    throw new Error('browser: too many hops');
  }
}
