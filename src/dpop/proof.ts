import { base64url, calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { DPOP_IAT_FUTURE_SKEW, DPOP_MAX_JTI_CHARS, DPOP_MAX_PROOF_CHARS, DPOP_PROOF_MAX_AGE } from '../constants.js';

/**
 * DPoP proof validation (RFC 9449 §4.3), pure: plain data in, a result or a tagged refusal out,
 * the clock passed in. Signatures are checked by jose; nothing here touches storage. Single use of
 * the proof's `jti` is the caller's step (its replay store), with the `jti` and `iat` returned here.
 */

export const DPOP_TYP = 'dpop+jwt';

/** Asymmetric algorithms accepted for proofs (RFC 9449 §4.3 point 5): never `none`, never a MAC. */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519'] as const;

/** Why a proof was refused; precise for the audit log, never sent on the wire. */
export type DpopRejectionReason =
  | 'dpop_missing'
  | 'dpop_multiple'
  | 'dpop_too_large'
  | 'dpop_malformed'
  | 'dpop_typ_invalid'
  | 'dpop_alg_not_allowed'
  | 'dpop_crit_unsupported'
  | 'dpop_jwk_invalid'
  | 'dpop_jwk_private'
  | 'dpop_signature_invalid'
  | 'dpop_claim_missing'
  | 'dpop_claim_invalid'
  | 'dpop_htm_mismatch'
  | 'dpop_htu_mismatch'
  | 'dpop_iat_too_old'
  | 'dpop_iat_in_future'
  | 'dpop_ath_mismatch'
  /** The server requires a nonce and the proof has none, or one it no longer accepts (RFC 9449 §8: use_dpop_nonce). */
  | 'dpop_nonce_missing'
  | 'dpop_nonce_invalid'
  /** Set by the caller's single-use step, not by the validator. */
  | 'dpop_replayed'
  /** Set by a caller that compares the proof's key with a binding (`cnf.jkt`). */
  | 'dpop_key_mismatch';

export interface DpopProofInput {
  /**
   * The request's `DPoP` header as received (`headers.get('dpop')`), or null. Several `DPoP`
   * headers arrive joined by ", " and a compact JWS never contains a comma: that is refused.
   */
  header: string | null | undefined;
  /** The request's method. */
  method: string;
  /** The URL the proof must name: for an endpoint behind a proxy, its public URL, not the one the server saw. */
  url: string;
  /** Now, in seconds. */
  now: number;
  /** When the server requires a nonce: the nonces it accepts now. */
  nonces?: readonly string[];
  /** When the request presents an access token: its SHA-256, base64url (`ath`, RFC 9449 §4.2). */
  accessTokenHash?: string;
  /** Algorithms to accept; a subset of {@link DPOP_ALGORITHMS}. */
  algorithms?: readonly string[];
}

export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: the `jkt` a token is bound to. */
  jkt: string;
  jti: string;
  iat: number;
  jwk: JWK;
}

export type DpopProofResult = ({ ok: true } & DpopProof) | { ok: false; reason: DpopRejectionReason; detail?: string };

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const reject = (reason: DpopRejectionReason, detail?: string): DpopProofResult => ({ ok: false, reason, ...(detail ? { detail } : {}) });

/** Validates a DPoP proof against the request it came with. Never throws for bad input. */
export async function validateDpopProof(input: DpopProofInput): Promise<DpopProofResult> {
  const { header } = input;
  if (header === null || header === undefined || header === '') return reject('dpop_missing');
  if (header.length > DPOP_MAX_PROOF_CHARS) return reject('dpop_too_large');
  if (header.includes(',')) return reject('dpop_multiple');
  const jwt = header.trim();
  if (!COMPACT_JWS.test(jwt)) return reject('dpop_malformed', 'not a compact JWS');

  let protectedHeader: Record<string, unknown>;
  try {
    protectedHeader = decodeProtectedHeader(jwt) as Record<string, unknown>;
  } catch {
    return reject('dpop_malformed', 'header');
  }
  const payload = decodePayload(jwt);
  if (!payload) return reject('dpop_malformed', 'payload');
  const missing = ['jti', 'htm', 'htu', 'iat'].find((name) => payload[name] === undefined);
  if (missing) return reject('dpop_claim_missing', missing);

  if (typeof protectedHeader.typ !== 'string' || protectedHeader.typ.toLowerCase() !== DPOP_TYP) return reject('dpop_typ_invalid');
  const algorithms = input.algorithms ?? DPOP_ALGORITHMS;
  const alg = protectedHeader.alg;
  if (typeof alg !== 'string' || !algorithms.includes(alg)) return reject('dpop_alg_not_allowed', typeof alg === 'string' ? alg.slice(0, 20) : undefined);
  if (protectedHeader.crit !== undefined) return reject('dpop_crit_unsupported');
  const jwk = protectedHeader.jwk;
  if (!isObject(jwk)) return reject('dpop_jwk_invalid', 'jwk missing');
  if (PRIVATE_JWK_MEMBERS.some((m) => Object.hasOwn(jwk, m))) return reject('dpop_jwk_private');

  let key: Awaited<ReturnType<typeof importJWK>>;
  try {
    key = await importJWK(jwk as JWK, alg);
  } catch {
    return reject('dpop_jwk_invalid', 'jwk unusable with alg');
  }
  if (key instanceof Uint8Array || key.type !== 'public') return reject('dpop_jwk_invalid', 'not a public key');
  try {
    await compactVerify(jwt, key, { algorithms: [alg] });
  } catch {
    return reject('dpop_signature_invalid');
  }

  const { jti, htm, htu, iat, nonce, ath } = payload;
  if (typeof jti !== 'string' || jti === '' || jti.length > DPOP_MAX_JTI_CHARS) return reject('dpop_claim_invalid', 'jti');
  if (typeof htm !== 'string') return reject('dpop_claim_invalid', 'htm');
  if (typeof htu !== 'string') return reject('dpop_claim_invalid', 'htu');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return reject('dpop_claim_invalid', 'iat');
  if (htm !== input.method) return reject('dpop_htm_mismatch');
  const expected = normalizeHtu(input.url);
  if (expected === undefined || normalizeHtu(htu) !== expected) return reject('dpop_htu_mismatch');
  if (input.nonces !== undefined) {
    if (nonce === undefined) return reject('dpop_nonce_missing');
    if (typeof nonce !== 'string' || !input.nonces.includes(nonce)) return reject('dpop_nonce_invalid');
  }
  if (iat > input.now + DPOP_IAT_FUTURE_SKEW) return reject('dpop_iat_in_future');
  if (iat < input.now - DPOP_PROOF_MAX_AGE) return reject('dpop_iat_too_old');
  if (input.accessTokenHash !== undefined && ath !== input.accessTokenHash) return reject('dpop_ath_mismatch');

  return { ok: true, jkt: await calculateJwkThumbprint(jwk as JWK, 'sha256'), jti, iat, jwk: jwk as JWK };
}

/** Until when a proof's `jti` must be remembered: past that, its `iat` alone refuses it. */
export function dpopReplayUntil(iat: number): number {
  return Math.floor(iat) + DPOP_PROOF_MAX_AGE + DPOP_IAT_FUTURE_SKEW + 1;
}

/** `ath` (RFC 9449 §4.2): base64url SHA-256 of the access token's ASCII. WebCrypto. */
export async function accessTokenHash(accessToken: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))));
}

/**
 * A URL as `htu` compares (RFC 9449 §4.3 point 9): without query and fragment, normalised per
 * RFC 3986 §6.2.2 (case, percent-encoding, dot segments) and §6.2.3 (default port, empty path).
 * The WHATWG parser does all but the percent-encoding part, done here. Only http(s).
 */
export function normalizeHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}

function decodePayload(jwt: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64url.decode(jwt.split('.')[1]!)));
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
