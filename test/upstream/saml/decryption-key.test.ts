import { describe, expect, it } from 'vitest';
import { decryptionKeyOf } from '../../../src/upstream/saml/decrypt.js';
import { testKeys } from './helpers.js';

describe('the SP decryption key as the verifier holds it', () => {
  it('serialises as a placeholder, never as its bytes, and its spread options carry only the key', async () => {
    const { spEncryption } = await testKeys();
    const key = decryptionKeyOf(spEncryption.key);
    const der = key.key.toString('base64');
    expect(JSON.stringify({ context: { decryptionKey: key } })).toBe('{"context":{"decryptionKey":"[SP decryption key]"}}');
    expect(JSON.stringify({ key })).not.toContain(der.slice(0, 40));
    expect(Object.keys({ ...key, padding: 4 }).sort()).toEqual(['format', 'key', 'padding', 'type']);
  });
});
