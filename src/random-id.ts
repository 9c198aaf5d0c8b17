import { base64url } from 'jose';

/**
 * 144-bit random identifiers (`jti`s), base64url: 18 bytes encode to exactly 24 characters with no
 * padding, so one draw of many ids' bytes is encoded once and sliced. A CSPRNG call and an encode
 * per id were 3–4 % of a warm mint (docs/benchmark.md); the bytes come from the same source.
 */
const ID_BYTES = 18;
const ID_CHARS = 24;
const IDS_PER_DRAW = 128;

let pool = '';
let next = 0;

export function randomId(): string {
  if (next === pool.length) {
    pool = base64url.encode(crypto.getRandomValues(new Uint8Array(ID_BYTES * IDS_PER_DRAW)));
    next = 0;
  }
  const id = pool.slice(next, next + ID_CHARS);
  next += ID_CHARS;
  return id;
}
