import { createHash, KeyObject, verify, type KeyLike } from 'node:crypto';
import { SignedXml, type HashAlgorithm, type SignatureAlgorithm } from 'xml-crypto';
import { findAncestorNsForElement } from 'xml-crypto/lib/utils.js';
import { refused, type SamlSignedPart } from './errors.js';
import { attr, children, NS, simpleText } from './xml.js';

/**
 * XML-DSig verification of an enveloped signature (the Response's or the Assertion's) with
 * xml-crypto, under the broker's rules:
 *
 * - the key comes from the IdP metadata only; KeyInfo is never used to find or trust a key (it is
 *   read only to say, in a refusal, that it named a certificate the metadata does not have);
 * - several metadata certificates may verify (rollover): each is tried on the SignatureValue over
 *   the canonical SignedInfo, which is a few hundred bytes, before xml-crypto checks the
 *   references with the one that verified. A response no configured key signed is refused after
 *   one public-key operation per key, without canonicalizing or digesting its content; a good one
 *   is checked once by xml-crypto, not once per certificate;
 * - the signature, digest and canonicalization algorithms are allow-listed before xml-crypto runs,
 *   and xml-crypto is given only the allowed implementations as well (no SHA-1, no HMAC);
 * - exactly one Reference, whose URI is `#` + the ID of the element that envelopes the signature;
 * - what the caller reads afterwards is the signed reference xml-crypto returns (the canonical
 *   bytes whose digest was checked), never a node of the original document.
 */

const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const C14N = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

/** Canonicalization of SignedInfo, and the transforms a Reference may list. No `#WithComments`. */
export const ALLOWED_CANONICALIZATIONS: ReadonlySet<string> = new Set([EXC_C14N, C14N]);
export const ALLOWED_TRANSFORMS: ReadonlySet<string> = new Set([ENVELOPED, EXC_C14N, C14N]);

interface SignatureSpec {
  hash: 'sha256' | 'sha384' | 'sha512';
  keyType: 'rsa' | 'ec';
}

/** RSA PKCS#1 v1.5 and ECDSA with SHA-256 or stronger. Nothing else verifies. */
export const ALLOWED_SIGNATURE_ALGORITHMS: Readonly<Record<string, SignatureSpec>> = {
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': { hash: 'sha256', keyType: 'rsa' },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384': { hash: 'sha384', keyType: 'rsa' },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': { hash: 'sha512', keyType: 'rsa' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256': { hash: 'sha256', keyType: 'ec' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384': { hash: 'sha384', keyType: 'ec' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512': { hash: 'sha512', keyType: 'ec' },
};

export const ALLOWED_DIGEST_ALGORITHMS: Readonly<Record<string, 'sha256' | 'sha384' | 'sha512'>> = {
  'http://www.w3.org/2001/04/xmlenc#sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384': 'sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512': 'sha512',
};

/** A signing key of the IdP, from its metadata. */
export interface IdpSigningKey {
  key: KeyObject;
  /** The certificate's DER, base64 without whitespace: what KeyInfo would carry. */
  certBase64: string;
}

/** An EC key's SPKI DER, exported once per key (metadata keys live as long as their metadata copy). */
const spkis = new WeakMap<KeyObject, Buffer>();
function spkiOf(key: KeyObject): Buffer {
  let der = spkis.get(key);
  if (!der) spkis.set(key, (der = key.export({ type: 'spki', format: 'der' })));
  return der;
}

function verifierFor(uri: string, spec: SignatureSpec): new () => SignatureAlgorithm {
  class Verifier {
    getSignature(): never {
      throw new Error('verification only');
    }
    verifySignature(material: string, key: KeyLike, signatureValue: string): boolean {
      // The key type must match the algorithm: an EC key never verifies an "rsa-sha256" signature.
      if (!(key instanceof KeyObject) || key.type !== 'public' || key.asymmetricKeyType !== spec.keyType) return false;
      try {
        const data = Buffer.from(material, 'utf8');
        const sig = Buffer.from(signatureValue, 'base64');
        if (spec.keyType === 'rsa') return verify(spec.hash, data, key, sig);
        // XML-DSig ECDSA signature values are r‖s (RFC 4050 / xmldsig-core1 §6.4.3), not DER. The
        // key goes as SPKI DER: workerd's node:crypto refuses a KeyObject inside an options object.
        return verify(spec.hash, data, { key: spkiOf(key), format: 'der', type: 'spki', dsaEncoding: 'ieee-p1363' }, sig);
      } catch {
        return false;
      }
    }
    getAlgorithmName(): string {
      return uri;
    }
  }
  return Verifier as unknown as new () => SignatureAlgorithm;
}

function hashFor(uri: string, alg: string): new () => HashAlgorithm {
  return class {
    getHash(xml: string): string {
      return createHash(alg).update(xml, 'utf8').digest('base64');
    }
    getAlgorithmName(): string {
      return uri;
    }
  };
}

const HASHES = Object.fromEntries(Object.entries(ALLOWED_DIGEST_ALGORITHMS).map(([uri, alg]) => [uri, hashFor(uri, alg)]));

function algorithmOf(el: Element | undefined): string {
  return (el && attr(el, 'Algorithm')) ?? '';
}

/** The structural and algorithm checks, on our own parse of the signature, before any crypto. */
function precheck(signature: Element, parent: Element, where: SamlSignedPart): { signatureAlgorithm: string; canonicalization: string; signedInfo: Element } {
  const signedInfos = children(signature, NS.dsig, 'SignedInfo');
  if (signedInfos.length !== 1) refused({ code: 'signature_invalid', where, detail: 'expected exactly one SignedInfo' });
  const signedInfo = signedInfos[0]!;

  const c14n = algorithmOf(children(signedInfo, NS.dsig, 'CanonicalizationMethod')[0]);
  if (!ALLOWED_CANONICALIZATIONS.has(c14n)) refused({ code: 'canonicalization_refused', algorithm: c14n, detail: `${where} SignedInfo` });

  const signatureAlgorithm = algorithmOf(children(signedInfo, NS.dsig, 'SignatureMethod')[0]);
  if (!Object.hasOwn(ALLOWED_SIGNATURE_ALGORITHMS, signatureAlgorithm)) refused({ code: 'signature_algorithm_refused', algorithm: signatureAlgorithm, detail: where });

  const references = children(signedInfo, NS.dsig, 'Reference');
  if (references.length !== 1) refused({ code: 'signature_reference_invalid', where, detail: `${references.length} references` });
  const reference = references[0]!;
  const id = attr(parent, 'ID');
  const uri = attr(reference, 'URI');
  // The signature must cover the element that envelopes it, by that element's ID: a reference to
  // anything else (a copy hidden elsewhere, the whole document) is a wrapping attempt.
  if (!id || uri !== `#${id}`) refused({ code: 'signature_reference_invalid', where, detail: `URI ${uri ?? '(none)'} is not #ID of the signed element` });

  const transformsEl = children(reference, NS.dsig, 'Transforms');
  const transforms = transformsEl.length === 1 ? children(transformsEl[0]!, NS.dsig, 'Transform').map((t) => algorithmOf(t)) : [];
  if (transformsEl.length !== 1 || transforms.length === 0 || transforms.length > 2 || !transforms.includes(ENVELOPED)) {
    refused({ code: 'canonicalization_refused', algorithm: transforms.join(' '), detail: `${where} reference transforms must be enveloped-signature and a canonicalization` });
  }
  for (const t of transforms) if (!ALLOWED_TRANSFORMS.has(t)) refused({ code: 'canonicalization_refused', algorithm: t, detail: `${where} reference transform` });

  const digest = algorithmOf(children(reference, NS.dsig, 'DigestMethod')[0]);
  if (!Object.hasOwn(ALLOWED_DIGEST_ALGORITHMS, digest)) refused({ code: 'digest_algorithm_refused', algorithm: digest, detail: where });

  return { signatureAlgorithm, canonicalization: c14n, signedInfo };
}

/**
 * How many elements of the document carry `id` under any name xml-crypto resolves: one DOM walk
 * (xml-crypto's XPath search costs far more per element). The reference must resolve to exactly
 * the element that envelopes the signature, so xml-crypto is then told only of `ID`.
 */
function idOwners(root: Element, id: string): number {
  let count = 0;
  const stack: Element[] = [root];
  while (stack.length > 0) {
    const el = stack.pop()!;
    if (el.getAttribute('ID') === id || el.getAttribute('Id') === id || el.getAttribute('id') === id) count++;
    for (let n = el.lastChild; n; n = n.previousSibling) if (n.nodeType === 1) stack.push(n as Element);
  }
  return count;
}

type Reference = ReturnType<SignedXml['getReferences']>[number];
interface Transform {
  process(node: unknown, options: object): unknown;
}

/**
 * The reference's canonical form for the digest pre-check, by xml-crypto's own transforms and
 * canonicalizer, applied to the located element itself instead of the deep copy xml-crypto's
 * getCanonXml makes (the copy was most of the cost of refusing an altered response at the caps):
 * the enveloped-signature transform detaches the signature, which is put back where it was,
 * whatever happens. Only for enveloped-signature first (every IdP's order); any other order goes
 * through getCanonXml. Used to refuse only: xml-crypto's full check still decides acceptance.
 */
function referenceCanonicalForm(sx: SignedXml, reference: Reference, parent: Element, signature: Element): string {
  const options = { inclusiveNamespacesPrefixList: reference.inclusiveNamespacesPrefixList, ancestorNamespaces: findAncestorNsForElement(parent) };
  const { transforms } = reference;
  if (transforms[0] !== ENVELOPED || signature.parentNode !== parent) return sx.getCanonXml(transforms, parent, options);
  const transform = (name: string) => (sx as unknown as { findCanonicalizationAlgorithm(name: string): Transform }).findCanonicalizationAlgorithm(name);
  const transformOptions = { ...options, defaultNsForPrefix: SignedXml.defaultNsForPrefix, signatureNode: signature };
  const next = signature.nextSibling;
  let out: unknown = parent;
  let octetsMidway = false;
  try {
    for (const name of transforms) {
      // At most two transforms, enveloped-signature first: only the last yields octets.
      if (typeof out === 'string') {
        octetsMidway = true;
        break;
      }
      out = transform(name).process(out, transformOptions);
    }
    // A node-set left at the end becomes octets by inclusive C14N, as in xml-crypto.
    if (!octetsMidway && typeof out !== 'string') out = transform(C14N).process(out, transformOptions);
  } finally {
    if (signature.parentNode !== parent) parent.insertBefore(signature, next);
  }
  return octetsMidway ? sx.getCanonXml(transforms, parent, options) : String(out);
}

/** Certificates KeyInfo carries, for the refusal's detail only. */
function keyInfoCertificates(signature: Element): string[] {
  const out: string[] = [];
  for (const keyInfo of children(signature, NS.dsig, 'KeyInfo')) {
    for (const data of children(keyInfo, NS.dsig, 'X509Data')) {
      for (const cert of children(data, NS.dsig, 'X509Certificate')) out.push((simpleText(cert) ?? '').replace(/\s+/g, ''));
    }
  }
  return out;
}

/**
 * Verifies the one enveloped signature of `parent` (which belongs to the document parsed from
 * `xml`) and returns the canonical XML of the signed element, as xml-crypto digested it (without
 * the signature itself). Throws Refused.
 */
export function verifyEnvelopedSignature(xml: string, signature: Element, parent: Element, where: SamlSignedPart, keys: readonly IdpSigningKey[]): string {
  const { signatureAlgorithm, canonicalization, signedInfo } = precheck(signature, parent, where);
  if (idOwners(parent.ownerDocument.documentElement, attr(parent, 'ID')!) !== 1) refused({ code: 'duplicate_id', detail: `${where} signature reference` });
  const spec = ALLOWED_SIGNATURE_ALGORITHMS[signatureAlgorithm]!;
  const Verifier = verifierFor(signatureAlgorithm, spec);
  // KeyInfo is never consulted for trust: the key is the metadata's, or nothing.
  const sx = new SignedXml({ getCertFromKeyInfo: () => null });
  const canon = sx.CanonicalizationAlgorithms;
  sx.CanonicalizationAlgorithms = { [EXC_C14N]: canon[EXC_C14N]!, [C14N]: canon[C14N]!, [ENVELOPED]: canon[ENVELOPED]! };
  sx.HashAlgorithms = { ...HASHES };
  sx.SignatureAlgorithms = { [signatureAlgorithm]: Verifier };
  // SAML's ID attribute only: each name costs xml-crypto an XPath search of the whole document, and
  // the referenced value was just found on exactly one element under any of the three names.
  sx.idAttributes = ['ID'];
  try {
    sx.loadSignature(signature);
  } catch (err) {
    refused({ code: 'signature_invalid', where, detail: err instanceof Error ? err.message : String(err) });
  }

  // Stage B of core validation first (xml-crypto does it last): the SignatureValue over the
  // canonical SignedInfo, by xml-crypto's canonicalizer, under each metadata key, the one KeyInfo
  // names first. Inclusive C14N renders the namespaces in scope from the ancestors.
  const signedInfoCanon = sx.getCanonXml([canonicalization], signedInfo, canonicalization === C14N ? { ancestorNamespaces: findAncestorNsForElement(signedInfo) } : {});
  const signatureValue = (sx as unknown as { signatureValue?: string }).signatureValue ?? '';
  const named = new Set(keyInfoCertificates(signature));
  const ordered = [...keys.filter((k) => named.has(k.certBase64)), ...keys.filter((k) => !named.has(k.certBase64))];
  const verifier = new Verifier();
  const signer = ordered.find(({ key }) => verifier.verifySignature(signedInfoCanon, key, signatureValue));

  if (signer) {
    // Stage A, on the element already located (no search of the document): the reference's digest,
    // over xml-crypto's canonical form of it. A mismatch is refused here; a match is not trusted
    // yet. These two pre-checks only ever refuse: what is accepted, xml-crypto alone accepts below.
    const reference = sx.getReferences()[0]!;
    const canonical = referenceCanonicalForm(sx, reference, parent, signature);
    const digest = new HASHES[reference.digestAlgorithm]!().getHash(canonical);
    if (digest !== String(reference.digestValue ?? '').replace(/\s+/g, '')) refused({ code: 'signature_digest_mismatch', where });

    // Core validation by xml-crypto, with that key only: the reference resolves to exactly one
    // element, its digest and the SignatureValue verify; what it returns is the signed bytes.
    sx.publicCert = signer.key;
    let valid: boolean;
    try {
      valid = sx.checkSignature(xml);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/multiple elements with the same value for the ID/.test(message)) refused({ code: 'duplicate_id', detail: `${where} signature reference` });
      refused({ code: 'signature_invalid', where, detail: message });
    }
    // xml-crypto checks the references before the SignatureValue: false means a digest did not
    // match. The signed content was altered.
    if (!valid) refused({ code: 'signature_digest_mismatch', where });
    const signed = sx.getSignedReferences();
    if (signed.length !== 1) refused({ code: 'signature_invalid', where, detail: `${signed.length} signed references` });
    return signed[0]!;
  }

  const metadataCerts = new Set(keys.map((k) => k.certBase64));
  const foreign = keyInfoCertificates(signature).some((c) => !metadataCerts.has(c));
  refused({
    code: 'signature_untrusted',
    where,
    detail: foreign ? 'no IdP metadata certificate verifies it; KeyInfo carries a certificate that is not in the metadata (ignored)' : 'no IdP metadata certificate verifies it',
  });
}

/**
 * The HTTP-Redirect binding's signature (SAML bindings §3.4.4.1): `signature` (base64) over the
 * octets of `signedQuery` (`SAMLRequest=…&RelayState=…&SigAlg=…` exactly as received, still
 * URL-encoded), by `sigAlg` from the same allow-list as XML signatures, under each metadata key
 * (rollover). No XML is involved: the whole deflated message is covered. Throws Refused.
 */
export function verifyRedirectSignature(signedQuery: string, sigAlg: string, signature: string, where: SamlSignedPart, keys: readonly IdpSigningKey[]): void {
  if (!Object.hasOwn(ALLOWED_SIGNATURE_ALGORITHMS, sigAlg)) refused({ code: 'signature_algorithm_refused', algorithm: sigAlg, detail: `${where} SigAlg` });
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature) || signature.length % 4 !== 0) refused({ code: 'signature_invalid', where, detail: 'Signature is not base64' });
  const verifier = new (verifierFor(sigAlg, ALLOWED_SIGNATURE_ALGORITHMS[sigAlg]!))();
  if (!keys.some(({ key }) => verifier.verifySignature(signedQuery, key, signature))) refused({ code: 'signature_untrusted', where, detail: 'no IdP metadata certificate verifies the query signature' });
}
