import { beforeAll, describe, expect, it } from 'vitest';
import { SAML_METADATA_DEFAULT_REFRESH, SAML_METADATA_MAX_REFRESH, SAML_METADATA_MIN_REFRESH, SAML_METADATA_RETRY_AFTER } from '../../../src/constants.js';
import { MetadataError } from '../../../src/upstream/saml/metadata.js';
import { IdpMetadataSource, metadataLifetime, parseDuration, refreshDelay, trustedCopy, verifiedMetadataXml, metadataSigningKeys, type MetadataSourceConfig } from '../../../src/upstream/saml/metadata-source.js';
import { parseStrict } from '../../../src/upstream/saml/xml.js';
import { aggregate, certBody, federation, idpEntity, signRoot } from '../../fixtures/saml/lifecycle/federation.js';
import { makeKeyPair, NOW, parseXml, serialize, testKeys, type KeyPair } from './helpers.js';

/**
 * The metadata lifecycle's logic (src/upstream/saml/metadata-source.ts), pure: validity and
 * refresh scheduling from cacheDuration/validUntil, the root signature of aggregates, and a
 * source over an injected fetch and clock. Behaviour through the broker: metadata-lifecycle.test.ts.
 */

const IDP = 'https://idp.uni.example.edu/idp/shibboleth';
const URL_ = 'https://fed.example.org/metadata/aggregate.xml';
const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';

let keys: Awaited<ReturnType<typeof testKeys>>;
let federationKey: KeyPair;
let otherFederationKey: KeyPair;
beforeAll(async () => {
  keys = await testKeys();
  [federationKey, otherFederationKey] = await Promise.all([makeKeyPair('Test Federation metadata signer'), makeKeyPair('Another federation')]);
});

function signedFederation(o: { idpCerts?: string[]; validUntil?: number; cacheDuration?: string; size?: number; key?: KeyPair } = {}): string {
  const xml = federation({
    id: `_fed${Math.random().toString(16).slice(2)}`,
    publicationInstant: NOW,
    validUntil: o.validUntil ?? NOW + 14 * 86_400,
    ...(o.cacheDuration ? { cacheDuration: o.cacheDuration } : {}),
    idp: idpEntity({ entityId: IDP, signing: o.idpCerts ?? [keys.idp.cert], encryption: keys.spEncryption.cert }),
    size: o.size ?? 39,
    otherCert: keys.attacker.cert,
  });
  return signRoot(xml, o.key ?? federationKey);
}

function expectMetadataError(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(MetadataError);
  expect((caught as Error).message).toMatch(pattern);
}

describe('cacheDuration and validUntil', () => {
  it('reads xs:duration values as IdPs and federations publish them', () => {
    expect(parseDuration('PT6H')).toBe(6 * 3600);
    expect(parseDuration('P1D')).toBe(86_400);
    expect(parseDuration('PT1H30M')).toBe(5400);
    expect(parseDuration('PT0.5S')).toBe(0.5);
    expect(parseDuration('P1DT12H')).toBe(86_400 + 12 * 3600);
    for (const bad of ['', 'P', 'PT', '6H', '-PT6H', 'PT6X', 'P1DT']) expect(parseDuration(bad), bad).toBeUndefined();
  });

  it('bounds the refresh delay: at least the minimum, at most the maximum, the default without a cacheDuration', () => {
    expect(refreshDelay(1)).toBe(SAML_METADATA_MIN_REFRESH);
    expect(refreshDelay(30 * 86_400)).toBe(SAML_METADATA_MAX_REFRESH);
    expect(refreshDelay(undefined)).toBe(SAML_METADATA_DEFAULT_REFRESH);
    expect(refreshDelay(SAML_METADATA_MIN_REFRESH + 7)).toBe(SAML_METADATA_MIN_REFRESH + 7);
  });

  it('takes the earliest validUntil and the shortest cacheDuration from the IdP entity up to the root', () => {
    const xml = aggregate({
      id: '_agg',
      publicationInstant: NOW,
      validUntil: NOW + 10 * 86_400,
      cacheDuration: 'PT6H',
      entities: [
        idpEntity({ entityId: 'https://other.example.org/idp/shibboleth', signing: [keys.idp.cert], validUntil: NOW + 60 }),
        idpEntity({ entityId: IDP, signing: [keys.idp.cert], validUntil: NOW + 86_400, cacheDuration: 'PT1H' }),
      ],
    });
    // The other entity's short validUntil is not this IdP's.
    expect(metadataLifetime(parseStrict(xml).documentElement, IDP)).toEqual({ validUntil: NOW + 86_400, cacheDuration: 3600 });
  });

  it('refuses a validUntil that is not a UTC instant, and an expired copy', () => {
    const odd = idpEntity({ entityId: IDP, signing: [keys.idp.cert] }).replace('entityID=', 'validUntil="2026-12-31T00:00:00+01:00" entityID=');
    expectMetadataError(() => trustedCopy(odd, { fromUrl: false, now: NOW }), /validUntil "2026-12-31T00:00:00\+01:00" is not a UTC xs:dateTime/);
    const expired = idpEntity({ entityId: IDP, signing: [keys.idp.cert], validUntil: NOW - 1 });
    expectMetadataError(() => trustedCopy(expired, { fromUrl: false, now: NOW }), /the metadata expired at .* \(validUntil\)/);
  });
});

describe('a federation aggregate is trusted only under its root signature', () => {
  it('a signed 39-entity aggregate verifies against the configured certificate; the IdP is read from the signed bytes', () => {
    const copy = trustedCopy(signedFederation(), { fromUrl: true, keys: metadataSigningKeys(federationKey.cert), entityId: IDP, now: NOW });
    expect(copy.idp.entityId).toBe(IDP);
    // Only the signing certificate: the encryption key beside it is not a trust anchor.
    expect(copy.idp.signingKeys.map((k) => k.certBase64)).toEqual([certBody(keys.idp.cert)]);
    expect(copy.validUntil).toBe(NOW + 14 * 86_400);
    // What is used is what the signature covers: the signed root, without the signature.
    expect(copy.xml).not.toContain('SignatureValue');
    expect(copy.xml).toContain(IDP);
  });

  it('an unsigned aggregate is refused when a metadata signer is configured, and always from a URL', () => {
    const unsigned = federation({ id: '_f1', publicationInstant: NOW, idp: idpEntity({ entityId: IDP, signing: [keys.idp.cert] }), size: 5, otherCert: keys.attacker.cert });
    expectMetadataError(() => trustedCopy(unsigned, { fromUrl: false, keys: metadataSigningKeys(federationKey.cert), entityId: IDP, now: NOW }), /not signed at its root/);
    expectMetadataError(() => trustedCopy(unsigned, { fromUrl: true, entityId: IDP, now: NOW }), /aggregate .* from idp_metadata_url must be signed: configure metadata_signing_certificate/);
  });

  it('an aggregate signed by another key is refused', () => {
    expectMetadataError(() => trustedCopy(signedFederation({ key: otherFederationKey }), { fromUrl: true, keys: metadataSigningKeys(federationKey.cert), entityId: IDP, now: NOW }), /signature refused: signature_untrusted/);
  });

  it('an entity added to a signed aggregate breaks its digest', () => {
    const signed = signedFederation({ size: 5 });
    const evil = idpEntity({ entityId: 'https://evil.example.net/idp/shibboleth', signing: [keys.attacker.cert] });
    const tampered = signed.replace('</md:EntitiesDescriptor>', `${evil}</md:EntitiesDescriptor>`);
    expectMetadataError(() => trustedCopy(tampered, { fromUrl: true, keys: metadataSigningKeys(federationKey.cert), entityId: IDP, now: NOW }), /signature refused: signature_digest_mismatch/);
  });

  describe('signature wrapping', () => {
    /** The genuine signed aggregate, and an attacker's IdP entity with the same entityID and the attacker's key. */
    function pieces() {
      const signed = signedFederation({ size: 5 });
      const body = signed.replace(/^<\?xml[^>]*\?>\s*/, '');
      const evil = idpEntity({ entityId: IDP, signing: [keys.attacker.cert] });
      return { signed, body, evil };
    }
    const verify = (xml: string) => trustedCopy(xml, { fromUrl: true, keys: metadataSigningKeys(federationKey.cert), entityId: IDP, now: NOW });

    it('the signed aggregate nested inside an unsigned root beside a forged entity: the root is not signed', () => {
      const { body, evil } = pieces();
      const wrapped = `<md:EntitiesDescriptor xmlns:md="${MD}" ID="_wrapper">${evil}${body}</md:EntitiesDescriptor>`;
      expectMetadataError(() => verify(wrapped), /not signed at its root/);
    });

    it("the genuine signature moved onto a new root: it references the nested aggregate's ID, not the root's", () => {
      const { body, evil } = pieces();
      const doc = parseXml(body);
      const signature = doc.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature').item(0)!;
      const sigXml = serialize(signature);
      const inner = body.replace(sigXml, '');
      const wrapped = `<md:EntitiesDescriptor xmlns:md="${MD}" ID="_wrapper">${sigXml}${evil}${inner}</md:EntitiesDescriptor>`;
      expectMetadataError(() => verify(wrapped), /signature refused: signature_reference_invalid/);
    });

    it('a new root that takes the signed ID for itself: the ID is held twice', () => {
      const { body, evil } = pieces();
      const id = /ID="([^"]+)"/.exec(body)![1]!;
      const sigXml = serialize(parseXml(body).getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature').item(0)!);
      const wrapped = `<md:EntitiesDescriptor xmlns:md="${MD}" ID="${id}">${sigXml}${evil}${body.replace(sigXml, '')}</md:EntitiesDescriptor>`;
      expectMetadataError(() => verify(wrapped), /signature refused: duplicate_id/);
    });

    it('what is read is the signed bytes: the verified root, its signature removed, byte for byte what was digested', () => {
      const { signed } = pieces();
      const bytes = verifiedMetadataXml(signed, metadataSigningKeys(federationKey.cert));
      expect(bytes.startsWith('<md:EntitiesDescriptor')).toBe(true);
      expect(bytes).not.toContain('<ds:Signature');
      expect(verify(signed).idp.signingKeys.map((k) => k.certBase64)).toEqual([certBody(keys.idp.cert)]);
    });
  });

  it('refuses a metadata_signing_certificate that cannot be used', () => {
    expectMetadataError(() => metadataSigningKeys('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), /metadata_signing_certificate cannot be parsed/);
  });
});

/** A metadata host the test controls: what it answers, how often it was asked. */
function metadataHost(initial: string) {
  const host = { body: initial as string | Error, status: 200, fetches: 0 };
  const fetchImpl = (async () => {
    host.fetches++;
    if (host.body instanceof Error) throw host.body;
    return new Response(host.body, { status: host.status, headers: { 'content-type': 'application/samlmetadata+xml' } });
  }) as unknown as typeof fetch;
  return { host, fetchImpl };
}

function recordingLogger() {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const write = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  return { lines, logger: { info: write('info'), warn: write('warn'), error: write('error') } };
}

describe('a metadata source over a URL, on the injected clock', () => {
  const config: MetadataSourceConfig = { id: 'uni', idp_metadata_url: URL_, idp_entity_id: IDP };

  async function source(initial: string, extra: Partial<MetadataSourceConfig> = {}) {
    const clock = { now: NOW };
    const { host, fetchImpl } = metadataHost(initial);
    const { lines, logger } = recordingLogger();
    const src = await IdpMetadataSource.load({ ...config, ...extra }, { clock: () => clock.now, fetch: fetchImpl, logger });
    return { clock, host, src, lines };
  }

  it('fetches again only once cacheDuration has passed', async () => {
    const { clock, host, src } = await source(idpEntity({ entityId: IDP, signing: [keys.idp.cert], cacheDuration: 'PT1H' }));
    expect(host.fetches).toBe(1);
    clock.now += 3599;
    await src.use(clock.now);
    expect(host.fetches).toBe(1);
    host.body = idpEntity({ entityId: IDP, signing: [keys.idp.cert, keys.idp2.cert], cacheDuration: 'PT1H' });
    clock.now += 1;
    const copy = await src.use(clock.now);
    expect(host.fetches).toBe(2);
    expect(copy.version).toBe(2);
    expect(copy.idp.signingKeys).toHaveLength(2);
    expect(src.status(clock.now)).toMatchObject({ connection: 'uni', source: 'url', state: 'current', fetchedAt: clock.now, nextRefreshAt: clock.now + 3600, signingKeys: 2 });
  });

  it('holds a tiny cacheDuration to the minimum and uses the default without one', async () => {
    const tiny = await source(idpEntity({ entityId: IDP, signing: [keys.idp.cert], cacheDuration: 'PT1S' }));
    expect(tiny.src.status(NOW).nextRefreshAt).toBe(NOW + SAML_METADATA_MIN_REFRESH);
    tiny.clock.now += SAML_METADATA_MIN_REFRESH - 1;
    await tiny.src.use(tiny.clock.now);
    expect(tiny.host.fetches).toBe(1);
    const none = await source(idpEntity({ entityId: IDP, signing: [keys.idp.cert] }));
    expect(none.src.status(NOW).nextRefreshAt).toBe(NOW + SAML_METADATA_DEFAULT_REFRESH);
  });

  it('refuses logins after validUntil until a fresh copy arrives, then uses it', async () => {
    const { clock, host, src } = await source(idpEntity({ entityId: IDP, signing: [keys.idp.cert], validUntil: NOW + 600, cacheDuration: 'P1D' }));
    // Due at validUntil, not a day later.
    expect(src.status(NOW).nextRefreshAt).toBe(NOW + 600);
    host.body = new Error('getaddrinfo ENOTFOUND fed.example.org');
    clock.now = NOW + 600;
    await expect(src.use(clock.now)).rejects.toMatchObject({ reason: { code: 'metadata_expired', detail: expect.stringMatching(/has passed; last refresh failed: metadata fetch failed: getaddrinfo ENOTFOUND/) } });
    expect(src.status(clock.now)).toMatchObject({ state: 'expired', lastFailure: { at: clock.now } });
    // No new attempt before the retry delay, however many logins come.
    await expect(src.use(clock.now + 1)).rejects.toMatchObject({ reason: { code: 'metadata_expired' } });
    expect(host.fetches).toBe(2);
    host.body = idpEntity({ entityId: IDP, signing: [keys.idp.cert], validUntil: NOW + 86_400 });
    clock.now += SAML_METADATA_RETRY_AFTER;
    expect((await src.use(clock.now)).validUntil).toBe(NOW + 86_400);
    expect(src.status(clock.now).state).toBe('current');
  });

  it('keeps the last good copy when a refresh fails, and says why: network, status, bad signature, expired, unparsable, another IdP', async () => {
    const good = signedFederation({ cacheDuration: 'PT1H', size: 5 });
    const { clock, host, src, lines } = await source(good, { metadata_signing_certificate: federationKey.cert });
    const failures: [string | Error, RegExp, number?][] = [
      [new Error('connect ECONNREFUSED'), /metadata fetch failed: connect ECONNREFUSED/],
      ['<html>oops</html>', /metadata fetch answered 503/, 503],
      [signedFederation({ key: otherFederationKey, size: 5 }), /metadata signature refused: signature_untrusted/],
      [signedFederation({ validUntil: NOW + 60, size: 5 }), /the metadata expired at/],
      ['<md:EntitiesDescriptor', /metadata refused: xml_malformed/],
      [signRoot(aggregate({ id: '_other', publicationInstant: NOW, entities: [idpEntity({ entityId: 'https://other.example.org/idp/shibboleth', signing: [keys.attacker.cert] })] }), federationKey), new RegExp(`IdP entity ${IDP} not found`)],
    ];
    for (const [body, reason, status] of failures) {
      host.body = body;
      host.status = status ?? 200;
      clock.now += 3600 + SAML_METADATA_RETRY_AFTER;
      const copy = await src.use(clock.now);
      expect(copy.version, String(reason)).toBe(1);
      expect(copy.idp.signingKeys.map((k) => k.certBase64)).toEqual([certBody(keys.idp.cert)]);
      expect(src.status(clock.now)).toMatchObject({ state: 'stale', lastFailure: { at: clock.now, reason: expect.stringMatching(reason) }, nextRefreshAt: clock.now + SAML_METADATA_RETRY_AFTER });
      expect(lines.at(-1)).toMatchObject({ level: 'warn', fields: { event: 'saml_metadata_refresh_failed', connection: 'uni', reason: expect.stringMatching(reason) } });
    }
  });

  it('a file or inline source is never fetched again, but its validUntil still ends it', async () => {
    const clock = { now: NOW };
    const src = await IdpMetadataSource.load({ id: 'inline', idp_metadata_xml: idpEntity({ entityId: IDP, signing: [keys.idp.cert], validUntil: NOW + 100 }) }, { clock: () => clock.now });
    expect(src.status(NOW)).toMatchObject({ source: 'inline', state: 'current' });
    expect(src.status(NOW).nextRefreshAt).toBeUndefined();
    await expect(src.use(NOW + 100)).rejects.toMatchObject({ reason: { code: 'metadata_expired' } });
  });

  it('an unsigned aggregate from a URL does not load at all', async () => {
    const unsigned = federation({ id: '_f', publicationInstant: NOW, idp: idpEntity({ entityId: IDP, signing: [keys.idp.cert] }), size: 5, otherCert: keys.attacker.cert });
    await expect(source(unsigned)).rejects.toThrow(/must be signed: configure metadata_signing_certificate/);
  });
});
