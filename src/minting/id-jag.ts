import type { JWTPayload } from 'jose';
import { ID_JAG_TYP, type IdJagClaims as WireClaims, type SubjectIdentifier } from '../destination/index.js';
import type { ActiveKey } from './keys.js';
import { randomId } from '../random-id.js';

export const ID_JAG_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
export { ID_JAG_TYP };

export interface IdJagInput {
  issuer: string;
  subject: string;
  /** The destination AS's issuer: a single audience. */
  audience: string;
  /** The client's client_id at the destination. */
  clientId: string;
  resources: string[];
  scopes: string[];
  now: number;
  lifetime: number;
  /** Optional claims carried over from the upstream login (already filtered by destination policy). */
  carried: Partial<Pick<IdJagClaims, 'auth_time' | 'acr' | 'amr' | 'email' | 'tenant'>>;
  /** The destination's tenant and the person's subject there; only as a pair (draft §3.1). */
  audTenant?: string;
  audSub?: string;
  /** RFC 9493 subject identifier naming the same person as `sub`, for destinations configured to receive one. */
  subId?: SubjectIdentifier;
  /** RFC 7638 thumbprint of the key the client proved possession of (DPoP): the ID-JAG is bound to it. */
  jkt?: string;
}

/**
 * The claims the broker mints: the wire contract the destination kit verifies (one type for
 * both sides), without the parts the broker does not emit yet.
 */
export type IdJagClaims = JWTPayload &
  Pick<WireClaims, 'iss' | 'sub' | 'aud' | 'client_id' | 'jti' | 'iat' | 'exp'> &
  Partial<Pick<WireClaims, 'resource' | 'scope' | 'tenant' | 'auth_time' | 'acr' | 'amr' | 'email' | 'aud_tenant' | 'aud_sub' | 'sub_id'>>;

/** Builds the ID-JAG claim set (draft-ietf-oauth-identity-assertion-authz-grant §3), pure but for the random jti. */
export function buildIdJagClaims(input: IdJagInput): IdJagClaims {
  const claims: IdJagClaims = {
    iss: input.issuer,
    sub: input.subject,
    aud: input.audience,
    client_id: input.clientId,
    jti: randomId(),
    iat: input.now,
    exp: input.now + input.lifetime,
  };
  if (input.resources.length === 1) claims.resource = input.resources[0];
  else if (input.resources.length > 1) claims.resource = input.resources;
  if (input.scopes.length > 0) claims.scope = input.scopes.join(' ');
  for (const [name, value] of Object.entries(input.carried)) if (value !== undefined) (claims as Record<string, unknown>)[name] = value;
  if (input.audTenant && input.audSub) {
    claims.aud_tenant = input.audTenant;
    claims.aud_sub = input.audSub;
  }
  if (input.subId) claims.sub_id = input.subId;
  // RFC 9449 §6.1 / RFC 7800: redeemable only with a proof made with the same key (docs/dpop.md).
  if (input.jkt) claims.cnf = { jkt: input.jkt };
  return claims;
}

export async function signIdJag(claims: IdJagClaims, key: ActiveKey): Promise<string> {
  return key.sign(claims, ID_JAG_TYP);
}
