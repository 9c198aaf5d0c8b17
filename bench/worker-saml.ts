/**
 * SAML logins on the Workers runtime, measured on a local workerd (Miniflare, the one wrangler
 * runs): the Worker bundled as `wrangler deploy` bundles it (bench/worker-saml-entry.ts, which is
 * src/runtime/worker.ts with a configuration that has a SAML connection), one D1, a fresh workerd
 * per run (a cold isolate). The IdP is this script: it signs each response (samlify, on Node, not
 * timed). Prints medians over the runs, in wall milliseconds as the client sees them:
 *
 * - first login: /authorize (builds the broker and the SAML connection) + the ACS + the code redeemed;
 * - login, warm: the same three requests for the next logins (each a new response);
 * - ACS alone, warm: the ACS post of those logins (parse, checks, signature, D1 writes);
 * - ACS, encrypted assertion: the same with the assertion encrypted to the SP (RSA-OAEP + AES);
 * - ACS refusing a forged response at the size cap: one no configured key signed (refused after one
 *   public-key operation per key, before any canonicalization);
 * - the ACS's stateless checks alone (parse, structure, signature, decryption), in the isolate,
 *   for a good response, an encrypted one, that forgery, and a genuine signed assertion (an
 *   attacker's own login's) in a Response padded with Extensions up to the element and size caps
 *   (refused since SAML_MAX_ELEMENTS_BESIDE_ASSERTION; before it, the costliest post: it passed the
 *   signature check and reached xml-crypto's full one):
 *   `POST /__bench/verify` runs them n times in one request, so (t(41) − t(1)) / 40 is their time
 *   per response with no I/O in between: the CPU time Workers would bill for them. The same checks
 *   on Node in this process, for the ratio.
 *
 * Workers bills and limits CPU time, which a local workerd does not report; the ACS figures are
 * wall time on an otherwise idle isolate with a local D1 (a round trip per statement), so they
 * bound the CPU time from above; the stateless-checks figure is the CPU part.
 *
 * Usage: npm run bench:worker-saml [-- runs]. Figures: docs/workers.md. Never asserted in tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { parse, stringify } from 'yaml';
import { SAML_MAX_RESPONSE_BASE64_CHARS, SAML_MAX_XML_ELEMENTS } from '../src/upstream/saml/limits.js';
import { inThreadVerifier, type SamlVerifierSetup } from '../src/upstream/saml/verifier.js';
import { decode, defaultSpec, encode, idpMetadata, idpResponse, testKeys } from '../test/upstream/saml/helpers.js';

const RUNS = Number(process.argv[2] ?? 5);
const LOGINS = 20;
const root = join(import.meta.dirname, '..');
const BASE = 'http://localhost:8787';
const SP = `${BASE}/login/saml/corp/metadata`;
const ACS = `${BASE}/login/saml/corp/acs`;
const APP_CB = 'http://localhost:3000/cb';

interface LocalWorkerd {
  ready: Promise<unknown>;
  dispatchFetch(url: string, init?: { method?: string; headers?: Record<string, string>; body?: string; redirect?: 'manual' }): Promise<Response>;
  getD1Database(binding: string): Promise<{ batch(statements: unknown[]): Promise<unknown>; prepare(sql: string): unknown }>;
  dispose(): Promise<void>;
}
const { Miniflare } = (await import(createRequire(join(root, 'node_modules/wrangler/package.json')).resolve('miniflare'))) as { Miniflare: new (options: Record<string, unknown>) => LocalWorkerd };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const value = await f();
  return [performance.now() - t0, value];
}

/** The bench Worker exactly as wrangler bundles a Worker for upload. */
function bundle(): string {
  const outdir = mkdtempSync(join(tmpdir(), 'xaa-worker-saml-'));
  execFileSync(process.execPath, [join(root, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', 'bench/worker-saml-entry.ts', '--dry-run', '--outdir', outdir], {
    cwd: root,
    stdio: 'pipe',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  return outdir;
}

async function main() {
  const keys = await testKeys();
  const config = parse(readFileSync(join(root, 'broker.config.yaml'), 'utf8')) as Record<string, unknown> & { clients: Record<string, unknown>[] };
  config.connections = [
    {
      type: 'saml',
      id: 'corp',
      display_name: 'Corp SAML',
      sp_entity_id: SP,
      acs_url: ACS,
      idp_metadata_xml: idpMetadata([keys.idp.cert]),
      sp_encryption: { private_key: keys.spEncryption.key, certificate: keys.spEncryption.cert },
      allow_insecure_http_for_loopback: true,
      authority: { email: { domains: ['example.com'], verified: 'always' } },
    },
  ];
  config.clients.find((c) => c.client_id === 'wiki-agent')!.oidc = { redirect_uris: [APP_CB], subject_namespace: 'analytics-users', scopes: ['openid', 'email'] };

  const outdir = bundle();
  const migrations = await readD1Migrations(join(root, 'migrations'));
  const persist = mkdtempSync(join(tmpdir(), 'xaa-worker-saml-d1-'));
  const outcomes = new Map<string, string>();
  const rows: Record<string, number[]> = { first: [], login: [], acs: [], encrypted: [], forged: [], checks: [], checksEncrypted: [], checksForged: [], checksPadded: [], nodeChecks: [], nodeChecksEncrypted: [], nodeChecksForged: [], nodeChecksPadded: [] };

  for (let run = 0; run <= RUNS; run++) {
    const mf = new Miniflare({
      modules: true,
      scriptPath: join(outdir, 'worker-saml-entry.js'),
      modulesRoot: outdir,
      modulesRules: [
        { type: 'Text', include: ['**/*.yaml', '**/*.cedar', '**/*.cedarschema'] },
        { type: 'CompiledWasm', include: ['**/*.wasm'] },
      ],
      compatibilityDate: '2025-09-15',
      compatibilityFlags: ['nodejs_compat'],
      bindings: { BENCH_CONFIG: stringify(config) },
      d1Databases: { DB: 'bench' },
      d1Persist: persist,
      handleRuntimeStdio: (stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) => {
        stdout.resume();
        stderr.resume();
      },
    });
    try {
      await mf.ready;
      const db = await mf.getD1Database('DB');
      if (run === 0) for (const m of migrations) await db.batch(m.queries.map((q) => db.prepare(q)));

      /** One login; returns [authorize + ACS + token ms, ACS ms]. The IdP's signing is not timed. */
      const login = async (encrypt = false): Promise<[number, number]> => {
        let cookie = '';
        const absorb = (res: Response) => {
          const set = res.headers.getSetCookie().map((c) => c.split(';')[0]!);
          if (set.length) cookie = [...cookie.split('; ').filter(Boolean), ...set].join('; ');
          return res;
        };
        const authorizeUrl = `${BASE}/authorize?${new URLSearchParams({ client_id: 'wiki-agent', redirect_uri: APP_CB, response_type: 'code', scope: 'openid email', state: 's', nonce: 'n' })}`;
        const [tAuthorize, started] = await timed(async () => absorb(await mf.dispatchFetch(authorizeUrl, { redirect: 'manual' })));
        if (started.status !== 302) throw new Error(`/authorize answered ${started.status}: ${await started.text()}`);
        const to = new URL(started.headers.get('location')!);
        const request = inflateRawSync(Buffer.from(to.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
        const now = Math.floor(Date.now() / 1000);
        const spec = defaultSpec({ inResponseTo: /\sID="([^"]+)"/.exec(request)![1]!, destination: ACS, recipient: ACS, audience: SP, spNameQualifier: SP, issueInstant: now - 1, notBefore: now - 1, authnInstant: now - 2, notOnOrAfter: now + 300, scdNotOnOrAfter: now + 300 });
        const SAMLResponse = await idpResponse(spec, { encrypt });
        const body = new URLSearchParams({ SAMLResponse, RelayState: to.searchParams.get('RelayState')! }).toString();
        const [tAcs, acs] = await timed(async () => absorb(await mf.dispatchFetch(ACS, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body, redirect: 'manual' })));
        if (acs.status !== 303) throw new Error(`the ACS answered ${acs.status}: ${await acs.text()}`);
        const code = new URL(acs.headers.get('location')!).searchParams.get('code')!;
        const tokenBody = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: APP_CB, client_id: 'wiki-agent', client_secret: 'demo-wiki-secret' }).toString();
        const [tToken, tokens] = await timed(() => mf.dispatchFetch(`${BASE}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: tokenBody }));
        if (tokens.status !== 200) throw new Error(`/token answered ${tokens.status}: ${await tokens.text()}`);
        return [tAuthorize + tAcs + tToken, tAcs];
      };

      const [first] = await login();
      if (run === 0) continue;
      rows.first!.push(first);
      const logins: number[] = [];
      const acs: number[] = [];
      for (let i = 0; i < LOGINS; i++) {
        const [total, acsMs] = await login();
        logins.push(total);
        acs.push(acsMs);
      }
      rows.login!.push(median(logins));
      rows.acs!.push(median(acs));
      const encrypted: number[] = [];
      for (let i = 0; i < LOGINS / 2; i++) encrypted.push((await login(true))[1]);
      rows.encrypted!.push(median(encrypted));

      // A forged response at the size cap: a valid-looking Response padded with attributes, signed by nobody.
      const forgedXml = (() => {
        const spec = defaultSpec({ destination: ACS, recipient: ACS, audience: SP });
        const value = 'x'.repeat(64);
        const base = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${spec.responseId}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${ACS}"><saml:Issuer>${spec.issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="${spec.assertionId}" Version="2.0" IssueInstant="${new Date().toISOString()}"><saml:Issuer>${spec.issuer}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#${spec.assertionId}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>${'A'.repeat(344)}</ds:SignatureValue></ds:Signature><saml:Subject><saml:NameID>victim</saml:NameID></saml:Subject><saml:AttributeStatement>`;
        const end = '</saml:AttributeStatement></saml:Assertion></samlp:Response>';
        let attributes = '';
        const attribute = (i: number) => `<saml:Attribute Name="a${i}"><saml:AttributeValue>${value}</saml:AttributeValue></saml:Attribute>`;
        for (let i = 0; encode(base + attributes + attribute(i) + end).length <= SAML_MAX_RESPONSE_BASE64_CHARS; i++) attributes += attribute(i);
        return encode(base + attributes + end);
      })();
      const forged: number[] = [];
      for (let i = 0; i < LOGINS / 2; i++) {
        const [ms, res] = await timed(() => mf.dispatchFetch(ACS, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ SAMLResponse: forgedXml }).toString(), redirect: 'manual' }));
        if (res.status !== 400) throw new Error(`the forged response answered ${res.status}`);
        await res.arrayBuffer();
        forged.push(ms);
      }
      rows.forged!.push(median(forged));

      // The stateless checks alone, in the isolate and on Node, for one good, one encrypted and the forged response.
      const setup = (decrypt: boolean): SamlVerifierSetup => ({
        connectionId: 'corp',
        spEntityId: SP,
        acsUrl: ACS,
        idpMetadataXml: idpMetadata([keys.idp.cert]),
        wantAssertionsSigned: true,
        wantResponseSigned: false,
        ...(decrypt ? { decryptionKeyPem: keys.spEncryption.key } : {}),
        principalKey: { kind: 'nameid' },
        skew: 60,
      });
      const now = Math.floor(Date.now() / 1000);
      const unsolicited = (encrypt: boolean) => idpResponse(defaultSpec({ destination: ACS, recipient: ACS, audience: SP, spNameQualifier: SP, issueInstant: now - 1, notBefore: now - 1, authnInstant: now - 2, notOnOrAfter: now + 300, scdNotOnOrAfter: now + 300 }), { encrypt });
      // A genuine signed assertion in a Response padded with Extensions to the caps (elements, then size).
      const padded = await (async () => {
        const xml = decode(await unsolicited(false));
        const at = xml.indexOf('<samlp:Status>');
        const elements = (xml.match(/</g) ?? []).length;
        let pads = '';
        const pad = (i: number) => `<x:p xmlns:x="urn:x-bench:pad" n="${i}">${'x'.repeat(40)}</x:p>`;
        const wrap = (p: string) => `${xml.slice(0, at)}<samlp:Extensions>${p}</samlp:Extensions>${xml.slice(at)}`;
        for (let i = 0; elements + i + 2 < SAML_MAX_XML_ELEMENTS && encode(wrap(pads + pad(i))).length <= SAML_MAX_RESPONSE_BASE64_CHARS; i++) pads += pad(i);
        return encode(wrap(pads));
      })();
      const cases: [string, string, boolean, boolean | undefined][] = [
        ['checks', await unsolicited(false), false, true],
        ['checksEncrypted', await unsolicited(true), true, true],
        ['checksForged', forgedXml, false, false],
        ['checksPadded', padded, false, undefined],
      ];
      for (const [name, response, decrypt, good] of cases) {
        const inIsolate = async (n: number) => {
          const [ms, res] = await timed(() => mf.dispatchFetch(`${BASE}/__bench/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ setup: setup(decrypt), response, now, n }) }));
          const outcome = (await res.json()) as { ok: boolean; reason?: string };
          if (good !== undefined && outcome.ok !== good) throw new Error(`${name}: the checks answered ${JSON.stringify(outcome)}`);
          if (good === undefined) outcomes.set(name, outcome.ok ? 'accepted by the stateless checks (the ACS then refuses it: no such login)' : `refused: ${outcome.reason}`);
          return ms;
        };
        await inIsolate(1);
        rows[name]!.push(((await inIsolate(41)) - (await inIsolate(1))) / 40);
        const verifier = inThreadVerifier(setup(decrypt));
        await verifier.verify(response, now);
        const t0 = performance.now();
        for (let i = 0; i < 40; i++) await verifier.verify(response, now);
        rows[`node${name[0]!.toUpperCase()}${name.slice(1)}`]!.push((performance.now() - t0) / 40);
      }
      if (run === 1) console.log(`forged response: ${forgedXml.length} base64 characters (cap ${SAML_MAX_RESPONSE_BASE64_CHARS})`);
    } finally {
      await mf.dispose();
    }
  }
  rmSync(outdir, { recursive: true, force: true });
  rmSync(persist, { recursive: true, force: true });

  const line = (label: string, xs: number[]) => console.log(`${label.padEnd(58)} ${median(xs).toFixed(1).padStart(7)} ms   (${xs.map((x) => x.toFixed(1)).join(', ')})`);
  console.log(`SAML logins on the Workers runtime (local workerd, Miniflare), ${RUNS} fresh isolates, medians:`);
  line('first login (builds broker + connection): 3 requests', rows.first!);
  line(`login, warm: /authorize + ACS + /token (median of ${LOGINS})`, rows.login!);
  line('ACS alone, warm (signed assertion)', rows.acs!);
  line('ACS alone, warm (encrypted, signed assertion)', rows.encrypted!);
  line('ACS refusing a forged response at the size cap', rows.forged!);
  line('stateless checks in the isolate: signed assertion', rows.checks!);
  line('stateless checks in the isolate: encrypted, signed assertion', rows.checksEncrypted!);
  line('stateless checks in the isolate: forged, at the size cap', rows.checksForged!);
  line('stateless checks in the isolate: genuine assertion, Response padded', rows.checksPadded!);
  line('the same on Node (this process): signed assertion', rows.nodeChecks!);
  line('the same on Node: encrypted, signed assertion', rows.nodeChecksEncrypted!);
  line('the same on Node: forged, at the size cap', rows.nodeChecksForged!);
  line('the same on Node: genuine assertion, Response padded', rows.nodeChecksPadded!);
  for (const [name, outcome] of outcomes) console.log(`${name}: ${outcome}`);
}

await main();
