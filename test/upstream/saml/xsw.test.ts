import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { Refused } from '../../../src/upstream/saml/errors.js';
import { verifyEnvelopedSignature, type IdpSigningKey } from '../../../src/upstream/saml/signature.js';
import type { SamlRefusalCode } from '../../../src/upstream/saml/index.js';
import { BROWSER, child, decode, defaultSpec, el, expectRefusal, harness, idpResponse, mutate, NS_A, NS_DS, NS_P, parseXml, startLogin, testKeys } from './helpers.js';

/**
 * XML Signature Wrapping, the eight variants of Somorovsky et al., "On Breaking SAML: Be Whoever You
 * Want to Be" (USENIX Security 2012), each generated here from a good response that samlify signed.
 * In every variant the attacker keeps the IdP's genuine signature verifiable while making the SP
 * read other content (here: the victim's persistent NameID). XSW1–2 wrap a signed Response,
 * XSW3–8 a signed Assertion.
 *
 * Each variant is checked twice: through the whole pipeline (refused by the structural checks, which
 * run first), and against the signature layer alone, as if the structural checks were not there, on
 * the element a naive SP would read (the root Response, or the Response's first Assertion child):
 * the signature must still not vouch for it.
 */

const VICTIM = 'victim-persistent-id';

let keys: Awaited<ReturnType<typeof testKeys>>;
let trusted: IdpSigningKey[];
beforeAll(async () => {
  keys = await testKeys();
  const cert = new X509Certificate(keys.idp.cert);
  trusted = [{ key: cert.publicKey, certBase64: cert.raw.toString('base64') }];
});

function directAssertion(response: Element): Element {
  const a = child(response, NS_A, 'Assertion');
  if (!a) throw new Error('no direct Assertion');
  return a;
}

function setNameId(assertion: Element, value: string): void {
  el(assertion, NS_A, 'NameID').textContent = value;
}

/** A deep copy of an element without its own (direct) Signature. */
function withoutSignature(element: Element): Element {
  const copy = element.cloneNode(true) as Element;
  const sig = child(copy, NS_DS, 'Signature');
  if (sig) copy.removeChild(sig);
  return copy;
}

type Variant = { name: string; target: 'response' | 'assertion'; pipeline: SamlRefusalCode; signatureLayer: SamlRefusalCode | 'unsigned'; build: (doc: Document) => void };

const VARIANTS: Variant[] = [
  {
    // XSW1: the evil Response takes the root, with a new ID; the original signed Response, copied
    // without its signature, is put inside the Signature element, where the Reference finds it.
    name: 'XSW1: signed Response copied into the Signature of an evil Response',
    target: 'response',
    pipeline: 'multiple_responses',
    signatureLayer: 'signature_reference_invalid',
    build: (doc) => {
      const root = doc.documentElement;
      const original = withoutSignature(root);
      root.setAttribute('ID', '_evil-response');
      setNameId(directAssertion(root), VICTIM);
      child(root, NS_DS, 'Signature')!.appendChild(original);
    },
  },
  {
    // XSW2: as XSW1, but the copy of the signed Response sits beside the Signature, before it
    // (a detached signature over a sibling).
    name: 'XSW2: signed Response copied beside the Signature of an evil Response',
    target: 'response',
    pipeline: 'multiple_responses',
    signatureLayer: 'signature_reference_invalid',
    build: (doc) => {
      const root = doc.documentElement;
      const original = withoutSignature(root);
      root.setAttribute('ID', '_evil-response');
      setNameId(directAssertion(root), VICTIM);
      root.insertBefore(original, child(root, NS_DS, 'Signature')!);
    },
  },
  {
    // XSW3: an evil, unsigned Assertion (new ID) is inserted before the signed one, as the
    // Response's first assertion; the signed one stays and still verifies.
    name: 'XSW3: evil Assertion inserted before the signed one',
    target: 'assertion',
    pipeline: 'multiple_assertions',
    signatureLayer: 'unsigned',
    build: (doc) => {
      const root = doc.documentElement;
      const signed = directAssertion(root);
      const evil = withoutSignature(signed);
      evil.setAttribute('ID', '_evil-assertion');
      setNameId(evil, VICTIM);
      root.insertBefore(evil, signed);
    },
  },
  {
    // XSW4: the evil Assertion replaces the signed one, and the signed one is moved inside it.
    name: 'XSW4: signed Assertion wrapped inside an evil Assertion',
    target: 'assertion',
    pipeline: 'multiple_assertions',
    signatureLayer: 'unsigned',
    build: (doc) => {
      const root = doc.documentElement;
      const signed = directAssertion(root);
      const evil = withoutSignature(signed);
      evil.setAttribute('ID', '_evil-assertion');
      setNameId(evil, VICTIM);
      root.replaceChild(evil, signed);
      evil.appendChild(signed);
    },
  },
  {
    // XSW5: the signed Assertion is altered in place (new ID, victim's NameID) and keeps the
    // Signature; an unsigned copy of the original, with the original ID, is appended to the
    // Response for the Reference to find.
    name: 'XSW5: evil Assertion keeps the Signature, original copy appended to the Response',
    target: 'assertion',
    pipeline: 'multiple_assertions',
    signatureLayer: 'signature_reference_invalid',
    build: (doc) => {
      const root = doc.documentElement;
      const signed = directAssertion(root);
      const original = withoutSignature(signed);
      signed.setAttribute('ID', '_evil-assertion');
      setNameId(signed, VICTIM);
      root.appendChild(original);
    },
  },
  {
    // XSW6: as XSW5, but the original copy goes inside the evil Assertion's Signature element.
    name: 'XSW6: evil Assertion keeps the Signature, original copy inside that Signature',
    target: 'assertion',
    pipeline: 'multiple_assertions',
    signatureLayer: 'signature_reference_invalid',
    build: (doc) => {
      const root = doc.documentElement;
      const signed = directAssertion(root);
      const original = withoutSignature(signed);
      signed.setAttribute('ID', '_evil-assertion');
      setNameId(signed, VICTIM);
      child(signed, NS_DS, 'Signature')!.appendChild(original);
    },
  },
  {
    // XSW7: the signed Assertion, signature and all, is moved into a samlp:Extensions element
    // (whose schema admits any foreign element, laxly); an evil unsigned Assertion takes its place.
    name: 'XSW7: signed Assertion hidden in Extensions, evil Assertion in its place',
    target: 'assertion',
    pipeline: 'multiple_assertions',
    signatureLayer: 'unsigned',
    build: (doc) => {
      const root = doc.documentElement;
      const signed = directAssertion(root);
      const extensions = doc.createElementNS(NS_P, 'samlp:Extensions');
      extensions.appendChild(signed.cloneNode(true));
      root.insertBefore(extensions, child(root, NS_P, 'Status')!);
      signed.removeChild(child(signed, NS_DS, 'Signature')!);
      signed.setAttribute('ID', '_evil-assertion');
      setNameId(signed, VICTIM);
    },
  },
  {
    // XSW8: as XSW6, but the original copy is wrapped in a ds:Object inside the Signature (a
    // schema-valid place for arbitrary content).
    name: 'XSW8: evil Assertion keeps the Signature, original copy in a ds:Object of it',
    target: 'assertion',
    pipeline: 'multiple_assertions',
    signatureLayer: 'signature_reference_invalid',
    build: (doc) => {
      const root = doc.documentElement;
      const signed = directAssertion(root);
      const original = withoutSignature(signed);
      signed.setAttribute('ID', '_evil-assertion');
      setNameId(signed, VICTIM);
      const object = doc.createElementNS(NS_DS, 'ds:Object');
      object.appendChild(original);
      child(signed, NS_DS, 'Signature')!.appendChild(object);
    },
  },
  {
    // Not one of the eight: XSW5 where the evil Assertion also keeps the original ID, so the
    // Reference URI does match the element that envelopes the Signature. Two elements then carry
    // that ID, and the signature layer refuses to pick one.
    name: 'XSW5 with the original ID kept on the evil Assertion (duplicate IDs)',
    target: 'assertion',
    pipeline: 'multiple_assertions',
    signatureLayer: 'duplicate_id',
    build: (doc) => {
      const root = doc.documentElement;
      const signed = directAssertion(root);
      const original = withoutSignature(signed);
      setNameId(signed, VICTIM);
      root.appendChild(original);
    },
  },
];

/** What the signature layer alone says about the element a naive SP would read. */
function signatureLayerVerdict(xml: string, target: 'response' | 'assertion'): SamlRefusalCode | 'unsigned' | 'verified' {
  const doc = parseXml(xml);
  const element = target === 'response' ? doc.documentElement : directAssertion(doc.documentElement);
  const signature = child(element, NS_DS, 'Signature');
  if (!signature) return 'unsigned';
  try {
    verifyEnvelopedSignature(xml, signature, element, target, trusted);
    return 'verified';
  } catch (err) {
    if (err instanceof Refused) return err.reason.code;
    throw err;
  }
}

describe('XML signature wrapping (XSW1–XSW8)', () => {
  for (const variant of VARIANTS) {
    it(`${variant.name}: refused, nothing stored`, async () => {
      const config = variant.target === 'response' ? { want_response_signed: true, want_assertions_signed: false } : {};
      const sign = variant.target === 'response' ? { signAssertion: false, signResponse: true } : {};
      const h = await harness(config);
      const started = await startLogin(h);
      const good = await idpResponse(defaultSpec({ inResponseTo: started.requestId }), sign);
      // The good response verifies under the signature layer as received.
      expect(signatureLayerVerdict(decode(good), variant.target)).toBe('verified');

      const wrapped = mutate(good, variant.build);
      expect(decode(wrapped)).toContain(VICTIM);

      const error = await expectRefusal(h.conn.consumeResponse({ SAMLResponse: wrapped, RelayState: started.transactionId }, { browserBinding: BROWSER }), variant.pipeline);
      expect(error.transactionConsumed).toBe(false);
      expect(h.transactions.has(started.transactionId)).toBe(true);
      expect(h.replay.size).toBe(0);

      // Defence in depth: without the structural checks, the signature still vouches for nothing
      // the attacker wrote.
      expect(signatureLayerVerdict(decode(wrapped), variant.target)).toBe(variant.signatureLayer);

      // And the genuine response still logs the user in: the attempt cancelled nothing.
      const finished = await h.conn.consumeResponse({ SAMLResponse: good, RelayState: started.transactionId }, { browserBinding: BROWSER });
      expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
    });
  }
});

describe('what is read is what was signed', () => {
  it('the signature layer returns the signed bytes: no Signature, no comments, text nodes joined', async () => {
    const good = await idpResponse(defaultSpec({ nameId: 'alice@example.com.evil.com' }));
    const injected = decode(good).replace('alice@example.com.evil.com<', 'alice@example.com<!-- cut -->.evil.com<');
    const doc = parseXml(injected);
    const assertion = directAssertion(doc.documentElement);
    const signed = verifyEnvelopedSignature(injected, child(assertion, NS_DS, 'Signature')!, assertion, 'assertion', trusted);
    expect(signed).not.toContain('Signature');
    expect(signed).not.toContain('<!--');
    expect(signed).toContain('>alice@example.com.evil.com</saml:NameID>');
  });

  it('a tampered copy with the same ID elsewhere is refused, not silently preferred', async () => {
    const good = await idpResponse(defaultSpec());
    const tampered = mutate(good, (doc) => {
      const assertion = directAssertion(doc.documentElement);
      const copy = withoutSignature(assertion);
      setNameId(copy, VICTIM);
      const extensions = doc.createElementNS(NS_P, 'samlp:Extensions');
      extensions.appendChild(copy);
      doc.documentElement.insertBefore(extensions, child(doc.documentElement, NS_P, 'Status')!);
    });
    expect(signatureLayerVerdict(decode(tampered), 'assertion')).toBe('duplicate_id');
  });
});
