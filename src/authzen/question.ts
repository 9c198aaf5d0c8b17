import { AUTHZEN_MAX_STRING } from './limits.js';
import { BadRequest } from './errors.js';
import { optionalString, readStringArray, requireString, type Entity, type Evaluation, type Json } from './request.js';

/**
 * The broker's one question, as AuthZEN entities (docs/authzen.md): may `client` mint an ID-JAG
 * carrying `scope` at `destination` for `user`?
 *
 *   subject  {type: "user",  id: <broker principal id>}            (properties ignored)
 *   action   {name: "mint"}
 *   resource {type: "scope", id: <scope, destination vocabulary>,
 *             properties: {destination: <destination id>, resource?: <RFC 8707 URI>}}
 *   context  {client_id: <broker client id>, acr?, amr?, auth_time?}   (the login, as the PEP reports it)
 *
 * Who the person is, their groups, email and tenant come from the broker's own records, never
 * from `subject.properties`: a PEP cannot assert them. Pure functions.
 */

export const SUBJECT_TYPE = 'user';
export const ACTION_MINT = 'mint';
export const RESOURCE_TYPE = 'scope';

/** The login as the PEP reports it (PEP-asserted, like any context). */
export interface PepLogin {
  acr?: string;
  amr?: string[];
  authTime?: number;
}

/** What a mint question is about, apart from the scope (what a resource search varies). */
export interface MintTarget {
  principalId: string;
  destinationId: string;
  resource?: string;
  clientId: string;
  login: PepLogin;
}

export interface MintAsk extends MintTarget {
  scope: string;
}

/** A well-formed request this PDP has no policy for: a deny, not an error (§6.2, §7.2 "Errors"). */
export type NotAMint = { ok: false; reason: 'action_unsupported' | 'subject_type_unsupported' | 'resource_type_unsupported' };

/** Reads an evaluation as a mint question; the mint-specific members are checked only for a mint. */
export function readMintQuestion(e: Evaluation, path = ''): { ok: true; ask: MintAsk } | NotAMint {
  const target = readMintTarget(e.subject, e.action.name, e.resource.type, e.resource.properties, e.context, path);
  if (!target.ok) return target;
  return { ok: true, ask: { ...target.target, scope: e.resource.id } };
}

export function readMintTarget(
  subject: Entity,
  action: string,
  resourceType: string,
  resourceProperties: Json | undefined,
  context: Json | undefined,
  path = '',
): { ok: true; target: MintTarget } | NotAMint {
  if (action !== ACTION_MINT) return { ok: false, reason: 'action_unsupported' };
  if (subject.type !== SUBJECT_TYPE) return { ok: false, reason: 'subject_type_unsupported' };
  if (resourceType !== RESOURCE_TYPE) return { ok: false, reason: 'resource_type_unsupported' };
  const at = (k: string) => (path ? `${path}.${k}` : k);
  const props = resourceProperties ?? {};
  const destinationId = requireString(props, 'destination', at('resource.properties.destination'));
  const resource = optionalString(props, 'resource', at('resource.properties.resource'));
  const ctx = context ?? {};
  const clientId = requireString(ctx, 'client_id', at('context.client_id'));
  return { ok: true, target: { principalId: subject.id, destinationId, ...(resource !== undefined ? { resource } : {}), clientId, login: readLogin(ctx, (k) => (path ? `${path}.context.${k}` : `context.${k}`)) } };
}

/** `acr` string, `amr` string array, `auth_time` seconds since epoch (an integer). */
export function readLogin(ctx: Json, at: (key: string) => string): PepLogin {
  const acr = optionalString(ctx, 'acr', at('acr'));
  const amr = readStringArray(ctx, 'amr', at('amr'));
  const authTime = ctx.auth_time;
  if (authTime !== undefined && (typeof authTime !== 'number' || !Number.isSafeInteger(authTime) || authTime < 0)) {
    throw new BadRequest(`${at('auth_time')} must be a non-negative integer (seconds since the epoch)`);
  }
  return { ...(acr !== undefined ? { acr } : {}), ...(amr !== undefined ? { amr } : {}), ...(authTime !== undefined ? { authTime } : {}) };
}

/** RFC 8707 §2: an absolute URI without a fragment (the same rule the token endpoint applies). */
export function isResourceIndicator(value: string): boolean {
  if (value.includes('#') || value.length > AUTHZEN_MAX_STRING) return false;
  try {
    return new URL(value).protocol.length > 1;
  } catch {
    return false;
  }
}

