import type { Identity } from '../mapping/resolve.js';
import type { RequestableRule } from '../policy/types.js';
import { verifiedEmail } from './denial.js';

/**
 * Who may decide an access request: for every `@requestable` forbid that denied it, a member of one
 * of its approver groups or the holder of one of its approver addresses, as the approver's own
 * upstream is believed about them (an email counts only when verified). Never the person the
 * request is for. Pure.
 */
export type ApproverCheck = { ok: true } | { ok: false; why: string };

export function mayDecide(approver: Identity, rules: ReadonlyArray<{ id: string; rule: RequestableRule | undefined }>, requestFor: string): ApproverCheck {
  if (approver.principalId === requestFor) return { ok: false, why: 'nobody may decide an access request for themselves' };
  const groups = Array.isArray(approver.claims.groups) ? approver.claims.groups.filter((g): g is string => typeof g === 'string') : [];
  const email = verifiedEmail(approver.claims)?.toLowerCase();
  for (const { id, rule } of rules) {
    if (!rule) return { ok: false, why: `policy ${id} no longer allows access requests` };
    const byGroup = rule.groups.some((g) => groups.includes(g));
    const byEmail = email !== undefined && rule.emails.includes(email);
    if (!byGroup && !byEmail) return { ok: false, why: `not an approver for policy ${id}` };
  }
  return { ok: true };
}

/** The longest approval every denying policy allows (seconds). */
export function longestApproval(rules: ReadonlyArray<RequestableRule>): number {
  return Math.min(...rules.map((r) => r.maxDuration));
}
