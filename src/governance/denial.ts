import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { REQUESTABLE_DENIAL_LIFETIME } from '../constants.js';
import type { KeyRing } from '../minting/keys.js';
import { randomToken } from '../provider/crypto.js';
import type { AccessRequestRecord } from '../store/ports.js';

/**
 * The denial binding of the AuthZEN Access Request profile: a requestable denial carries a
 * `request_context` the broker signed (a JWT, `typ` below) naming exactly what was denied, to whom
 * and for whom. The client returns it unchanged when it submits an access request; the broker
 * verifies it with its own published keys (the PDP's `jwks_uri` is the broker's). Web standards only.
 */
export const REQUEST_CONTEXT_TYP = 'xaa-denial+jwt';
/** The profile's capability URN (PDP metadata) and the endpoint path of access requests. */
export const ACCESS_REQUEST_CAPABILITY = 'urn:openid:authzen:capability:access-request';
export const ACCESS_REQUESTS_PATH = '/access/v1/requests';

/**
 * What a denial binds: the denied question (the same facts a task keeps: client, person, their
 * upstream and label, destination, resources, scopes, the policies that made it requestable), and
 * who may submit it.
 */
export interface DeniedQuestion extends Pick<AccessRequestRecord, 'clientId' | 'principalId' | 'upstreamIssuer' | 'subjectLabel' | 'destination' | 'resources' | 'scopes' | 'policies'> {
  /** The denial's id (`jti`, also sent as `evaluation_id`): one task per denial. */
  id: string;
  /**
   * Who may submit the access request: the client itself (a token-endpoint denial), or the PEP
   * that asked the PDP (an AuthZEN denial about another client's mint).
   */
  submitter: string;
  issuedAt: number;
  expiresAt: number;
}

interface DenialClaims extends JWTPayload {
  client_id: string;
  /** Present only when the submitter is not the client itself. */
  submitter?: string;
  upstream_iss: string;
  subject_label: string;
  destination: string;
  resources: string[];
  scopes: string[];
  policies: string[];
}

/** The person's email when an upstream authoritative for it verified it (their claims are already the believed ones). */
export function verifiedEmail(claims: Readonly<Record<string, unknown>>): string | undefined {
  return typeof claims.email === 'string' && claims.email_verified === true ? claims.email : undefined;
}

/** What approvers are shown as "who": a verified email, else the principal id. */
export function subjectLabelOf(identity: { principalId: string; claims: Readonly<Record<string, unknown>> }): string {
  return verifiedEmail(identity.claims) ?? identity.principalId;
}

export function newDenial(q: Omit<DeniedQuestion, 'id' | 'issuedAt' | 'expiresAt' | 'submitter'> & { submitter?: string }, now: number): DeniedQuestion {
  return { ...q, submitter: q.submitter ?? q.clientId, id: `den_${randomToken()}`, issuedAt: now, expiresAt: now + REQUESTABLE_DENIAL_LIFETIME };
}

export function signDenial(d: DeniedQuestion, issuer: string, keys: KeyRing): Promise<string> {
  const key = keys.signingKey();
  const claims: DenialClaims = {
    iss: issuer,
    aud: issuer,
    jti: d.id,
    sub: d.principalId,
    iat: d.issuedAt,
    exp: d.expiresAt,
    client_id: d.clientId,
    ...(d.submitter !== d.clientId ? { submitter: d.submitter } : {}),
    upstream_iss: d.upstreamIssuer,
    subject_label: d.subjectLabel,
    destination: d.destination,
    resources: d.resources,
    scopes: d.scopes,
    policies: d.policies,
  };
  return key.sign(claims, REQUEST_CONTEXT_TYP);
}

export type DenialVerification = { ok: true; denial: DeniedQuestion } | { ok: false; reason: 'denial_expired' | 'denial_invalid' };

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * Verifies a presented request_context: the broker's own key, its `typ`, issuer and audience, not
 * expired at `now` (no skew: the broker is both ends), and every member of the expected type.
 */
export async function verifyDenial(token: string, issuer: string, keys: KeyRing, now: number): Promise<DenialVerification> {
  if (token.length > 8_192) return { ok: false, reason: 'denial_invalid' };
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, (header) => {
      const key = header.kid ? keys.publicKey(header.kid) : undefined;
      if (!key) throw new joseErrors.JWKSNoMatchingKey();
      return key;
    }, { issuer, audience: issuer, typ: REQUEST_CONTEXT_TYP, currentDate: new Date(now * 1000), clockTolerance: 0, requiredClaims: ['jti', 'sub', 'iat', 'exp'] }));
  } catch (err) {
    return { ok: false, reason: err instanceof joseErrors.JWTExpired ? 'denial_expired' : 'denial_invalid' };
  }
  const c = payload as Partial<DenialClaims>;
  if (
    typeof c.client_id !== 'string' || (c.submitter !== undefined && typeof c.submitter !== 'string') || typeof c.upstream_iss !== 'string' || typeof c.subject_label !== 'string' || typeof c.destination !== 'string' ||
    !isStrings(c.resources) || !isStrings(c.scopes) || !isStrings(c.policies) || c.scopes.length === 0 || c.policies.length === 0
  ) {
    return { ok: false, reason: 'denial_invalid' };
  }
  return {
    ok: true,
    denial: {
      id: c.jti!,
      clientId: c.client_id,
      submitter: c.submitter ?? c.client_id,
      principalId: c.sub!,
      upstreamIssuer: c.upstream_iss,
      subjectLabel: c.subject_label,
      destination: c.destination,
      resources: c.resources,
      scopes: c.scopes,
      policies: c.policies,
      issuedAt: c.iat!,
      expiresAt: c.exp!,
    },
  };
}
