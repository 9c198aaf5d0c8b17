import type { RefusalReason } from '../oauth/reasons.js';
import type { ScopeDecision } from './types.js';

/**
 * The non-amplifying re-mint on the scope axis, as pure functions:
 *
 *   granted = translate(requested) ∩ client-allowed ∩ policy-allowed
 *
 * Each step can only remove scopes. A requested scope the translation table does not map never
 * reaches the destination: crossing into another vocabulary is explicit or it does not happen.
 */

export type ParsedScope =
  | { ok: true; scopes: string[] }
  | { ok: false; reason: Extract<RefusalReason, 'invalid_parameter'>; detail: string };

export interface ScopeTranslation {
  from: string;
  to: string;
}

export interface TranslatedScopes {
  /** One entry per (requested, destination) pair, in request order then table order. */
  translated: ScopeTranslation[];
  /** Requested scopes the table does not map (or maps to nothing). They never pass. */
  untranslatable: string[];
}

export type RefusedWhy = Extract<RefusalReason, 'scope_not_permitted_for_client' | 'policy_denied'>;

export interface Grant {
  /** Destination-vocabulary scopes, deduplicated, in translation order. */
  granted: string[];
  refused: Array<{ scope: string; why: RefusedWhy }>;
}

/** RFC 6749 §3.3: scope-token = 1*NQCHAR, NQCHAR = %x21 / %x23-5B / %x5D-7E. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Parses a `scope` parameter: scope tokens separated by single spaces, at most `maxScopes` of
 * them (counted before deduplication, so repetition cannot dodge the cap). Duplicates are
 * dropped, first occurrence kept. An absent or empty parameter is no scope at all
 * (RFC 6749 §3.1: a parameter sent without a value is treated as omitted).
 */
export function parseScope(s: string | undefined, maxScopes: number): ParsedScope {
  if (s === undefined || s === '') return { ok: true, scopes: [] };
  const tokens = s.split(' ');
  if (tokens.length > maxScopes) return invalid(`more than ${maxScopes} scope tokens`);
  if (tokens.includes('')) return invalid('empty scope token (leading, trailing or repeated space)');
  if (!tokens.every((t) => SCOPE_TOKEN.test(t))) return invalid('scope token with a character outside NQCHAR');
  return { ok: true, scopes: [...new Set(tokens)] };
}

function invalid(detail: string): ParsedScope {
  return { ok: false, reason: 'invalid_parameter', detail };
}

/**
 * Maps caller-vocabulary scopes to destination scopes through the explicit table. A scope the
 * table does not own (own property, so `constructor` or `__proto__` never match the prototype)
 * or maps to an empty list is untranslatable.
 */
export function translateScopes(requested: string[], table: Record<string, string[]>): TranslatedScopes {
  const translated: ScopeTranslation[] = [];
  const untranslatable: string[] = [];
  for (const from of requested) {
    const targets = Object.hasOwn(table, from) ? table[from] : undefined;
    if (!Array.isArray(targets) || targets.length === 0) untranslatable.push(from);
    else for (const to of targets) translated.push({ from, to });
  }
  return { translated, untranslatable };
}

/** The destination scopes worth asking policy about: translated and allowed to the client, once each. */
export function scopesToEvaluate(translated: ScopeTranslation[], clientAllowed: string[]): string[] {
  const allowed = new Set(clientAllowed);
  return distinctTargets(translated).filter((scope) => allowed.has(scope));
}

/**
 * The grant: each distinct translated scope is granted only if the client may hold it at the
 * destination and every policy decision for it allows it. A scope with no decision was never
 * evaluated, so it is refused (fail closed). granted ⊆ translated ∩ clientAllowed ∩ policy-allowed.
 */
export function intersectGrant(input: { translated: ScopeTranslation[]; clientAllowed: string[]; decisions: ScopeDecision[] }): Grant {
  const clientAllowed = new Set(input.clientAllowed);
  const permitted = policyAllowed(input.decisions);
  const grant: Grant = { granted: [], refused: [] };
  for (const scope of distinctTargets(input.translated)) {
    if (!clientAllowed.has(scope)) grant.refused.push({ scope, why: 'scope_not_permitted_for_client' });
    else if (!permitted.has(scope)) grant.refused.push({ scope, why: 'policy_denied' });
    else grant.granted.push(scope);
  }
  return grant;
}

/** Scopes with at least one decision and no denying one; a decision carrying errors denies, whatever it says. */
function policyAllowed(decisions: ScopeDecision[]): Set<string> {
  const allows = (d: ScopeDecision) => d.allowed && d.errors.length === 0;
  const denied = new Set(decisions.filter((d) => !allows(d)).map((d) => d.scope));
  return new Set(decisions.filter((d) => allows(d) && !denied.has(d.scope)).map((d) => d.scope));
}

function distinctTargets(translated: ScopeTranslation[]): string[] {
  return [...new Set(translated.map((t) => t.to))];
}
