import { beforeAll, describe, expect, it } from 'vitest';
import { ALG, BROWSER, DIGEST, defaultSpec, encode, ENVELOPED, EXC_C14N, expectRefusal, harness, INCLUSIVE_C14N, responseXml, startLogin, testKeys, xmlCryptoSign } from './helpers.js';

/**
 * The digest pre-check (signature.ts) canonicalizes the located element in place, with xml-crypto's
 * transforms, instead of a deep copy: it must compute exactly xml-crypto's digest for every
 * transform list the broker accepts (a good response is accepted) and refuse altered content
 * (`signature_digest_mismatch`), leaving the document as it was (the good response, posted after,
 * is still accepted).
 */

let keys: Awaited<ReturnType<typeof testKeys>>;
beforeAll(async () => {
  keys = await testKeys();
});

describe('digest pre-check of the located element', () => {
  it.each([
    ['enveloped-signature, exclusive c14n', [ENVELOPED, EXC_C14N]],
    ['enveloped-signature, inclusive c14n', [ENVELOPED, INCLUSIVE_C14N]],
    ['enveloped-signature alone (inclusive c14n at the end)', [ENVELOPED]],
    ['exclusive c14n, then enveloped-signature (xml-crypto canonicalizes)', [EXC_C14N, ENVELOPED]],
  ])('%s: the good response is accepted, altered content refused', async (_name, transforms) => {
    const h = await harness();
    const started = await startLogin(h);
    const xml = xmlCryptoSign(responseXml(defaultSpec({ inResponseTo: started.requestId })), { key: keys.idp, target: 'assertion', signatureAlgorithm: ALG.rsaSha256, digestAlgorithm: DIGEST.sha256, transforms });
    const altered = xml.replace('a1b2c3d4-persistent-alice', 'a1b2c3d4-persistent-mallory');
    expect(altered).not.toBe(xml);

    const error = await expectRefusal(h.conn.consumeResponse({ SAMLResponse: encode(altered), RelayState: started.transactionId }, { browserBinding: BROWSER }), 'signature_digest_mismatch');
    expect(error.transactionConsumed).toBe(false);
    const finished = await h.conn.consumeResponse({ SAMLResponse: encode(xml), RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
  });
});
