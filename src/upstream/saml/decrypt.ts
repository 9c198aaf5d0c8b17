import { constants, createDecipheriv, createPrivateKey, privateDecrypt } from 'node:crypto';
import { refused } from './errors.js';
import { attr, children, NS, simpleText } from './xml.js';

/**
 * Decryption of an `<EncryptedAssertion>` (XML Encryption 1.1) with the SP's own key, in node:crypto.
 *
 * Key transport is RSA-OAEP only: `xmlenc#rsa-oaep-mgf1p` (SHA-1 digest, MGF1-SHA1) or
 * `xmlenc11#rsa-oaep` with matching digest and MGF1 hashes. RSA PKCS#1 v1.5 (`xmlenc#rsa-1_5`) is
 * refused by name before any private-key operation (Bleichenbacher-style oracles). Content
 * encryption is AES-GCM or AES-CBC; 3DES is refused. Every failure after the algorithm checks is
 * the same `decryption_failed`, and nothing of it reaches the browser.
 */

const RSA_1_5 = 'http://www.w3.org/2001/04/xmlenc#rsa-1_5';
const RSA_OAEP_MGF1P = 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p';
const RSA_OAEP_11 = 'http://www.w3.org/2009/xmlenc11#rsa-oaep';
const ELEMENT_TYPE = 'http://www.w3.org/2001/04/xmlenc#Element';

const DIGESTS: Readonly<Record<string, string>> = {
  'http://www.w3.org/2000/09/xmldsig#sha1': 'sha1',
  'http://www.w3.org/2001/04/xmlenc#sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384': 'sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512': 'sha512',
};
const MGFS: Readonly<Record<string, string>> = {
  'http://www.w3.org/2009/xmlenc11#mgf1sha1': 'sha1',
  'http://www.w3.org/2009/xmlenc11#mgf1sha256': 'sha256',
  'http://www.w3.org/2009/xmlenc11#mgf1sha384': 'sha384',
  'http://www.w3.org/2009/xmlenc11#mgf1sha512': 'sha512',
};

interface ContentCipher {
  cipher: string;
  keyBytes: number;
  mode: 'gcm' | 'cbc';
}

export const ALLOWED_CONTENT_ENCRYPTION: Readonly<Record<string, ContentCipher>> = {
  'http://www.w3.org/2009/xmlenc11#aes128-gcm': { cipher: 'aes-128-gcm', keyBytes: 16, mode: 'gcm' },
  'http://www.w3.org/2009/xmlenc11#aes192-gcm': { cipher: 'aes-192-gcm', keyBytes: 24, mode: 'gcm' },
  'http://www.w3.org/2009/xmlenc11#aes256-gcm': { cipher: 'aes-256-gcm', keyBytes: 32, mode: 'gcm' },
  'http://www.w3.org/2001/04/xmlenc#aes128-cbc': { cipher: 'aes-128-cbc', keyBytes: 16, mode: 'cbc' },
  'http://www.w3.org/2001/04/xmlenc#aes192-cbc': { cipher: 'aes-192-cbc', keyBytes: 24, mode: 'cbc' },
  'http://www.w3.org/2001/04/xmlenc#aes256-cbc': { cipher: 'aes-256-cbc', keyBytes: 32, mode: 'cbc' },
};

export const ALLOWED_KEY_TRANSPORT: readonly string[] = [RSA_OAEP_MGF1P, RSA_OAEP_11];

function one(parent: Element, ns: string, name: string, what: string): Element {
  const found = children(parent, ns, name);
  if (found.length !== 1) refused({ code: 'encrypted_assertion_malformed', detail: `expected one ${what}, found ${found.length}` });
  return found[0]!;
}

function cipherValue(el: Element, what: string): Buffer {
  const cipherData = one(el, NS.xenc, 'CipherData', `${what} CipherData`);
  // CipherReference would make the broker fetch something: never.
  const text = simpleText(one(cipherData, NS.xenc, 'CipherValue', `${what} CipherValue`)) ?? '';
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) refused({ code: 'encrypted_assertion_malformed', detail: `${what} CipherValue is not base64` });
  return Buffer.from(compact, 'base64');
}

/** The OAEP hash, from the EncryptedKey's EncryptionMethod; refuses anything but RSA-OAEP. */
function oaepHash(method: Element): string {
  const algorithm = attr(method, 'Algorithm') ?? '';
  if (algorithm === RSA_1_5) refused({ code: 'key_transport_refused', algorithm, detail: 'RSA PKCS#1 v1.5 key transport' });
  if (algorithm !== RSA_OAEP_MGF1P && algorithm !== RSA_OAEP_11) refused({ code: 'key_transport_refused', algorithm });
  if (children(method, NS.xenc, 'OAEPparams').length > 0) refused({ code: 'key_transport_refused', algorithm, detail: 'OAEPparams are not supported' });
  const digestEl = children(method, NS.dsig, 'DigestMethod')[0];
  const digestUri = digestEl ? (attr(digestEl, 'Algorithm') ?? '') : 'http://www.w3.org/2000/09/xmldsig#sha1';
  const digest = DIGESTS[digestUri];
  if (!digest) refused({ code: 'key_transport_refused', algorithm, detail: `OAEP digest ${digestUri}` });
  // rsa-oaep-mgf1p fixes MGF1 to SHA-1; xmlenc11#rsa-oaep names it (default SHA-1). node:crypto uses
  // one hash for both, so only matching pairs can be decrypted.
  let mgf = 'sha1';
  if (algorithm === RSA_OAEP_11) {
    const mgfEl = children(method, NS.xenc11, 'MGF')[0];
    const mgfUri = mgfEl ? (attr(mgfEl, 'Algorithm') ?? '') : 'http://www.w3.org/2009/xmlenc11#mgf1sha1';
    const named = MGFS[mgfUri];
    if (!named) refused({ code: 'key_transport_refused', algorithm, detail: `MGF ${mgfUri}` });
    mgf = named;
  }
  if (mgf !== digest) refused({ code: 'key_transport_refused', algorithm, detail: `OAEP digest ${digest} with MGF1-${mgf} is not supported` });
  return digest;
}

/**
 * The SP's decryption key as PKCS#8 DER, made once per connection. Not a KeyObject: workerd's
 * node:crypto refuses a KeyObject inside an options object (`privateDecrypt({ key, padding })`).
 */
export interface DecryptionKey {
  key: Buffer;
  format: 'der';
  type: 'pkcs8';
}

export function decryptionKeyOf(pem: string): DecryptionKey {
  const key: DecryptionKey = { key: createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' }), format: 'der', type: 'pkcs8' };
  // A context that is ever logged or serialised shows this instead of the key's bytes. Not
  // enumerable, so the options object spread from this key does not carry it.
  Object.defineProperty(key, 'toJSON', { value: () => '[SP decryption key]' });
  return key;
}

/**
 * Returns the assertion's XML text. The caller refuses a DOCTYPE in it, validates it against the
 * schema and parses it as a document of its own.
 */
export function decryptAssertion(encryptedAssertion: Element, key: DecryptionKey): string {
  const encryptedData = one(encryptedAssertion, NS.xenc, 'EncryptedData', 'EncryptedData');
  const type = attr(encryptedData, 'Type');
  if (type !== undefined && type !== ELEMENT_TYPE) refused({ code: 'encrypted_assertion_malformed', detail: `EncryptedData Type ${type}` });

  const contentAlgorithm = attr(one(encryptedData, NS.xenc, 'EncryptionMethod', 'EncryptionMethod'), 'Algorithm') ?? '';
  const content = ALLOWED_CONTENT_ENCRYPTION[contentAlgorithm];
  if (!content) refused({ code: 'encryption_algorithm_refused', algorithm: contentAlgorithm });

  // The EncryptedKey sits in EncryptedData/KeyInfo, or beside EncryptedData in the EncryptedAssertion.
  const inKeyInfo = children(encryptedData, NS.dsig, 'KeyInfo').flatMap((k) => children(k, NS.xenc, 'EncryptedKey'));
  const beside = children(encryptedAssertion, NS.xenc, 'EncryptedKey');
  const encryptedKeys = [...inKeyInfo, ...beside];
  if (encryptedKeys.length !== 1) refused({ code: 'encrypted_assertion_malformed', detail: `expected one EncryptedKey, found ${encryptedKeys.length}` });
  const encryptedKey = encryptedKeys[0]!;
  const hash = oaepHash(one(encryptedKey, NS.xenc, 'EncryptionMethod', 'EncryptedKey EncryptionMethod'));

  const wrappedKey = cipherValue(encryptedKey, 'EncryptedKey');
  const payload = cipherValue(encryptedData, 'EncryptedData');

  let plaintext: Buffer;
  try {
    const symmetricKey = privateDecrypt({ ...key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, wrappedKey);
    if (symmetricKey.length !== content.keyBytes) throw new Error('key length');
    if (content.mode === 'gcm') {
      if (payload.length < 12 + 16) throw new Error('short');
      const decipher = createDecipheriv(content.cipher as 'aes-256-gcm', symmetricKey, payload.subarray(0, 12));
      decipher.setAuthTag(payload.subarray(payload.length - 16));
      plaintext = Buffer.concat([decipher.update(payload.subarray(12, payload.length - 16)), decipher.final()]);
    } else {
      if (payload.length < 32 || payload.length % 16 !== 0) throw new Error('length');
      const decipher = createDecipheriv(content.cipher, symmetricKey, payload.subarray(0, 16));
      decipher.setAutoPadding(false);
      const padded = Buffer.concat([decipher.update(payload.subarray(16)), decipher.final()]);
      // XML Encryption padding: the last octet says how many octets to drop (1..16).
      const pad = padded[padded.length - 1]!;
      if (pad < 1 || pad > 16) throw new Error('padding');
      plaintext = padded.subarray(0, padded.length - pad);
    }
  } catch {
    refused({ code: 'decryption_failed' });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
  } catch {
    refused({ code: 'decryption_failed', detail: 'plaintext is not UTF-8' });
  }
}
