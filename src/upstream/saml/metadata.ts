import { readFile, stat } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { readBounded } from '../../http/bounded.js';
import { Refused } from './errors.js';
import { SAML_METADATA_FETCH_TIMEOUT_MS, SAML_METADATA_MAX_BYTES, SAML_MIN_RSA_BITS } from './limits.js';
import type { IdpSigningKey } from './signature.js';
import { readSingleLogout, type IdpSingleLogout } from './slo-metadata.js';
import { attr, children, is, NS, parseStrict, refuseDoctype, simpleText } from './xml.js';

/**
 * The IdP's SAML metadata: where it comes from (a file, a URL fetched with a timeout and a size
 * cap, or inline XML) and what the broker takes from it. Parsed here, namespace-aware, rather than
 * by samlify (whose metadata reader matches on local names and treats a KeyDescriptor without
 * `use` loosely). The signing certificates are the only trust anchors for the IdP's signatures.
 */

const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const ALLOWED_CURVES: ReadonlySet<string> = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

export interface IdpMetadata {
  entityId: string;
  /** Every signing certificate the metadata lists (rollover: the IdP may sign with any of them). */
  signingKeys: IdpSigningKey[];
  singleSignOn: { redirect?: string; post?: string };
  wantAuthnRequestsSigned: boolean;
  /** SingleLogoutService endpoints (empty when the IdP offers no Single Logout). */
  singleLogout: IdpSingleLogout;
}

export interface MetadataSource {
  idp_metadata_file?: string;
  idp_metadata_url?: string;
  idp_metadata_xml?: string;
}

/** Thrown for metadata that cannot be read or used; the connection wraps it as SamlConfigError. */
export class MetadataError extends Error {}

function utf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new MetadataError('metadata is not UTF-8');
  }
}

async function fetchMetadata(url: string, fetchImpl: typeof fetch): Promise<string> {
  let res: Response;
  try {
    // No redirects: the configured URL is the one trusted (over TLS) to speak for the IdP.
    res = await fetchImpl(url, {
      redirect: 'error',
      signal: AbortSignal.timeout(SAML_METADATA_FETCH_TIMEOUT_MS),
      headers: { accept: 'application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8' },
    });
  } catch (err) {
    throw new MetadataError(`metadata fetch failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok || !res.body) throw new MetadataError(`metadata fetch answered ${res.status}`);
  const bytes = await readBounded(res.body, SAML_METADATA_MAX_BYTES);
  if (!bytes) throw new MetadataError(`metadata larger than ${SAML_METADATA_MAX_BYTES} bytes`);
  return utf8(bytes);
}

async function readMetadataFile(path: string): Promise<string> {
  let bytes: Buffer;
  try {
    const info = await stat(path);
    if (info.size > SAML_METADATA_MAX_BYTES) throw new MetadataError(`metadata file larger than ${SAML_METADATA_MAX_BYTES} bytes`);
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof MetadataError) throw err;
    throw new MetadataError(`metadata file cannot be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  return utf8(bytes);
}

export async function loadMetadataText(source: MetadataSource, fetchImpl: typeof fetch = fetch): Promise<string> {
  if (source.idp_metadata_xml !== undefined) return source.idp_metadata_xml;
  if (source.idp_metadata_file !== undefined) return readMetadataFile(source.idp_metadata_file);
  if (source.idp_metadata_url !== undefined) return fetchMetadata(source.idp_metadata_url, fetchImpl);
  throw new MetadataError('no metadata source');
}

/** A signing certificate (base64 DER) as a key, refused if weak; also used for metadata_signing_certificate (metadata-source.ts). */
export function signingKey(base64: string): IdpSigningKey {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(base64, 'base64'));
  } catch {
    throw new MetadataError('a signing certificate in the metadata cannot be parsed');
  }
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < SAML_MIN_RSA_BITS) throw new MetadataError(`an RSA signing key is shorter than ${SAML_MIN_RSA_BITS} bits`);
  } else if (key.asymmetricKeyType === 'ec') {
    if (!ALLOWED_CURVES.has(details.namedCurve ?? '')) throw new MetadataError(`EC signing key on an unsupported curve (${details.namedCurve})`);
  } else {
    throw new MetadataError(`unsupported signing key type ${key.asymmetricKeyType}`);
  }
  return { key, certBase64: base64 };
}

function entityDescriptors(root: Element): Element[] {
  if (is(root, NS.metadata, 'EntityDescriptor')) return [root];
  if (is(root, NS.metadata, 'EntitiesDescriptor')) {
    return [...children(root, NS.metadata, 'EntityDescriptor'), ...children(root, NS.metadata, 'EntitiesDescriptor').flatMap(entityDescriptors)];
  }
  // Elements are matched by namespace, never by name alone: say so when only the namespace is wrong.
  if (root.localName === 'EntityDescriptor' || root.localName === 'EntitiesDescriptor') {
    throw new MetadataError(`the root element ${root.localName} is not in the SAML metadata namespace (${NS.metadata})`);
  }
  throw new MetadataError('root element is neither md:EntityDescriptor nor md:EntitiesDescriptor');
}

/**
 * xmldom reads an element whose prefix is bound to no namespace as in no namespace (XML
 * Namespaces forbids it); it would then be silently skipped, and the metadata refused for a
 * misleading reason (no certificate, no endpoint). One pass, no recursion: aggregates are large.
 */
function refuseUnboundPrefixes(doc: Document): void {
  const all = doc.getElementsByTagName('*');
  for (let i = 0; i < all.length; i++) {
    const el = all.item(i)!;
    if (el.prefix && !el.namespaceURI) throw new MetadataError(`the element ${el.tagName} uses a prefix bound to no namespace`);
  }
}

/**
 * Picks the IdP (by entity id when the document is an aggregate) and reads its entity id, signing
 * certificates, single sign-on endpoints and WantAuthnRequestsSigned.
 */
export function parseIdpMetadata(xml: string, expectedEntityId?: string): IdpMetadata {
  let doc: Document;
  try {
    refuseDoctype(xml);
    doc = parseStrict(xml);
  } catch (err) {
    if (err instanceof Refused) throw new MetadataError(`metadata refused: ${err.reason.code}`);
    throw err;
  }
  refuseUnboundPrefixes(doc);
  const candidates = entityDescriptors(doc.documentElement).filter((e) => children(e, NS.metadata, 'IDPSSODescriptor').length > 0);
  const matching = expectedEntityId === undefined ? candidates : candidates.filter((e) => attr(e, 'entityID') === expectedEntityId);
  if (matching.length !== 1) {
    throw new MetadataError(expectedEntityId === undefined ? `expected one IdP entity, found ${candidates.length} (set idp_entity_id)` : `IdP entity ${expectedEntityId} not found (or found twice)`);
  }
  const entity = matching[0]!;
  const entityId = attr(entity, 'entityID');
  if (!entityId) throw new MetadataError('EntityDescriptor has no entityID');

  const descriptors = children(entity, NS.metadata, 'IDPSSODescriptor');
  if (descriptors.length !== 1) throw new MetadataError('expected exactly one IDPSSODescriptor');
  const idp = descriptors[0]!;
  if (!(attr(idp, 'protocolSupportEnumeration') ?? '').split(/\s+/).includes(NS.protocol)) {
    throw new MetadataError('IDPSSODescriptor does not support the SAML 2.0 protocol');
  }

  const certs: string[] = [];
  for (const kd of children(idp, NS.metadata, 'KeyDescriptor')) {
    const use = attr(kd, 'use');
    if (use !== undefined && use !== 'signing') continue;
    for (const keyInfo of children(kd, NS.dsig, 'KeyInfo')) {
      for (const data of children(keyInfo, NS.dsig, 'X509Data')) {
        for (const c of children(data, NS.dsig, 'X509Certificate')) {
          const b64 = (simpleText(c) ?? '').replace(/\s+/g, '');
          if (b64 && !certs.includes(b64)) certs.push(b64);
        }
      }
    }
  }
  if (certs.length === 0) throw new MetadataError('the IdP metadata lists no signing certificate');

  const singleSignOn: IdpMetadata['singleSignOn'] = {};
  for (const sso of children(idp, NS.metadata, 'SingleSignOnService')) {
    const binding = attr(sso, 'Binding');
    const location = attr(sso, 'Location');
    if (!location) continue;
    if (binding === REDIRECT) singleSignOn.redirect ??= location;
    if (binding === POST) singleSignOn.post ??= location;
  }
  if (!singleSignOn.redirect && !singleSignOn.post) throw new MetadataError('the IdP metadata has no HTTP-Redirect or HTTP-POST SingleSignOnService');
  for (const url of Object.values(singleSignOn)) {
    if (!/^https?:\/\//.test(url)) throw new MetadataError(`SingleSignOnService Location ${url} is not an http(s) URL`);
  }

  const was = attr(idp, 'WantAuthnRequestsSigned');
  return {
    entityId,
    signingKeys: certs.map(signingKey),
    singleSignOn,
    wantAuthnRequestsSigned: was === 'true' || was === '1',
    singleLogout: readSingleLogout(idp, (message) => {
      throw new MetadataError(message);
    }),
  };
}
