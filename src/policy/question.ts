import type { MintQuestion } from './types.js';

/**
 * The two halves of every mint question, built in one place so that the token exchange and the
 * AuthZEN PDP ask Cedar exactly the same thing about the same person and login.
 */

/** What the broker believes about the person (their upstream's authority already applied). */
export interface BelievedPerson {
  principalId: string;
  upstreamIssuer: string;
  claims: Readonly<Record<string, unknown>>;
  tenant?: string;
}

/** How they logged in, as far as it is known (an absent `authTime` is unknown, never invented). */
export interface BelievedLogin {
  acr?: string;
  amr?: readonly string[];
  authTime?: number;
}

export function mintPrincipal(person: BelievedPerson): MintQuestion['principal'] {
  const { claims } = person;
  return {
    id: person.principalId,
    upstreamIssuer: person.upstreamIssuer,
    ...(typeof claims.email === 'string' ? { email: claims.email } : {}),
    groups: Array.isArray(claims.groups) ? claims.groups.filter((g): g is string => typeof g === 'string') : [],
    ...(person.tenant !== undefined ? { tenant: person.tenant } : {}),
  };
}

export function mintContext(login: BelievedLogin, person: Pick<BelievedPerson, 'tenant'>, now: number): MintQuestion['context'] {
  return {
    ...(login.acr !== undefined ? { acr: login.acr } : {}),
    amr: [...(login.amr ?? [])],
    ...(login.authTime !== undefined ? { authTime: login.authTime } : {}),
    ...(person.tenant !== undefined ? { tenant: person.tenant } : {}),
    now,
  };
}

/**
 * Why a login is too old for a destination's `max_auth_age`, or undefined when it is recent
 * enough (or no maximum is set). An unknown `auth_time` is never recent enough. Pure.
 */
export function authenticationTooOld(authTime: number | undefined, maxAuthAge: number | undefined, now: number): string | undefined {
  if (maxAuthAge === undefined) return undefined;
  if (authTime === undefined) return 'auth_time unknown';
  const age = now - authTime;
  return age > maxAuthAge ? `authenticated ${age} s ago` : undefined;
}
