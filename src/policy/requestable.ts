import { MAX_APPROVAL_DURATION } from '../constants.js';
import { parseDuration } from './duration.js';
import { annotationValue, skeleton, type NamedPolicy } from './policy-text.js';
import type { MintQuestion, PolicyEngine, RequestableRule, ScopeDecision } from './types.js';

/**
 * `@requestable("approvers=group:todo-admins email:cfo@corp.example&max_duration=P7D")` on a
 * forbid makes its denial the start of an access request (docs/access-requests.md): who may
 * approve (members of a group, or named addresses, as the approver's upstream is believed about
 * them) and the longest approval. An approval lifts the forbid only through the policy's own text,
 * `unless { context.approved.contains("<its id>") }`: Cedar stays the only decider.
 */

const KEYS = new Set(['approvers', 'max_duration']);

/** The `@requestable` forbids of a set, by policy id. Problems are collected, not thrown. */
export function requestableRules(policies: readonly NamedPolicy[], effectOf: (p: NamedPolicy) => string | undefined): { rules: Map<string, RequestableRule>; problems: string[] } {
  const rules = new Map<string, RequestableRule>();
  const problems: string[] = [];
  for (const p of policies) {
    const raw = annotationValue(p.text, 'requestable');
    if (raw === undefined) continue;
    const problem = (text: string) => problems.push(`${p.id}: @requestable ${text}`);
    if (effectOf(p) !== 'forbid') problem('is only meaningful on a forbid');
    if (annotationValue(p.text, 'step_up') !== undefined) problem('and @step_up cannot both mark one forbid: a denial is either lifted by a login or by an approval');
    const params = new URLSearchParams(raw);
    for (const key of params.keys()) if (!KEYS.has(key)) problem(`has unknown key "${key}" (approvers, max_duration)`);
    const approvers = (params.get('approvers') ?? '').split(' ').filter(Boolean);
    const groups: string[] = [];
    const emails: string[] = [];
    for (const a of approvers) {
      const [kind, value] = [a.slice(0, a.indexOf(':')), a.slice(a.indexOf(':') + 1)];
      if (a.indexOf(':') < 1 || value === '') problem(`approver "${a}" must be group:<name> or email:<address>`);
      else if (kind === 'group') groups.push(value);
      else if (kind === 'email' && value.includes('@')) emails.push(value.toLowerCase());
      else problem(`approver "${a}" must be group:<name> or email:<address>`);
    }
    if (approvers.length === 0) problem('needs approvers (group:<name> or email:<address>, space-separated)');
    const durationText = params.get('max_duration');
    const maxDuration = durationText === null ? undefined : parseDuration(durationText);
    if (durationText === null) problem('needs max_duration (an ISO 8601 duration such as PT8H or P7D)');
    else if (maxDuration === undefined) problem(`max_duration "${durationText}" is not an ISO 8601 duration of weeks, days, hours, minutes or seconds`);
    else if (maxDuration > MAX_APPROVAL_DURATION) problem(`max_duration may be at most ${MAX_APPROVAL_DURATION / 86_400} days`);
    // Without reading context.approved, no approval could ever lift the forbid: the request would be a dead end.
    if (!/\bcontext\s*\.\s*approved\b/.test(skeleton(p.text)) || !p.text.includes(`"${p.id}"`)) {
      problem(`needs unless { context.approved.contains("${p.id}") }: otherwise no approval can lift it`);
    }
    rules.set(p.id, { groups, emails, maxDuration: maxDuration ?? 0 });
  }
  return { rules, problems };
}

/** What a refusal asks approvers for: the refused scopes and, per scope, the forbids that refused it. */
export interface RequestableDenial {
  scopes: string[];
  policies: string[];
}

/**
 * A refusal is requestable when every refused scope was refused by policy (not by the client's
 * grant, not by an evaluation error) and only by `@requestable` forbids. Pure.
 */
export function requestableDenial(decisions: readonly ScopeDecision[], refusedScopes: readonly string[], rules: ReadonlyMap<string, RequestableRule> | undefined): RequestableDenial | undefined {
  if (!rules || rules.size === 0 || refusedScopes.length === 0) return undefined;
  const policies = new Set<string>();
  for (const scope of refusedScopes) {
    const denied = decisions.filter((d) => d.scope === scope);
    if (denied.length === 0) return undefined;
    for (const d of denied) {
      if (d.allowed) continue;
      if (d.errors.length > 0 || d.policies.length === 0) return undefined;
      for (const id of d.policies) {
        if (!rules.has(id)) return undefined;
        policies.add(id);
      }
    }
  }
  return { scopes: [...refusedScopes], policies: [...policies].sort() };
}

/**
 * The refusal to escalate, if any: requestable (above), AND policy, asked again with those forbids
 * approved (Cedar's `context.approved`), grants every refused scope: an approval that could not
 * help (no permit applies) is not offered. The token endpoint and the PDP both ask this. Pure.
 */
export function requestableRefusal(
  decisions: readonly ScopeDecision[],
  refusedScopes: readonly string[],
  policy: PolicyEngine,
  askAgain: (scopes: string[], context: MintQuestion['context']) => ScopeDecision[],
  context: MintQuestion['context'],
): RequestableDenial | undefined {
  const denial = requestableDenial(decisions, refusedScopes, policy.requestable);
  if (!denial) return undefined;
  const approved = askAgain([...refusedScopes], { ...context, approved: denial.policies });
  return approved.every((d) => d.allowed && d.errors.length === 0) ? denial : undefined;
}
