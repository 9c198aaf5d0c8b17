import { InsufficientUserAuthentication } from '../oauth/errors.js';
import type { MintQuestion, PolicyEngine, ScopeDecision, StepUpRule } from './types.js';

/**
 * Issue 6 §2: a refusal about authentication strength answers insufficient_user_authentication
 * with RFC 9470 hints, not invalid_scope. It is one when every refused scope was denied only by
 * forbids annotated `@step_up`, AND policy, asked again as if the user had just logged in meeting
 * those hints (acr, amr, auth_time = now), grants every one of them: a step-up that would still be
 * refused is not offered. Web standards only; the clock is in the question.
 */
export function stepUpRefusal(
  decisions: readonly ScopeDecision[],
  refusedScopes: readonly string[],
  policy: PolicyEngine,
  askAgain: (scopes: string[], context: MintQuestion['context']) => ScopeDecision[],
  context: MintQuestion['context'],
): InsufficientUserAuthentication | undefined {
  const rules = policy.stepUp;
  if (!rules || rules.size === 0 || refusedScopes.length === 0) return undefined;
  const denied = decisions.filter((d) => !d.allowed && refusedScopes.includes(d.scope));
  // Every refused scope must have been refused by policy, not by the client's grant.
  if (!refusedScopes.every((s) => denied.some((d) => d.scope === s))) return undefined;
  const applied: StepUpRule[] = [];
  for (const d of denied) {
    if (d.errors.length > 0 || d.policies.length === 0) return undefined;
    for (const id of d.policies) {
      const rule = rules.get(id);
      if (!rule) return undefined;
      applied.push(rule);
    }
  }
  const acrValues = [...new Set(applied.flatMap((r) => r.acrValues))];
  const ages = applied.flatMap((r) => (r.maxAge === undefined ? [] : [r.maxAge]));
  const stronger: MintQuestion['context'] = {
    ...context,
    ...(acrValues[0] !== undefined ? { acr: acrValues[0] } : {}),
    amr: [...new Set([...context.amr, ...applied.flatMap((r) => r.amr)])],
    authTime: context.now,
  };
  if (!askAgain([...refusedScopes], stronger).every((d) => d.allowed)) return undefined;
  return new InsufficientUserAuthentication(
    'authentication_insufficient',
    'the user must authenticate more strongly',
    { ...(acrValues.length > 0 ? { acr_values: acrValues.join(' ') } : {}), ...(ages.length > 0 ? { max_age: Math.min(...ages) } : {}) },
    refusedScopes.join(' ').slice(0, 200),
  );
}
