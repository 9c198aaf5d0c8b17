import type { UpstreamAuthority } from '../trust/authority.js';
import { mintContext, mintPrincipal } from '../policy/question.js';
import type { MintQuestion } from '../policy/types.js';
import { approvalsOf, isPrepared, preparedOf, scopeDecision, trace, traceScope, type DecideServices, type DenyReason } from './decide.js';
import { BadRequest } from './errors.js';
import { readLogin, type MintTarget, type PepLogin } from './question.js';
import { optionalString, requireString, type Json } from './request.js';

export const EXPLAIN_PATH = '/admin/v1/explain';

/**
 * "Why would this client get (or not get) this scope at this destination for this person?":
 * the mint path's checks (decide.ts, the same ones the PDP answers with), with what each looked
 * at. Reads only, like the PDP: nothing is written or audited. `npm run cli -- explain` and
 * `POST /admin/v1/explain` print it (docs/authzen.md).
 */

export interface ExplainAsk extends MintTarget {
  /** Caller vocabulary (a key of the destination's scope_translation) or destination vocabulary. */
  scope: string;
}

export interface ScopeExplanation {
  /** Destination vocabulary. */
  scope: string;
  decision: boolean;
  reason?: DenyReason;
  /** The client's `scopes` at this destination include it. */
  client_may_hold: boolean;
  /** Cedar's answer; absent when an earlier check refused. */
  policy?: { allowed: boolean; determining_policies: string[]; errors: string[] };
}

export interface Explanation {
  /** True when every destination scope the asked scope stands for would be granted. */
  decision: boolean;
  /** The first refusal, when there is one (the PDP's `context.reason`). */
  reason?: DenyReason;
  question: { principal: string; client: string; destination: string; scope: string; resource?: string; login: PepLogin };
  person?: {
    upstream: { issuer: string; connection: string; subject: string };
    /** What the upstream is authoritative for (its `authority` block); anything else it asserts is dropped at login. */
    authority: AuthoritySummary;
    /** What Cedar sees of the person: the claims recorded at login, after that authority. */
    believed: MintQuestion['principal'];
    /** The login as the PEP/operator reported it, cut to the acr/amr this upstream is believed about. */
    login: MintQuestion['context'];
    /** Reported login values this upstream is not believed about. */
    login_dropped: string[];
  };
  mapping?: { namespace: string; strategy: string; ok: true; subject: string; decided_by: string; would_bind: boolean } | { namespace: string; strategy: string; ok: false; refusal: string; detail?: string };
  translation?: {
    /** `caller`: a key of scope_translation; `destination`: already one of the destination's scopes; `none`: untranslatable. */
    vocabulary: 'caller' | 'destination' | 'none';
    /** The destination scopes the asked scope stands for. */
    to: string[];
    /** Caller scopes that translate to the asked scope (destination vocabulary only). */
    from: string[];
  };
  scopes: ScopeExplanation[];
}

export interface AuthoritySummary {
  tenant: string | null;
  email: { domains: string[]; verified: 'claim' | 'always' } | 'not believed';
  groups: { claim: string; allow: string[]; allow_prefixes: string[]; prefix: string } | 'not believed';
  acr: string[];
  amr: string[];
  claims: string[];
}

export function summariseAuthority(a: UpstreamAuthority): AuthoritySummary {
  return {
    tenant: a.tenant ?? null,
    email: a.email ? { domains: [...a.email.domains], verified: a.email.verified } : 'not believed',
    groups: a.groups ? { claim: a.groups.claim, allow: [...(a.groups.allow ?? [])], allow_prefixes: [...(a.groups.allow_prefixes ?? [])], prefix: a.groups.prefix } : 'not believed',
    acr: [...a.acr],
    amr: [...a.amr],
    claims: [...a.claims],
  };
}

export async function explain(ask: ExplainAsk, s: DecideServices, now: number): Promise<Explanation> {
  const { scope, ...target } = ask;
  const question = { principal: target.principalId, client: target.clientId, destination: target.destinationId, scope, ...(target.resource !== undefined ? { resource: target.resource } : {}), login: target.login };
  const t = await trace(target, s, now);
  const out: Explanation = { decision: false, question, scopes: [] };
  if (t.principal && t.identity && t.login) {
    const authority = s.trust.ofConnection(t.principal.connectionId);
    out.person = {
      upstream: { issuer: t.principal.upstreamIssuer, connection: t.principal.connectionId, subject: t.principal.upstreamSubject },
      authority: summariseAuthority(authority),
      believed: mintPrincipal(t.identity),
      login: mintContext(t.login, t.identity, now),
      login_dropped: [
        ...(target.login.acr !== undefined && t.login.acr === undefined ? [`acr:${target.login.acr}`] : []),
        ...(target.login.amr ?? []).filter((m) => !authority.amr.includes(m)).map((m) => `amr:${m}`),
      ],
    };
  }
  if (t.namespace && t.mapping) {
    const ns = { namespace: t.namespace.namespace, strategy: t.namespace.strategy };
    out.mapping = t.mapping.ok
      ? { ...ns, ok: true, subject: t.mapping.subject, decided_by: t.mapping.decidedBy, would_bind: t.mapping.newBinding !== undefined }
      : { ...ns, ok: false, refusal: t.mapping.reason, ...(t.mapping.detail !== undefined ? { detail: t.mapping.detail } : {}) };
  }
  if (t.destination) out.translation = translation(scope, t.destination.scope_translation, t.grant?.default_scopes ?? []);
  if (t.refused) return { ...out, reason: t.refused };

  // Approvals count here as on the mint path: an approved requestable forbid does not deny.
  const p = preparedOf(t, target, now, await approvalsOf(target, s, now));
  if (!isPrepared(p)) return { ...out, ...(p.context ? { reason: p.context.reason } : {}) };
  // Untranslatable: the one destination scope asked about is the asked scope itself, refused as such.
  const destinationScopes = out.translation!.to.length > 0 ? out.translation!.to : [scope];
  out.scopes = destinationScopes.map((ds) => {
    const st = traceScope(p, ds, s);
    const d = scopeDecision(st);
    return {
      scope: ds,
      decision: d.decision,
      ...(d.context ? { reason: d.context.reason } : {}),
      client_may_hold: st.clientMayHold,
      ...(st.policy ? { policy: { allowed: st.policy.allowed, determining_policies: st.policy.policies, errors: st.policy.errors } } : {}),
    };
  });
  out.decision = out.scopes.every((x) => x.decision);
  const firstRefusal = out.scopes.find((x) => !x.decision)?.reason;
  return { ...out, ...(firstRefusal ? { reason: firstRefusal } : {}) };
}

/** The asked scope in both vocabularies (the token exchange translates with the same table). */
export function translation(scope: string, table: Readonly<Record<string, string[]>>, defaults: readonly string[]): NonNullable<Explanation['translation']> {
  const from = Object.entries(table)
    .filter(([, to]) => to.includes(scope))
    .map(([k]) => k);
  if (Object.hasOwn(table, scope)) return { vocabulary: 'caller', to: [...table[scope]!], from };
  if (from.length > 0 || defaults.includes(scope)) return { vocabulary: 'destination', to: [scope], from };
  return { vocabulary: 'none', to: [], from: [] };
}

/** A readable rendering, one fact a line (the CLI's default output). */
export function formatExplanation(e: Explanation): string {
  const q = e.question;
  const lines: string[] = [];
  lines.push(`${e.decision ? 'PERMIT' : 'DENY'}${e.reason ? ` (${e.reason})` : ''}: client ${q.client} · scope ${q.scope} · destination ${q.destination}${q.resource ? ` · resource ${q.resource}` : ''} · principal ${q.principal}`);
  if (e.person) {
    const { upstream, authority: a, believed, login } = e.person;
    lines.push(`person: ${upstream.subject} at ${upstream.issuer} (connection ${upstream.connection})`);
    lines.push(`  upstream is authoritative for: tenant ${a.tenant ?? '(none)'}; email ${a.email === 'not believed' ? 'not believed' : `${a.email.domains.join(', ')} (verified: ${a.email.verified})`}; groups ${a.groups === 'not believed' ? 'not believed' : `from claim ${a.groups.claim}, allow [${a.groups.allow.join(', ')}] prefixes [${a.groups.allow_prefixes.join(', ')}]${a.groups.prefix ? ` prefixed ${a.groups.prefix}` : ''}`}; acr [${a.acr.join(', ')}]; amr [${a.amr.join(', ')}]; claims [${a.claims.join(', ')}]`);
    lines.push(`  policy sees: email ${believed.email ?? '(none)'}; groups [${believed.groups.join(', ')}]${a.groups === 'not believed' ? ' (groups not believed from this upstream)' : ''}; tenant ${believed.tenant ?? '(none)'}`);
    lines.push(`  login: acr ${login.acr ?? '(none)'}; amr [${login.amr.join(', ')}]; auth_time ${login.authTime ?? '(unknown)'}${e.person.login_dropped.length ? `; dropped (not believed): ${e.person.login_dropped.join(', ')}` : ''}`);
  }
  if (e.mapping) {
    const m = e.mapping;
    lines.push(m.ok ? `mapping: namespace ${m.namespace} (${m.strategy}) → subject ${m.subject}, decided by ${m.decided_by}${m.would_bind ? ' (a new binding, written at the first mint)' : ''}` : `mapping: namespace ${m.namespace} (${m.strategy}) refused: ${m.refusal}${m.detail ? ` (${m.detail})` : ''}`);
  }
  if (e.translation) {
    const t = e.translation;
    lines.push(
      t.vocabulary === 'none'
        ? `translation: ${q.scope} is untranslatable at ${q.destination} (not in its scope_translation, not a destination scope)`
        : t.vocabulary === 'caller'
          ? `translation: ${q.scope} → [${t.to.join(', ')}]`
          : `translation: ${q.scope} is a destination scope${t.from.length ? ` (asked for as ${t.from.join(', ')})` : ''}`,
    );
  }
  for (const sc of e.scopes) {
    const pol = sc.policy ? `; policy ${sc.policy.allowed ? 'permits' : 'denies'} by [${sc.policy.determining_policies.join(', ') || 'no matching permit'}]${sc.policy.errors.length ? `; errors: ${sc.policy.errors.join('; ')}` : ''}` : '';
    lines.push(`scope ${sc.scope}: ${sc.decision ? 'granted' : `refused (${sc.reason})`}; client may hold it: ${sc.client_may_hold ? 'yes' : 'no'}${pol}`);
  }
  return lines.join('\n');
}

const EXPLAIN_MEMBERS = new Set(['principal', 'client_id', 'destination', 'scope', 'resource', 'acr', 'amr', 'auth_time']);

/**
 * The admin endpoint's body: `{principal, client_id, destination, scope, resource?, acr?, amr?,
 * auth_time?}` (the CLI's options). An unknown member is refused, so a misspelt one is not
 * silently ignored.
 */
export function readExplainAsk(body: Json): ExplainAsk {
  for (const key of Object.keys(body)) if (!EXPLAIN_MEMBERS.has(key)) throw new BadRequest(`unknown member "${key.slice(0, 64)}"; expected ${[...EXPLAIN_MEMBERS].join(', ')}`);
  const resource = optionalString(body, 'resource', 'resource');
  return {
    principalId: requireString(body, 'principal', 'principal'),
    clientId: requireString(body, 'client_id', 'client_id'),
    destinationId: requireString(body, 'destination', 'destination'),
    scope: requireString(body, 'scope', 'scope'),
    ...(resource !== undefined ? { resource } : {}),
    login: readLogin(body, (k) => k),
  };
}
