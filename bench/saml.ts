/**
 * The SAML ACS section of `npm run bench` (alone: `npm run bench -- --only saml`), forked by
 * bench/token-exchange.ts into a process of its own, which it measures from inside: a
 * SAML connection as the broker builds it (two metadata certificates, as during a key rollover,
 * the IdP signing with the second), fed base64 SAMLResponses through `consumeResponse`, the ACS's
 * own work. Figures:
 *
 * - CPU per response: process CPU time (user + system, every thread, so the verification
 *   threads count) over sequential calls, divided by the count;
 * - main-thread ms per response: the event loop's active time (performance.eventLoopUtilization)
 *   over those calls, divided by the count: what the main thread itself spent;
 * - main-thread blocks: the gaps between the ticks of a 1 ms interval timer on the main thread
 *   over those calls (a gap of 1 ms is no block), longest and 99th percentile;
 * - good logins per second with BENCH_SAML_INFLIGHT (default 8) in flight, and the longest
 *   main-thread block meanwhile.
 *
 * Each is measured twice: verifying on the main thread (the verifier the connection uses when no
 * runtime supplies one) and on the Node runtime's pool of verification threads (what the broker
 * runs: src/runtime/node-saml-pool.ts).
 *
 * Forged shapes are built at the largest size the current limits let through the size check
 * (and, for comparison, as a 0.5 MB post), so a lower cap shows up as a cheaper refusal.
 */
import { X509Certificate } from 'node:crypto';
import { createHistogram, performance } from 'node:perf_hooks';
import selfsigned from 'selfsigned';
import { SignedXml } from 'xml-crypto';
import { SamlVerifierPool } from '../src/runtime/node-saml-pool.js';
import { inThreadVerifier, type SamlVerifierFactory } from '../src/upstream/saml/verifier.js';
import { createSamlConnection, SamlLoginError, SAML_MAX_RESPONSE_BASE64_CHARS, SAML_MAX_XML_ELEMENTS, MemoryLoginTransactionStore } from '../src/upstream/saml/index.js';

const IDP = 'https://idp.bench/metadata';
const SP = 'https://broker.bench/saml/sp';
const ACS = 'https://broker.bench/login/saml/corp/acs';
const NS_P = 'urn:oasis:names:tc:SAML:2.0:protocol';
const NS_A = 'urn:oasis:names:tc:SAML:2.0:assertion';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
/** Today's cap before this section existed: the "0.5 MB post" shapes are built just under it. */
const HALF_MB_POST_BASE64 = 512 * 1024 - 1024;

interface Pair {
  key: string;
  cert: string;
}

async function keyPair(cn: string): Promise<Pair> {
  const now = Date.now();
  const g = await selfsigned.generate([{ name: 'commonName', value: cn }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 86_400_000),
    notAfterDate: new Date(now + 365 * 86_400_000),
  });
  return { key: g.private, cert: g.cert };
}

const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
let counter = 0;
const id = (p: string) => `_${p}${++counter}${Math.random().toString(16).slice(2, 10)}`;

/** An Entra-like assertion: persistent NameID, a dozen claims and 40 group ids (~7 KB). */
function responseXml(o: { padding?: string; extensions?: string } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const attr = (name: string, values: string[]) => `<saml:Attribute Name="${name}">${values.map((v) => `<saml:AttributeValue>${v}</saml:AttributeValue>`).join('')}</saml:Attribute>`;
  const claims = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims';
  const groups = Array.from({ length: 40 }, (_, i) => `0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1${String(i).padStart(2, '0')}`);
  const attributes =
    attr('http://schemas.microsoft.com/identity/claims/tenantid', ['72f988bf-86f1-41af-91ab-2d7cd011db47']) +
    attr('http://schemas.microsoft.com/identity/claims/objectidentifier', ['6f3a2b1c-0d9e-4f8a-b7c6-5d4e3f2a1b0c']) +
    attr('http://schemas.microsoft.com/identity/claims/displayname', ['Alice Liddell']) +
    attr('http://schemas.microsoft.com/identity/claims/identityprovider', ['https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/']) +
    attr('http://schemas.microsoft.com/claims/authnmethodsreferences', ['http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password', 'http://schemas.microsoft.com/claims/multipleauthn']) +
    attr(`${claims}/givenname`, ['Alice']) +
    attr(`${claims}/surname`, ['Liddell']) +
    attr(`${claims}/emailaddress`, ['alice@corp.example']) +
    attr(`${claims}/name`, ['alice@corp.example']) +
    attr('http://schemas.microsoft.com/ws/2008/06/identity/claims/groups', groups) +
    (o.padding ?? '');
  const assertionId = id('a');
  return (
    `<samlp:Response xmlns:samlp="${NS_P}" xmlns:saml="${NS_A}" ID="${id('r')}" Version="2.0" IssueInstant="${iso(now - 2)}" Destination="${ACS}">` +
    `<saml:Issuer>${IDP}</saml:Issuer>${o.extensions ?? ''}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    `<saml:Assertion ID="${assertionId}" Version="2.0" IssueInstant="${iso(now - 2)}"><saml:Issuer>${IDP}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">Xo2mB3v1c6vR4qz9lH0pQ7w8sY5tN1kJ</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${iso(now + 300)}" Recipient="${ACS}"/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${iso(now - 60)}" NotOnOrAfter="${iso(now + 3600)}"><saml:AudienceRestriction><saml:Audience>${SP}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` +
    `<saml:AuthnStatement AuthnInstant="${iso(now - 5)}" SessionIndex="${assertionId}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `</saml:Assertion></samlp:Response>`
  );
}

function signAssertion(xml: string, key: Pair): string {
  const path = "/*[local-name(.)='Response']/*[local-name(.)='Assertion']";
  const sig = new SignedXml({ privateKey: key.key, publicCert: key.cert, signatureAlgorithm: RSA_SHA256, canonicalizationAlgorithm: EXC_C14N });
  sig.addReference({ xpath: path, transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: SHA256 });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${path}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

const b64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');

/** An attribute of many short values, sized so the whole response is about `base64Chars` once encoded. */
function padding(base64Chars: number, elementsBudget: number): string {
  const base = b64(responseXml()).length + 2_000; // + the signature
  const xmlBytes = Math.max(0, Math.floor(((base64Chars - base) * 3) / 4));
  const value = '<saml:AttributeValue>v</saml:AttributeValue>';
  const n = Math.max(1, Math.min(Math.floor((xmlBytes - 60) / value.length), elementsBudget));
  const filler = Math.max(0, xmlBytes - 60 - n * value.length);
  // Short values up to the element budget; the rest of the size as text in the last value.
  return `<saml:Attribute Name="padding">${value.repeat(n - 1)}<saml:AttributeValue>${'x'.repeat(filler)}</saml:AttributeValue></saml:Attribute>`;
}

export type SamlWhere = 'main thread' | 'pool';

export interface SamlRow {
  scenario: string;
  where: SamlWhere;
  'KB posted': number;
  n: number;
  'CPU ms/resp': number;
  'main-thread ms/resp': number;
  'max block ms': number;
  'p99 block ms': number;
  outcome: string;
}

export interface SamlThroughput {
  where: SamlWhere;
  threads: number;
  'logins/s': number;
  'CPU ms/login': number;
  'main-thread ms/login': number;
  'max block ms': number;
  'p99 block ms': number;
}

export interface SamlBenchResult {
  rows: SamlRow[];
  throughput: SamlThroughput[];
  failures: string[];
}

/**
 * The main thread's blocks: gaps between the ticks of a 1 ms interval, the last one closed at
 * stop() (so a block lasting to the end counts). Preemption by other processes counts too.
 */
function blockMonitor() {
  const gaps = createHistogram();
  let last = performance.now();
  const tick = () => {
    const t = performance.now();
    gaps.record(Math.max(1, Math.round((t - last) * 1000)));
    last = t;
  };
  const timer = setInterval(tick, 1);
  return {
    stop() {
      tick();
      clearInterval(timer);
      return { max: Number((gaps.max / 1000).toFixed(1)), p99: Number((gaps.percentile(99) / 1000).toFixed(1)) };
    },
  };
}

export async function runSamlBench(o: { logins: number; forged: number; inflight: number }): Promise<SamlBenchResult> {
  const [previous, current, attacker] = await Promise.all([keyPair('IdP (previous key)'), keyPair('IdP (current key)'), keyPair('Attacker')]);
  const certB64 = (pem: string) => new X509Certificate(pem).raw.toString('base64');
  const metadata =
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${IDP}"><md:IDPSSODescriptor protocolSupportEnumeration="${NS_P}">` +
    [previous, current].map((k) => `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certB64(k.cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`).join('') +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.bench/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>`;
  const seen = new Map<string, number>();
  const connect = (verifier: SamlVerifierFactory) => createSamlConnection(
    { id: 'corp', sp_entity_id: SP, acs_url: ACS, idp_metadata_xml: metadata, allow_idp_initiated: true },
    {
      verifier,
      replay: {
        consume: async (scope, assertionId, expiresAt) => {
          const k = `${scope} ${assertionId}`;
          if (seen.has(k)) return false;
          seen.set(k, expiresAt);
          return true;
        },
      },
      transactions: new MemoryLoginTransactionStore(),
      clock: () => Math.floor(Date.now() / 1000),
    },
  );
  const pool = new SamlVerifierPool();
  const connections = { 'main thread': await connect(inThreadVerifier), pool: await connect(pool.factory) } as const;

  const cap = SAML_MAX_RESPONSE_BASE64_CHARS;
  const elements = SAML_MAX_XML_ELEMENTS - 200;
  const good = () => b64(signAssertion(responseXml(), current));
  /** Builds with padding for `size`, then shrinks the padding until the post fits in `size`. */
  const fit = (size: number, build: (target: number) => string) => {
    let target = size;
    for (;;) {
      const out = build(target);
      if (out.length <= size) return out;
      target -= out.length - size + 8;
    }
  };
  const badSignature = (size: number) => fit(size, (t) => b64(signAssertion(responseXml({ padding: padding(t, elements) }), current).replace('>Alice<', '>Mallory<')));
  const wrongKey = (size: number) => fit(size, (t) => b64(signAssertion(responseXml({ padding: padding(t, elements) }), attacker)));
  const xsw = (size: number) =>
    fit(size, (t) => {
      // XSW3-like: a forged, unsigned assertion first, the genuinely signed one after it.
      const signed = signAssertion(responseXml(), current);
      const evil = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(responseXml({ padding: padding(t - b64(signed).length + 2_000, elements) }))![0].replace(/ID="[^"]+"/, `ID="${id('evil')}"`).replace('Xo2mB3v1c6vR4qz9lH0pQ7w8sY5tN1kJ', 'admin');
      return b64(signed.replace('<saml:Assertion ', `${evil}<saml:Assertion `));
    });
  const unsigned = (size: number) => fit(size, (t) => b64(responseXml({ padding: padding(t, elements) })));

  const failures: string[] = [];
  const rows: SamlRow[] = [];
  async function measure(where: SamlWhere, scenario: string, make: () => string, n: number, expect: 'ok' | 'refused'): Promise<SamlRow> {
    const conn = connections[where];
    const consume = (SAMLResponse: string) => conn.consumeResponse({ SAMLResponse }, {});
    const inputs = Array.from({ length: n }, make);
    // Warm-up, on every thread of the pool.
    await Promise.all(Array.from({ length: where === 'pool' ? pool.size * 2 : 1 }, () => consume(make()).catch(() => undefined)));
    const outcomes = new Map<string, number>();
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const blocks = blockMonitor();
    for (const input of inputs) {
      let outcome: string;
      try {
        await consume(input);
        outcome = 'ok';
      } catch (err) {
        outcome = err instanceof SamlLoginError ? err.reason.code : `error: ${err instanceof Error ? err.message : String(err)}`;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      // Let the block monitor's timer run between responses.
      await new Promise((r) => setTimeout(r, 2));
    }
    const block = blocks.stop();
    const elu = performance.eventLoopUtilization(elu0);
    const cpu = process.cpuUsage(cpu0);
    const outcome = [...outcomes].map(([k, v]) => (outcomes.size > 1 ? `${k} ×${v}` : k)).join(', ');
    if ((expect === 'ok') !== (outcome === 'ok')) failures.push(`${scenario}: ${outcome}`);
    return {
      scenario,
      where,
      'KB posted': Math.round(inputs[0]!.length / 1024),
      n,
      'CPU ms/resp': Number(((cpu.user + cpu.system) / 1000 / n).toFixed(2)),
      'main-thread ms/resp': Number((elu.active / n).toFixed(2)),
      'max block ms': block.max,
      'p99 block ms': block.p99,
      outcome,
    };
  }

  type Shape = readonly [string, () => string, number, 'ok' | 'refused'];
  const shapes: Shape[] = [
    ['good login (assertion signed, ~7 KB)', good, o.logins, 'ok'],
    ['bad signature, 0.5 MB post', () => badSignature(HALF_MB_POST_BASE64), o.forged, 'refused'],
    ['wrong-key signature, 0.5 MB post', () => wrongKey(HALF_MB_POST_BASE64), o.forged, 'refused'],
    ...(cap < HALF_MB_POST_BASE64
      ? ([
          ['bad signature, at the size cap', () => badSignature(cap - 64), o.forged, 'refused'],
          ['wrong-key signature, at the size cap', () => wrongKey(cap - 64), o.forged, 'refused'],
        ] satisfies Shape[])
      : []),
    ['XSW (forged assertion beside the signed one), at the size cap', () => xsw(Math.min(cap, HALF_MB_POST_BASE64) - 64), o.forged, 'refused'],
    ['unsigned, at the size cap', () => unsigned(Math.min(cap, HALF_MB_POST_BASE64) - 64), o.forged, 'refused'],
  ];
  for (const [scenario, make, n, expect] of shapes) {
    for (const where of ['main thread', 'pool'] as const) rows.push(await measure(where, scenario, make, n, expect));
  }

  // Throughput of good logins with several in flight, and the longest main-thread block meanwhile.
  const throughput: SamlThroughput[] = [];
  for (const where of ['main thread', 'pool'] as const) {
    const conn = connections[where];
    const inputs = Array.from({ length: o.logins }, good);
    let next = 0;
    let ok = 0;
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const blocks = blockMonitor();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: o.inflight }, async () => {
        while (next < inputs.length) {
          const input = inputs[next++]!;
          try {
            await conn.consumeResponse({ SAMLResponse: input }, {});
            ok++;
          } catch (err) {
            failures.push(`throughput (${where}): ${err instanceof SamlLoginError ? err.reason.code : String(err)}`);
          }
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const block = blocks.stop();
    const elu = performance.eventLoopUtilization(elu0);
    const cpu = process.cpuUsage(cpu0);
    throughput.push({
      where,
      threads: where === 'pool' ? pool.size : 1,
      'logins/s': Math.round(ok / seconds),
      'CPU ms/login': Number(((cpu.user + cpu.system) / 1000 / inputs.length).toFixed(2)),
      'main-thread ms/login': Number((elu.active / inputs.length).toFixed(2)),
      'max block ms': block.max,
      'p99 block ms': block.p99,
    });
  }
  await pool.close();
  return { rows, throughput, failures };
}

// Run by bench/token-exchange.ts in a process of its own: options in argv, the result over IPC.
if (process.argv[1] === import.meta.filename && process.send) {
  const result = await runSamlBench(JSON.parse(process.argv[2]!) as { logins: number; forged: number; inflight: number });
  process.send(result, () => process.exit(0));
}
