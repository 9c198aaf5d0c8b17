import { z } from 'zod';
import type { SamlAttribute } from '../identity/types.js';

/**
 * SAML attributes → OIDC claims, for apps that move from SAML to OIDC at the broker.
 *
 * Rules (docs/migration.md lists the whole table):
 *
 * - An attribute is matched on its `Name` only, exactly (case-sensitive, as SAML core compares
 *   URIs). `FriendlyName` is never used to match: SAML core §2.7.3.1 makes it a human-readable
 *   hint, not the attribute's identity, and an IdP can put anything there. The "friendly-name
 *   fallbacks" in the table are entries for IdPs that use bare names (`mail`, `givenName`, …) as
 *   the `Name` itself (NameFormat basic or unspecified).
 * - A single-valued claim takes the one value. Several values, or two attributes landing on the
 *   same claim with different values, is a conflict: reported, and the claim is left out. Never
 *   silently the first.
 * - A multi-valued claim is an array: the values of every attribute landing on it, in document
 *   order, duplicates removed (it is a set).
 * - Values stay strings, as SAML carried them: no claim is derived with another type. In
 *   particular `email_verified` and `phone_number_verified` are never produced: the broker does
 *   not assert a verification the IdP did not.
 * - Protocol claims (`sub`, `iss`, `aud`, `amr`, …) can never be targets, not even by override:
 *   `sub` comes from the subject source, the rest from the protocol.
 *
 * Web standards only (no Node APIs): this runs in the OP on Workers too.
 */

/** How one SAML attribute becomes a claim. */
export interface ClaimRule {
  /** The claim name; `address.<member>` for a member of the OIDC Core §5.1.1 address claim. */
  claim: string;
  /** Array of every value (multi), or exactly one value (single; several values are a conflict). */
  multi: boolean;
}

/** SAML attribute Name → rule. */
export type ClaimMap = Readonly<Record<string, ClaimRule>>;

/** Per-app overrides: attribute Name → claim name, `{claim, multi}`, or null to drop the attribute. */
export type ClaimMapOverrides = Readonly<Record<string, string | null | { claim: string; multi?: boolean }>>;

/** OIDC Core §5.1 standard claims (sub excluded: it is never a translation target). */
export const OIDC_STANDARD_CLAIMS: ReadonlySet<string> = new Set([
  'name',
  'given_name',
  'family_name',
  'middle_name',
  'nickname',
  'preferred_username',
  'profile',
  'picture',
  'website',
  'email',
  'email_verified',
  'gender',
  'birthdate',
  'zoneinfo',
  'locale',
  'phone_number',
  'phone_number_verified',
  'address',
  'updated_at',
]);

/** Members of the OIDC Core §5.1.1 address claim. */
export const ADDRESS_MEMBERS: ReadonlySet<string> = new Set(['formatted', 'street_address', 'locality', 'region', 'postal_code', 'country']);

/**
 * Claims no attribute may become, not even by a per-app override: identity and protocol claims the
 * broker sets itself (RFC 7519, OIDC Core §2 and §3.1.3.6, RFC 8176, RFC 9493 `sub_id`, RFC 7800
 * `cnf`, RFC 8693 `act`/`may_act`/`scope`/`client_id`), and the `*_verified` booleans.
 */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'sub',
  'sub_id',
  'iss',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'nonce',
  'auth_time',
  'acr',
  'amr',
  'azp',
  'at_hash',
  'c_hash',
  's_hash',
  'sid',
  'cnf',
  'act',
  'may_act',
  'scope',
  'client_id',
  'events',
  'email_verified',
  'phone_number_verified',
  'updated_at',
]);

/** Claims the OP sets from the protocol: never compared or reported as attributes. */
export const PROTOCOL_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'nonce',
  'auth_time',
  'acr',
  'amr',
  'azp',
  'at_hash',
  'c_hash',
  's_hash',
  'sid',
  'cnf',
]);

const CLAIM_NAME = /^[a-z][a-z0-9_]{0,63}$/;

export const NAME_FORMAT = {
  uri: 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri',
  basic: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
  unspecified: 'urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified',
} as const;

const one = (claim: string): ClaimRule => ({ claim, multi: false });
const many = (claim: string): ClaimRule => ({ claim, multi: true });

/**
 * The same rule under an attribute's `urn:oid:` name (SAML V2.0 X.500/LDAP profile), its SAML 1
 * `urn:mace:dir:attribute-def:` name, and its bare LDAP name. One- and two-letter LDAP names
 * (`c`, `l`, `st`) are too likely to mean something else as a bare name and get no bare entry.
 */
function ldap(oid: string, ldapName: string, rule: ClaimRule, { mace = true, bare = true } = {}): Array<[string, ClaimRule]> {
  const rows: Array<[string, ClaimRule]> = [[`urn:oid:${oid}`, rule]];
  if (mace) rows.push([`urn:mace:dir:attribute-def:${ldapName}`, rule]);
  if (bare) rows.push([ldapName, rule]);
  return rows;
}

const WS_2005 = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/';
const MS_IDENTITY = 'http://schemas.microsoft.com/identity/claims/';
const MS_2008 = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/';
const ADFS = 'http://schemas.xmlsoap.org/claims/';

/**
 * The default table. Sources: RFC 4519 / RFC 4524 / RFC 2798 (X.500, inetOrgPerson), the SAML V2.0
 * X.500/LDAP attribute profile (`urn:oid:` names), eduPerson (REFEDS, 202208) and SCHAC, the
 * REFEDS/AARC OIDC claim names for them (`eduperson_*`), Microsoft Entra ID's SAML token claims
 * reference, AD FS claim types, the WS-* Identity Selector Interoperability Profile claim types,
 * and the OASIS SAML V2.0 Subject Identifier Attributes Profile.
 */
const DEFAULT_ENTRIES: ReadonlyArray<[string, ClaimRule]> = [
    // ── X.500 / LDAP (inetOrgPerson), OIDC Core §5.1 standard claims ──
    ...ldap('0.9.2342.19200300.100.1.3', 'mail', one('email')),
    ...ldap('2.5.4.42', 'givenName', one('given_name')),
    ...ldap('2.5.4.4', 'sn', one('family_name')),
    ...ldap('2.16.840.1.113730.3.1.241', 'displayName', one('name')),
    ...ldap('0.9.2342.19200300.100.1.1', 'uid', one('preferred_username')),
    ...ldap('2.5.4.20', 'telephoneNumber', one('phone_number')),
    ...ldap('2.16.840.1.113730.3.1.39', 'preferredLanguage', one('locale')),
    ...ldap('2.5.4.9', 'street', one('address.street_address'), { bare: false }),
    ...ldap('2.5.4.7', 'l', one('address.locality'), { bare: false }),
    ...ldap('2.5.4.8', 'st', one('address.region'), { bare: false }),
    ...ldap('2.5.4.17', 'postalCode', one('address.postal_code')),
    ...ldap('2.5.4.6', 'c', one('address.country'), { bare: false }),
    // cn is not `name`: it often differs from displayName (titles, "Surname, Given", a login),
    // and two sources of one single-valued claim that differ are a conflict. Kept as `cn`.
    ...ldap('2.5.4.3', 'cn', one('cn')),
    // ── X.500 / inetOrgPerson, non-standard claims ──
    ...ldap('2.16.840.1.113730.3.1.3', 'employeeNumber', one('employee_number')),
    ...ldap('2.16.840.1.113730.3.1.4', 'employeeType', many('employee_type')),
    // ── eduPerson (1.3.6.1.4.1.5923.1.1.1.*) and SCHAC ──
    ...ldap('1.3.6.1.4.1.5923.1.1.1.1', 'eduPersonAffiliation', many('eduperson_affiliation')),
    ...ldap('1.3.6.1.4.1.5923.1.1.1.2', 'eduPersonNickname', one('nickname')),
    ...ldap('1.3.6.1.4.1.5923.1.1.1.5', 'eduPersonPrimaryAffiliation', one('eduperson_primary_affiliation')),
    ...ldap('1.3.6.1.4.1.5923.1.1.1.6', 'eduPersonPrincipalName', one('eduperson_principal_name')),
    ...ldap('1.3.6.1.4.1.5923.1.1.1.7', 'eduPersonEntitlement', many('eduperson_entitlement')),
    ...ldap('1.3.6.1.4.1.5923.1.1.1.9', 'eduPersonScopedAffiliation', many('eduperson_scoped_affiliation')),
    ...ldap('1.3.6.1.4.1.5923.1.1.1.11', 'eduPersonAssurance', many('eduperson_assurance')),
    ...ldap('1.3.6.1.4.1.5923.1.1.1.12', 'eduPersonPrincipalNamePrior', many('eduperson_principal_name_prior')),
    ...ldap('1.3.6.1.4.1.5923.1.1.1.13', 'eduPersonUniqueId', one('eduperson_unique_id')),
    ...ldap('1.3.6.1.4.1.5923.1.1.1.16', 'eduPersonOrcid', many('eduperson_orcid')),
    ...ldap('1.3.6.1.4.1.5923.1.5.1.1', 'isMemberOf', many('groups')),
    ...ldap('1.3.6.1.4.1.25178.1.2.9', 'schacHomeOrganization', one('schac_home_organization'), { mace: false }),
    ['urn:mace:terena.org:attribute-def:schacHomeOrganization', one('schac_home_organization')],
    // ── OASIS SAML V2.0 Subject Identifier Attributes Profile ──
    // subject-id is the same for every relying party: passing it on reveals nothing new.
    // pairwise-id is deliberately absent (see NOT_MAPPED_BY_DEFAULT).
    ['urn:oasis:names:tc:SAML:attribute:subject-id', one('subject_id')],
    // ── Microsoft Entra ID / WS-* claim types ──
    [`${WS_2005}emailaddress`, one('email')],
    [`${WS_2005}givenname`, one('given_name')],
    [`${WS_2005}surname`, one('family_name')],
    // Entra fills this from the UPN by default ("for display purposes", not unique): the JWT
    // equivalent is unique_name (v1) / preferred_username (v2).
    [`${WS_2005}name`, one('preferred_username')],
    [`${WS_2005}upn`, one('upn')],
    [`${WS_2005}dateofbirth`, one('birthdate')],
    [`${WS_2005}webpage`, one('website')],
    [`${WS_2005}streetaddress`, one('address.street_address')],
    [`${WS_2005}locality`, one('address.locality')],
    [`${WS_2005}stateorprovince`, one('address.region')],
    [`${WS_2005}postalcode`, one('address.postal_code')],
    [`${WS_2005}country`, one('address.country')],
    [`${MS_IDENTITY}displayname`, one('name')],
    [`${MS_IDENTITY}objectidentifier`, one('oid')],
    [`${MS_IDENTITY}tenantid`, one('tid')],
    [`${MS_IDENTITY}identityprovider`, one('idp')],
    [`${MS_2008}groups`, many('groups')],
    [`${MS_2008}role`, many('roles')],
    // ── AD FS claim types ──
    [`${ADFS}EmailAddress`, one('email')],
    [`${ADFS}UPN`, one('upn')],
    [`${ADFS}CommonName`, one('cn')],
    [`${ADFS}Group`, many('groups')],
    // ── bare names common in SaaS SAML configurations ──
    ['email', one('email')],
    ['emailAddress', one('email')],
    ['firstName', one('given_name')],
    ['lastName', one('family_name')],
    ['surname', one('family_name')],
    ['groups', many('groups')],
    ['roles', many('roles')],
];

export const DEFAULT_SAML_CLAIM_MAP: ClaimMap = Object.freeze(
  Object.fromEntries(
    DEFAULT_ENTRIES.map(([name, rule], i) => {
      if (DEFAULT_ENTRIES.findIndex(([other]) => other === name) !== i) throw new Error(`DEFAULT_SAML_CLAIM_MAP lists ${name} twice`);
      return [name, Object.freeze(rule)];
    }),
  ),
);

/**
 * Attributes left out of the default table on purpose, with the reason. An app that relied on one
 * of them shows it as `unmapped` in its contract report; an override can still map it.
 */
export const NOT_MAPPED_BY_DEFAULT: Readonly<Record<string, string>> = Object.freeze({
  'urn:oasis:names:tc:SAML:attribute:pairwise-id':
    'pairwise: computed by the IdP for the broker as relying party; copying it into every app’s claims would make it a correlation handle. Use it as the app’s subject source instead (kind pairwise_id).',
  'urn:oid:1.3.6.1.4.1.5923.1.1.1.10': 'eduPersonTargetedID: pairwise, same reason as pairwise-id; deprecated in favour of pairwise-id.',
  'urn:mace:dir:attribute-def:eduPersonTargetedID': 'eduPersonTargetedID (SAML 1 name): as above.',
  [`${WS_2005}nameidentifier`]: 'an identifier of unknown stability and format; it becomes the subject only through a subject source, never as a claim.',
  [`${WS_2005}privatepersonalidentifier`]: 'a pairwise identifier (ISIP); as pairwise-id.',
  'http://schemas.microsoft.com/claims/authnmethodsreferences': 'amr is set from the upstream authentication by the broker, never from an attribute.',
  [`${WS_2005}mobilephone`]: 'phone_number is single-valued and taken from telephoneNumber; map a mobile number explicitly if the app wants it.',
  'urn:oid:0.9.2342.19200300.100.1.41': 'mobile: as above.',
  'urn:oid:2.5.4.16': 'postalAddress: "$"-separated lines; address.formatted needs a conversion the table does not do.',
  'urn:oid:1.3.6.1.4.1.5923.1.1.1.3': 'eduPersonOrgDN: an LDAP DN, meaningless outside the IdP’s directory.',
  'urn:oid:1.3.6.1.4.1.5923.1.1.1.4': 'eduPersonOrgUnitDN: as above.',
  'urn:oid:1.3.6.1.4.1.5923.1.1.1.8': 'eduPersonPrimaryOrgUnitDN: as above.',
});

export class ClaimMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClaimMapError';
  }
}

/** Why a target claim name is unacceptable, or undefined when it is fine. */
export function claimTargetProblem(claim: string): string | undefined {
  const [head, member, ...rest] = claim.split('.');
  if (rest.length > 0) return `"${claim}": at most one "." (address.<member>)`;
  if (member !== undefined) {
    if (head !== 'address') return `"${claim}": only address.<member> may be nested`;
    if (!ADDRESS_MEMBERS.has(member)) return `"${claim}": address has no member "${member}" (OIDC Core §5.1.1)`;
    return undefined;
  }
  if (!CLAIM_NAME.test(claim)) return `"${claim}": a claim name is lowercase letters, digits and "_", starting with a letter, at most 64`;
  if (claim === 'address') return '"address" is an object: map to one of its members (address.locality, …)';
  if (RESERVED_CLAIMS.has(claim)) return `"${claim}" is set by the broker, never from an attribute`;
  return undefined;
}

/**
 * The app's effective table: the default table with its overrides applied. Throws ClaimMapError
 * for a reserved or malformed target, or for rules that disagree on whether one claim is
 * single- or multi-valued. A string override to a claim the table already knows inherits its
 * cardinality; to a new claim it is single-valued unless given as `{claim, multi: true}`.
 */
export function effectiveClaimMap(overrides: ClaimMapOverrides = {}, base: ClaimMap = DEFAULT_SAML_CLAIM_MAP): ClaimMap {
  // A Map, not an object literal: an attribute named "__proto__" stays an ordinary key.
  const map = new Map<string, ClaimRule>(Object.entries(base));
  // A claim's cardinality: what an explicit {claim, multi} override says, else what the base table says.
  const explicitMulti = new Map<string, boolean>();
  for (const target of Object.values(overrides)) {
    if (target !== null && typeof target === 'object' && target.multi !== undefined) explicitMulti.set(target.claim, target.multi);
  }
  const cardinality = (claim: string): boolean | undefined => explicitMulti.get(claim) ?? Object.values(base).find((r) => r.claim === claim)?.multi;
  for (const [name, target] of Object.entries(overrides)) {
    if (name.length === 0) throw new ClaimMapError('an override has an empty attribute Name');
    if (target === null) {
      map.delete(name);
      continue;
    }
    const claim = typeof target === 'string' ? target : target.claim;
    const problem = claimTargetProblem(claim);
    if (problem) throw new ClaimMapError(`override for ${name}: ${problem}`);
    const explicit = typeof target === 'string' ? undefined : target.multi;
    const multi = explicit ?? cardinality(claim) ?? false;
    if (claim.startsWith('address.') && multi) throw new ClaimMapError(`override for ${name}: address members are single-valued`);
    map.set(name, { claim, multi });
  }
  const seen = new Map<string, { multi: boolean; name: string }>();
  for (const [name, rule] of map) {
    const other = seen.get(rule.claim);
    if (other && other.multi !== rule.multi) {
      throw new ClaimMapError(`claim ${rule.claim} is multi-valued for ${other.multi ? other.name : name} but single-valued for ${other.multi ? name : other.name}`);
    }
    seen.set(rule.claim, { multi: rule.multi, name });
  }
  return Object.freeze(Object.fromEntries(map));
}

/** A single-valued claim that could not be decided: every attribute that offered a value. */
export interface ClaimConflict {
  claim: string;
  sources: Array<{ attribute: string; values: string[] }>;
}

export interface Translation {
  /** OIDC claims; `address` is an object when any member was mapped. */
  claims: Record<string, unknown>;
  /** Names of attributes no rule maps (in document order, each once). */
  unmapped: string[];
  /** Names of attributes an override dropped (null). */
  dropped: string[];
  /** Single-valued claims left out because their sources disagreed or carried several values. */
  conflicts: ClaimConflict[];
}

/** Translates with the default table and the app's overrides. */
export function translateSamlAttributes(attributes: readonly SamlAttribute[], overrides?: ClaimMapOverrides): Translation {
  const map = effectiveClaimMap(overrides);
  const dropped = overrides ? Object.entries(overrides).filter(([, t]) => t === null).map(([n]) => n) : [];
  return translateWithClaimMap(attributes, map, new Set(dropped));
}

/** Translates with an effective table (see effectiveClaimMap). */
export function translateWithClaimMap(attributes: readonly SamlAttribute[], map: ClaimMap, droppedNames: ReadonlySet<string> = new Set()): Translation {
  const unmapped: string[] = [];
  const dropped: string[] = [];
  const bySingle = new Map<string, Array<{ attribute: string; values: string[] }>>();
  const byMulti = new Map<string, string[]>();
  for (const attribute of attributes) {
    const rule = Object.hasOwn(map, attribute.name) ? map[attribute.name] : undefined;
    if (!rule) {
      const list = droppedNames.has(attribute.name) ? dropped : unmapped;
      if (!list.includes(attribute.name)) list.push(attribute.name);
      continue;
    }
    if (attribute.values.length === 0) continue;
    if (rule.multi) {
      const values = byMulti.get(rule.claim) ?? [];
      for (const v of attribute.values) if (!values.includes(v)) values.push(v);
      byMulti.set(rule.claim, values);
    } else {
      const sources = bySingle.get(rule.claim) ?? [];
      sources.push({ attribute: attribute.name, values: [...attribute.values] });
      bySingle.set(rule.claim, sources);
    }
  }
  const claims: Record<string, unknown> = {};
  const conflicts: ClaimConflict[] = [];
  for (const [claim, values] of byMulti) setClaim(claims, claim, values);
  for (const [claim, sources] of bySingle) {
    const distinct = new Set(sources.flatMap((s) => s.values));
    const severalInOne = sources.some((s) => s.values.length > 1);
    if (distinct.size === 1 && !severalInOne) setClaim(claims, claim, sources[0]!.values[0]);
    else conflicts.push({ claim, sources });
  }
  return { claims, unmapped, dropped, conflicts };
}

function setClaim(claims: Record<string, unknown>, claim: string, value: unknown) {
  if (claim.startsWith('address.')) {
    const address = (claims.address ??= {}) as Record<string, unknown>;
    address[claim.slice('address.'.length)] = value;
  } else {
    claims[claim] = value;
  }
}

/** Reads a claim by the names rules use (`address.locality` reads inside `address`). */
export function getClaim(claims: Readonly<Record<string, unknown>>, claim: string): unknown {
  if (!claim.startsWith('address.')) return Object.hasOwn(claims, claim) ? claims[claim] : undefined;
  const address = claims.address;
  if (typeof address !== 'object' || address === null || Array.isArray(address)) return undefined;
  const member = claim.slice('address.'.length);
  return Object.hasOwn(address, member) ? (address as Record<string, unknown>)[member] : undefined;
}

/** Attribute Names whose default claim is `email`: never a subject source (an address can be reassigned). */
export const EMAIL_ATTRIBUTE_NAMES: ReadonlySet<string> = new Set(
  Object.entries(DEFAULT_SAML_CLAIM_MAP)
    .filter(([, r]) => r.claim === 'email')
    .map(([n]) => n),
);

/** Config: an app's overrides, checked as effectiveClaimMap checks them. */
export const claimMapOverridesSchema = z
  .record(
    z.string().min(1).max(1024),
    z.union([z.string().min(1), z.null(), z.object({ claim: z.string().min(1), multi: z.boolean().optional() }).strict()]),
  )
  .superRefine((overrides, ctx) => {
    try {
      effectiveClaimMap(overrides);
    } catch (err) {
      if (!(err instanceof ClaimMapError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
    }
  });
