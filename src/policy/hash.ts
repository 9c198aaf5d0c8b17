/**
 * FNV-1a, 64-bit, over the UTF-8 bytes of the input, as 16 hex digits. An identifier for
 * content (which policy set decided), not a security primitive: pure JS so that it runs the
 * same on every runtime without WebCrypto's async API.
 */
const OFFSET_BASIS = 0xcbf29ce484222325n;
const PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

export function fnv1a64(text: string): string {
  let hash = OFFSET_BASIS;
  for (const byte of new TextEncoder().encode(text)) {
    hash = ((hash ^ BigInt(byte)) * PRIME) & MASK;
  }
  return hash.toString(16).padStart(16, '0');
}
