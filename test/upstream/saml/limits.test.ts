import { describe, expect, it } from 'vitest';
import {
  SAML_MAX_ATTRIBUTE_VALUES,
  SAML_MAX_ATTRIBUTES,
  SAML_MAX_ELEMENTS_BESIDE_ASSERTION,
  SAML_MAX_RESPONSE_BASE64_CHARS,
  SAML_MAX_XML_DEPTH,
  SAML_MAX_XML_ELEMENTS,
  type SamlRefusalCode,
} from '../../../src/upstream/saml/index.js';
import { BROWSER, decode, defaultSpec, encode, expectRefusal, harness, idpResponse, startLogin, type AttributeSpec, type ResponseSpec } from './helpers.js';

/**
 * The caps are set to what real IdPs send (docs/saml.md says why each number), so a genuinely
 * signed response just over one is refused with its reason, before any store is touched, and one
 * at the cap still logs in. The concrete figures in the "real IdP" cases are the requirement:
 * Entra ID, Okta, ADFS and Shibboleth responses are under 30 KB, a dozen levels deep at most, a
 * few hundred elements, tens of attributes and (Entra's group limit) at most 150 values of one.
 */

async function signed(spec: Partial<ResponseSpec>) {
  const h = await harness();
  const started = await startLogin(h);
  const b64 = await idpResponse(defaultSpec({ inResponseTo: started.requestId, ...spec }));
  return { h, started, b64 };
}

async function refused(a: Awaited<ReturnType<typeof signed>>, code: SamlRefusalCode, b64 = a.b64) {
  const error = await expectRefusal(a.h.conn.consumeResponse({ SAMLResponse: b64, RelayState: a.started.transactionId }, { browserBinding: BROWSER }), code);
  expect(error.transactionConsumed).toBe(false);
  expect(a.h.transactions.has(a.started.transactionId)).toBe(true);
  expect(a.h.replay.size).toBe(0);
  return error;
}

async function accepted(a: Awaited<ReturnType<typeof signed>>) {
  const finished = await a.h.conn.consumeResponse({ SAMLResponse: a.b64, RelayState: a.started.transactionId }, { browserBinding: BROWSER });
  expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
  return finished;
}

/** `n` attributes of `values` values each. */
const attributes = (n: number, values: number): AttributeSpec[] => Array.from({ length: n }, (_, i) => ({ name: `urn:x:attr-${i}`, values: Array.from({ length: values }, (_, j) => `v${j}`) }));

/** `n` empty elements in the (unsigned, schema-wise open) Extensions of the Response. */
const flat = (n: number) => `<samlp:Extensions xmlns:x="urn:x">${'<x:a/>'.repeat(n)}</samlp:Extensions>`;
const startTags = (xml: string) => (xml.match(/<[A-Za-z]/g) ?? []).length;

describe('size: SAMLResponse', () => {
  it('refuses a genuinely signed 200 KB response (several times what any IdP sends), before parsing', async () => {
    const a = await signed({ attributes: [{ name: 'blob', values: ['x'.repeat(150_000)] }] });
    expect(a.b64.length).toBeGreaterThan(200_000);
    await refused(a, 'response_too_large');
  });

  it('refuses a response one character over the cap and reads one at the cap', async () => {
    // Base64 grows 4 characters per 3 bytes: pad a value so the encoding lands just under the cap.
    const probe = await signed({ attributes: [{ name: 'blob', values: ['x'.repeat(50_000)] }] });
    const room = 50_000 + Math.floor(((SAML_MAX_RESPONSE_BASE64_CHARS - probe.b64.length) * 3) / 4) - 6;
    const atCap = await signed({ attributes: [{ name: 'blob', values: ['x'.repeat(room)] }] });
    expect(atCap.b64.length).toBeLessThanOrEqual(SAML_MAX_RESPONSE_BASE64_CHARS);
    expect(atCap.b64.length).toBeGreaterThan(SAML_MAX_RESPONSE_BASE64_CHARS - 24);
    await accepted(atCap);
    const over = await signed({ attributes: [{ name: 'blob', values: ['x'.repeat(room + 24)] }] });
    expect(over.b64.length).toBeGreaterThan(SAML_MAX_RESPONSE_BASE64_CHARS);
    await refused(over, 'response_too_large');
  });
});

describe('elements', () => {
  it('refuses a genuinely signed response carrying 4 000 elements (ten times a large real response)', async () => {
    const a = await signed({});
    const b64 = encode(decode(a.b64).replace('<samlp:Status>', `${flat(4_000)}<samlp:Status>`));
    const error = await refused(a, 'xml_malformed', b64);
    expect('detail' in error.reason && error.reason.detail).toMatch(/more than \d+ elements/);
  });

  it('reads a response at the element cap and refuses one element more', async () => {
    // The IdP's own assertion carries the elements (attribute values); the Response around it one more.
    const base = startTags(decode((await signed({ attributes: attributes(2, 0) })).b64));
    const room = SAML_MAX_XML_ELEMENTS - base;
    const a = await signed({ attributes: attributes(2, 0).map((attr, i) => ({ ...attr, values: Array.from({ length: i === 0 ? Math.ceil(room / 2) : Math.floor(room / 2) }, (_, j) => `v${j}`) })) });
    expect(startTags(decode(a.b64))).toBe(SAML_MAX_XML_ELEMENTS);
    const over = encode(decode(a.b64).replace('<samlp:Status>', '<samlp:Extensions xmlns:x="urn:x"></samlp:Extensions><samlp:Status>'));
    const error = await refused(a, 'xml_malformed', over);
    expect('detail' in error.reason && error.reason.detail).toBe(`more than ${SAML_MAX_XML_ELEMENTS} elements`);
    await accepted(a);
  });
});

describe('elements outside the assertion', () => {
  const beside = (xml: string) => startTags(xml) - startTags(/<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0]);

  it('refuses a genuine signed assertion in a Response padded beside it, before any signature is checked', async () => {
    const a = await signed({});
    // What an attacker holding their own login's assertion can build: a few hundred elements in Extensions.
    const padded = decode(a.b64).replace('<samlp:Status>', `${flat(400)}<samlp:Status>`);
    const error = await refused(a, 'xml_malformed', encode(padded));
    expect('detail' in error.reason && error.reason.detail).toBe(`${beside(padded)} elements outside the assertion (at most ${SAML_MAX_ELEMENTS_BESIDE_ASSERTION})`);
  });

  it('reads a response with as many elements beside its assertion as allowed, and refuses one more', async () => {
    const a = await signed({});
    const room = SAML_MAX_ELEMENTS_BESIDE_ASSERTION - beside(decode(a.b64)) - 1; // - the Extensions element
    const at = decode(a.b64).replace('<samlp:Status>', `${flat(room)}<samlp:Status>`);
    expect(beside(at)).toBe(SAML_MAX_ELEMENTS_BESIDE_ASSERTION);
    const over = decode(a.b64).replace('<samlp:Status>', `${flat(room + 1)}<samlp:Status>`);
    const error = await refused(a, 'xml_malformed', encode(over));
    expect('detail' in error.reason && error.reason.detail).toBe(`${SAML_MAX_ELEMENTS_BESIDE_ASSERTION + 1} elements outside the assertion (at most ${SAML_MAX_ELEMENTS_BESIDE_ASSERTION})`);
    const finished = await a.h.conn.consumeResponse({ SAMLResponse: encode(at), RelayState: a.started.transactionId }, { browserBinding: BROWSER });
    expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
  });
});

describe('depth', () => {
  const nested = (levels: number) => `<samlp:Extensions>${'<x:a xmlns:x="urn:x">'.repeat(levels)}${'</x:a>'.repeat(levels)}</samlp:Extensions>`;

  it('refuses Extensions nested 24 deep (a SAML response is 7 levels deep)', async () => {
    const a = await signed({});
    const b64 = encode(decode(a.b64).replace('<samlp:Status>', `${nested(22)}<samlp:Status>`));
    const error = await refused(a, 'xml_malformed', b64);
    expect('detail' in error.reason && error.reason.detail).toMatch(/nested deeper than/);
  });

  it('reads a response at the depth cap and refuses one level more', async () => {
    // Response (1) > Extensions (2) > levels.
    const a = await signed({});
    const at = encode(decode(a.b64).replace('<samlp:Status>', `${nested(SAML_MAX_XML_DEPTH - 2)}<samlp:Status>`));
    const over = encode(decode(a.b64).replace('<samlp:Status>', `${nested(SAML_MAX_XML_DEPTH - 1)}<samlp:Status>`));
    const error = await refused(a, 'xml_malformed', over);
    expect('detail' in error.reason && error.reason.detail).toBe(`nested deeper than ${SAML_MAX_XML_DEPTH} elements`);
    const finished = await a.h.conn.consumeResponse({ SAMLResponse: at, RelayState: a.started.transactionId }, { browserBinding: BROWSER });
    expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
  });
});

describe('attributes', () => {
  it('refuses 150 attributes (IdPs send tens)', async () => {
    await refused(await signed({ attributes: attributes(150, 1) }), 'too_many_attributes');
  });

  it('reads the cap and refuses one attribute more', async () => {
    await accepted(await signed({ attributes: attributes(SAML_MAX_ATTRIBUTES, 1) }));
    await refused(await signed({ attributes: attributes(SAML_MAX_ATTRIBUTES + 1, 1) }), 'too_many_attributes');
  });

  it('refuses 600 values of one attribute (Entra sends at most 150 groups)', async () => {
    const error = await refused(await signed({ attributes: attributes(1, 600) }), 'too_many_attributes');
    expect('detail' in error.reason && error.reason.detail).toMatch(/600 values/);
  });

  it('reads the cap of values and refuses one value more', async () => {
    await accepted(await signed({ attributes: attributes(1, SAML_MAX_ATTRIBUTE_VALUES) }));
    await refused(await signed({ attributes: attributes(1, SAML_MAX_ATTRIBUTE_VALUES + 1) }), 'too_many_attributes');
  });
});

describe('comments inside values', () => {
  it('refuses a comment inside the NameID (comment injection), rather than reading through it', async () => {
    // The IdP signed `alice@example.com.evil.com`; a comment added after signing leaves the
    // signature valid (comments are outside the canonical form).
    const a = await signed({ nameId: 'alice@example.com.evil.com' });
    const b64 = encode(decode(a.b64).replace('alice@example.com.evil.com</saml:NameID>', 'alice@example.com<!---->.evil.com</saml:NameID>'));
    const error = await refused(a, 'xml_comment_refused', b64);
    expect('detail' in error.reason && error.reason.detail).toMatch(/NameID/);
  });

  it('refuses a comment inside an attribute value', async () => {
    const a = await signed({ attributes: [{ name: 'mail', values: ['alice@example.com.evil.com'] }] });
    const b64 = encode(decode(a.b64).replace('>alice@example.com.evil.com<', '>alice@example.com<!-- x -->.evil.com<'));
    const error = await refused(a, 'xml_comment_refused', b64);
    expect('detail' in error.reason && error.reason.detail).toMatch(/AttributeValue/);
  });

  it('refuses a processing instruction inside a value too', async () => {
    const a = await signed({ attributes: [{ name: 'mail', values: ['alice@example.com.evil.com'] }] });
    const b64 = encode(decode(a.b64).replace('>alice@example.com.evil.com<', '>alice@example.com<?x y?>.evil.com<'));
    await refused(a, 'xml_comment_refused', b64);
  });
});
