import { z } from 'zod';

/**
 * What one upstream (a trusted issuer or a login connection) is believed about. An upstream is
 * authoritative only for what its configuration says: everything else it asserts is dropped before
 * mapping and policy see it, and the audit record names what was dropped. Nothing is believed by
 * default. Pure: plain data in, a result out.
 */

/** An email domain, lowercase ASCII (IDNs in their xn-- form); `*.example.com` also covers subdomains. */
const emailDomain = z
  .string()
  .regex(/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^(\*\.)?xn--[a-z0-9-]+(\.[a-z0-9-]+)*$/, 'a lowercase domain name, optionally prefixed with "*."');

/** Claims with a rule of their own, or that describe the token rather than the person: never in `claims`. */
export const RESERVED_CLAIMS = new Set([
  'email',
  'email_verified',
  'groups',
  'tenant',
  'acr',
  'amr',
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'azp',
  'auth_time',
  'sid',
  'nonce',
  'at_hash',
  'c_hash',
  'cnf',
  'act',
  'may_act',
]);

/** Claims that describe the token or the login event, not the person: never counted as dropped. */
const TOKEN_CLAIMS = new Set(['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'azp', 'auth_time', 'sid', 'nonce', 'at_hash', 'c_hash', 'typ', 'ver', 'uti', 'rh']);

const valueList = z.array(z.string().min(1).max(255)).max(100);

export const authoritySchema = z
  .object({
    /** This upstream's tenant: configuration, never a claim. Cedar sees it as `principal.tenant`. */
    tenant: z.string().min(1).max(255).optional(),
    /**
     * Email addresses this upstream may assert: only within these domains, and only verified —
     * `email_verified: true` in the token (`verified: claim`), or because this upstream's directory
     * is the authority for the domain and sends no such claim (`verified: always`, e.g. SAML).
     */
    email: z
      .object({
        domains: z.array(emailDomain).min(1).max(100),
        verified: z.enum(['claim', 'always']).default('claim'),
      })
      .strict()
      .optional(),
    /** Group memberships: read from `claim`, kept only if listed in `allow` or starting with one of `allow_prefixes`, then `prefix` prepended. */
    groups: z
      .object({
        claim: z.string().min(1).max(255).default('groups'),
        allow: valueList.optional(),
        allow_prefixes: valueList.optional(),
        /** Prepended to every kept group, so that one upstream's groups never look like another's. */
        prefix: z.string().max(64).default(''),
      })
      .strict()
      .refine((g) => g.allow !== undefined || g.allow_prefixes !== undefined, 'list the groups this upstream may assert: allow and/or allow_prefixes')
      .optional(),
    /** `acr` values this upstream may assert; any other is dropped. */
    acr: valueList.default([]),
    /** `amr` values this upstream may assert; others are dropped. */
    amr: valueList.default([]),
    /** Other claims (profile and the like) passed on as asserted. */
    claims: z
      .array(z.string().min(1).max(255))
      .max(100)
      .default([])
      .refine((names) => names.every((n) => !RESERVED_CLAIMS.has(n)), 'email, groups, tenant, acr, amr and token claims have rules of their own; they cannot be listed in claims'),
  })
  .strict();

export type UpstreamAuthority = z.output<typeof authoritySchema>;
export type UpstreamAuthorityInput = z.input<typeof authoritySchema>;

/** An upstream that is believed about nothing but who the person is (its `sub`). */
export const NO_AUTHORITY: UpstreamAuthority = Object.freeze({ acr: [], amr: [], claims: [] });

/** What an upstream asserted about a person and their login. */
export interface Asserted {
  claims: Readonly<Record<string, unknown>>;
  acr?: string;
  amr?: readonly string[];
}

/** What is believed of it, and what was not (names only, for the audit record). */
export interface Believed {
  claims: Record<string, unknown>;
  acr?: string;
  /** Absent when nothing was asserted; an empty list when every value was dropped. */
  amr?: string[];
  /** The upstream's configured tenant. */
  tenant?: string;
  /** e.g. `email(unverified)`, `groups(3)`, `amr:mfa`, `tenant`, `employee_id`. */
  dropped: string[];
}

/** Applies `authority` to what an upstream asserted. */
export function believe(authority: UpstreamAuthority, asserted: Asserted): Believed {
  const dropped: string[] = [];
  const claims: Record<string, unknown> = {};
  const groupsClaim = authority.groups?.claim ?? 'groups';

  for (const [name, value] of Object.entries(asserted.claims)) {
    if (name === 'email' || name === 'email_verified' || name === groupsClaim || name === 'acr' || name === 'amr' || TOKEN_CLAIMS.has(name)) continue;
    if (authority.claims.includes(name)) claims[name] = value;
    else dropped.push(name);
  }

  const email = believedEmail(authority, asserted.claims);
  if (email.ok) {
    claims.email = email.value;
    claims.email_verified = true;
  } else if (email.why) dropped.push(`email(${email.why})`);

  const groups = believedGroups(authority, asserted.claims[groupsClaim], dropped);
  if (groups) claims.groups = groups;

  const out: Believed = { claims, dropped };
  if (asserted.acr !== undefined) {
    if (authority.acr.includes(asserted.acr)) out.acr = asserted.acr;
    else dropped.push(`acr:${asserted.acr.slice(0, 64)}`);
  }
  if (asserted.amr !== undefined) {
    out.amr = asserted.amr.filter((m) => authority.amr.includes(m));
    for (const m of asserted.amr) if (!authority.amr.includes(m)) dropped.push(`amr:${m.slice(0, 32)}`);
  }
  if (authority.tenant !== undefined) out.tenant = authority.tenant;
  return out;
}

type EmailOutcome = { ok: true; value: string } | { ok: false; why?: 'unverified' | 'domain' | 'malformed' | 'not_authoritative' };

function believedEmail(authority: UpstreamAuthority, claims: Readonly<Record<string, unknown>>): EmailOutcome {
  const value = claims.email;
  if (value === undefined) return { ok: false };
  if (!authority.email) return { ok: false, why: 'not_authoritative' };
  if (typeof value !== 'string') return { ok: false, why: 'malformed' };
  const domain = emailDomainOf(value);
  if (domain === undefined) return { ok: false, why: 'malformed' };
  if (authority.email.verified === 'claim' && claims.email_verified !== true) return { ok: false, why: 'unverified' };
  if (!authority.email.domains.some((d) => domainMatches(d, domain))) return { ok: false, why: 'domain' };
  return { ok: true, value };
}

/** The domain of a plain `local@domain` address, lowercased; undefined for anything else. */
export function emailDomainOf(value: string): string | undefined {
  if (value.length > 254 || /[\s<>()[\]\\,;:"]/.test(value)) return undefined;
  const at = value.indexOf('@');
  if (at <= 0 || at !== value.lastIndexOf('@') || at === value.length - 1) return undefined;
  const domain = value.slice(at + 1).toLowerCase();
  return /^[a-z0-9.-]+$/.test(domain) && !domain.startsWith('.') && !domain.endsWith('.') && !domain.includes('..') ? domain : undefined;
}

/** `corp.example` matches only itself; `*.corp.example` matches it and every subdomain. */
export function domainMatches(pattern: string, domain: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === domain;
  const base = pattern.slice(2);
  return domain === base || domain.endsWith(`.${base}`);
}

/** Two domain patterns that could both match one address (`*.a.example` and `x.a.example`, say). */
export function domainsOverlap(a: string, b: string): boolean {
  const base = (p: string) => (p.startsWith('*.') ? p.slice(2) : p);
  return domainMatches(a, base(b)) || domainMatches(b, base(a));
}

function believedGroups(authority: UpstreamAuthority, value: unknown, dropped: string[]): string[] | undefined {
  if (value === undefined) return undefined;
  const rule = authority.groups;
  if (!rule) {
    dropped.push('groups');
    return undefined;
  }
  const asserted = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  const kept: string[] = [];
  let refused = 0;
  for (const g of asserted) {
    const allowed = typeof g === 'string' && ((rule.allow?.includes(g) ?? false) || (rule.allow_prefixes?.some((p) => g.startsWith(p)) ?? false));
    if (allowed) kept.push(`${rule.prefix}${g}`);
    else refused++;
  }
  // A count, not the names: a person may be in hundreds of groups, and the audit record is bounded.
  if (refused > 0) dropped.push(`groups(${refused})`);
  return kept;
}
