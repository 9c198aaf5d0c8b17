import { boundedCache } from '../clocked-cache.js';
import { POLICY_DECISION_CACHE_MAX, POLICY_DECISION_CACHE_MAX_BYTES } from '../constants.js';
import { fnv1a64 } from './hash.js';
import { annotationValue, indexOfByte, namePolicies, position, skeleton, splitPolicies, type NamedPolicy, type PolicySource } from './policy-text.js';
import { requestableRules } from './requestable.js';
import { readableInputs, type ReadableInputs } from './readable.js';
import type { CedarModule, MintQuestion, PolicyEngine, ScopeDecision, StepUpRule } from './types.js';

/**
 * The Cedar policy engine behind every mint. Policies are checked once at load (syntax, ids,
 * schema) and preparsed into Cedar's per-thread cache; each mint is then one Cedar request per
 * destination scope, so the granted set is a per-scope subset by construction. Anything that
 * goes wrong while evaluating denies that scope.
 */

type AuthorizationAnswer = ReturnType<CedarModule['statefulIsAuthorized']>;
type AuthorizationCall = Parameters<CedarModule['statefulIsAuthorized']>[0];
type Entity = AuthorizationCall['entities'][number];
/** Cedar's JSON entity reference, as used in requests and under `__entity` in values. */
type EntityRef = { type: string; id: string };
type CedarValue = AuthorizationCall['context'][string];
type DetailedError = Extract<ReturnType<CedarModule['checkParsePolicySet']>, { type: 'failure' }>['errors'][number];

/** Entity type names; policies/xaa.cedarschema declares the same model. */
export const CEDAR_TYPES = {
  user: 'Xaa::User',
  action: 'Xaa::Action',
  scope: 'Xaa::Scope',
  destination: 'Xaa::Destination',
  client: 'Xaa::Client',
} as const;
export const MINT_ACTION = 'mint';

export interface PolicyEngineInput {
  /** Cedar policy-set text; `@id("…")` annotations name the policies. */
  policies: string;
  /** Cedar schema text. When given, policies must validate against it and every request is checked against it. */
  schema?: string;
  /** Prefix of the key under which Cedar caches the parsed set; the content hash is always appended. */
  policySetId?: string;
  /** The files `policies` was joined from, so that errors name a file and a line in it. */
  sources?: readonly PolicySource[];
  /** The file the schema came from, for its errors. */
  schemaPath?: string;
}

export interface LoadedPolicyEngine extends PolicyEngine {
  /** Policy ids in text order. */
  readonly policyIds: readonly string[];
  /** Validator warnings (e.g. a policy that can never apply); they do not stop loading. */
  readonly warnings: readonly string[];
}

/** The policy set was refused; `problems` lists each one with the policy id or position Cedar reported. */
export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
  constructor(readonly problems: readonly string[]) {
    super(`policy set refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function createPolicyEngine(cedar: CedarModule, input: PolicyEngineInput): LoadedPolicyEngine {
  const version = policySetVersion(input.policies, input.schema);
  const sources = input.sources ?? [];
  const policies = parsePolicies(cedar, input.policies, sources);
  const stepUp = stepUpRules(policies);
  const requestable = requestableRules(policies, effectOf);
  if (requestable.problems.length > 0) throw new PolicyLoadError(requestable.problems);
  const warnings = input.schema === undefined ? [] : validatePolicies(cedar, { text: input.policies, sources }, policies, { text: input.schema, path: input.schemaPath ?? 'schema' });

  // Cedar's cache is per thread and keyed by name: the content hash in the key keeps two engines
  // (an old and a reloaded one) from ever evaluating each other's policies.
  const cacheKey = `${input.policySetId ?? 'xaa'}@${version}`;
  refuseOnFailure(cedar.preparsePolicySet(cacheKey, { staticPolicies: byId(policies) }), (e) => `policy set: ${describe(e)}`);
  if (input.schema !== undefined) refuseOnFailure(cedar.preparseSchema(cacheKey, input.schema), (e) => `schema: ${describe(e)}`);

  const schemaCheck = input.schema === undefined ? {} : { preparsedSchemaName: cacheKey, validateRequest: true };
  // Cedar is a pure function of (policies, request, entities): equal inputs, equal decision. So
  // decisions are memoised on the input, reduced to what the policies can read (readable.ts): a
  // person never seen before, whose groups, tenant and login look like someone else's, costs no
  // Cedar call when no policy names people or reads what differs between them.
  const reads = readableInputs(input.policies);
  const decisions = boundedCache<string, ScopeDecision>({
    max: POLICY_DECISION_CACHE_MAX,
    maxSize: POLICY_DECISION_CACHE_MAX_BYTES,
    sizeCalculation: (_decision, key) => key.length * 2 + 256,
  });
  return Object.freeze({
    version,
    policyIds: Object.freeze(policies.map((p) => p.id)),
    stepUp,
    requestable: requestable.rules,
    warnings: Object.freeze(warnings),
    evaluateMint(question: MintQuestion): ScopeDecision[] {
      // The Cedar call is a pure function of (question, scope), so the question is the memo key.
      const base = memoKey(question, reads);
      let shared: Entity[] | undefined;
      return question.scopes.map((scope) => {
        const key = `${base}\n${scope}`;
        const known = decisions.get(key);
        if (known) return known;
        shared ??= sharedEntities(question);
        const call: AuthorizationCall = {
          ...mintRequest(question, scope),
          entities: [...shared, scopeEntity(question, scope)],
          preparsedPolicySetId: cacheKey,
          ...schemaCheck,
        };
        const decision = decideScope(cedar, scope, call);
        if (decision.errors.length === 0) decisions.set(key, decision);
        return decision;
      });
    },
  });
}

/** A short stable identifier of the policy text and schema, for audit records. */
export function policySetVersion(policies: string, schema: string | undefined): string {
  // The separator and marker keep "no schema" distinct from any schema text.
  return fnv1a64(`${policies}\u0000${schema === undefined ? '-' : `+${schema}`}`);
}

// ---- load -------------------------------------------------------------------------------

const STEP_UP_KEYS = new Set(['acr_values', 'max_age', 'amr']);

/**
 * `@step_up("acr_values=a b&max_age=600&amr=mfa")` on a forbid marks its denial as one a stronger
 * or fresher login would lift. Checked at load: on forbids only, known keys, an integer max_age.
 */
function stepUpRules(policies: readonly NamedPolicy[]): ReadonlyMap<string, StepUpRule> {
  const rules = new Map<string, StepUpRule>();
  const problems: string[] = [];
  for (const p of policies) {
    const raw = annotationValue(p.text, 'step_up');
    if (raw === undefined) continue;
    if (effectOf(p) !== 'forbid') problems.push(`${p.id}: @step_up is only meaningful on a forbid`);
    const params = new URLSearchParams(raw);
    for (const key of params.keys()) if (!STEP_UP_KEYS.has(key)) problems.push(`${p.id}: @step_up has unknown key "${key}" (acr_values, max_age, amr)`);
    const maxAge = params.get('max_age');
    if (maxAge !== null && !/^\d{1,9}$/.test(maxAge)) problems.push(`${p.id}: @step_up max_age must be a whole number of seconds`);
    const words = (key: string) => (params.get(key) ?? '').split(' ').filter(Boolean);
    rules.set(p.id, { acrValues: words('acr_values'), amr: words('amr'), ...(maxAge !== null ? { maxAge: Number(maxAge) } : {}) });
  }
  if (problems.length > 0) throw new PolicyLoadError(problems);
  return rules;
}

/** `permit` or `forbid`. The skeleton blanks comments and masks string contents: only tokens decide the effect. */
function effectOf(p: NamedPolicy): string | undefined {
  return /^\s*(?:@\s*\w+\s*(?:\(\s*"_*"\s*\))?\s*)*(permit|forbid)\b/.exec(skeleton(p.text))?.[1];
}

/** Parses the whole set (positions are then positions in the set, mapped back to its files), then names each policy. */
function parsePolicies(cedar: CedarModule, text: string, sources: readonly PolicySource[]): NamedPolicy[] {
  refuseOnFailure(cedar.checkParsePolicySet({ staticPolicies: text }), (e) => `${at(text, 0, e, sources)}${describe(e)}`);
  const { policies, problems } = namePolicies(splitPolicies(text));
  if (problems.length > 0) throw new PolicyLoadError(problems);
  return policies;
}

/** Cedar names each policy by its key in this map, in answers and in errors alike. */
function byId(policies: NamedPolicy[]): Record<string, string> {
  return Object.fromEntries(policies.map((p) => [p.id, p.text]));
}

/** Refuses on schema errors and validation errors; returns the warnings. */
function validatePolicies(
  cedar: CedarModule,
  set: { text: string; sources: readonly PolicySource[] },
  policies: NamedPolicy[],
  { text: schema, path: schemaPath }: { text: string; path: string },
): string[] {
  refuseOnFailure(cedar.checkParseSchema(schema), (e) => `${schemaPath} ${at(schema, 0, e)}${describe(e)}`);
  const answer = cedar.validate({ schema, policies: { staticPolicies: byId(policies) }, validationSettings: { mode: 'strict' } });
  if (answer.type === 'failure') throw new PolicyLoadError(answer.errors.map(describe));
  const start = new Map(policies.map((p) => [p.id, p.start]));
  const inPolicy = (v: { policyId: string; error: DetailedError }) =>
    `policy "${v.policyId}" ${at(set.text, start.get(v.policyId) ?? 0, v.error, set.sources)}${describe(v.error)}`;
  if (answer.validationErrors.length > 0) throw new PolicyLoadError(answer.validationErrors.map(inPolicy));
  return [...answer.validationWarnings.map(inPolicy), ...answer.otherWarnings.map(describe)];
}

function refuseOnFailure(answer: { type: 'success' } | { type: 'failure'; errors: DetailedError[] }, problem: (e: DetailedError) => string): void {
  if (answer.type === 'failure') throw new PolicyLoadError(answer.errors.map(problem));
}

/** "[file ]line L:C: " for Cedar's first source location (a UTF-8 offset into the text starting at `base`), or "". */
function at(text: string, base: number, e: DetailedError, sources: readonly PolicySource[] = []): string {
  const loc = e.sourceLocations?.[0];
  if (!loc) return '';
  return `${position(text, base + indexOfByte(text.slice(base), loc.start), sources)}: `;
}

function describe(e: DetailedError): string {
  return e.help ? `${e.message} (${e.help})` : e.message;
}

// ---- evaluate ---------------------------------------------------------------------------

function ref(type: string, id: string): EntityRef {
  return { type, id };
}

/** Cedar values cannot be `undefined`: optional attributes are left out, not set to nothing. */
function present(record: Record<string, CedarValue | undefined>): Record<string, CedarValue> {
  return Object.fromEntries(Object.entries(record).filter((e): e is [string, CedarValue] => e[1] !== undefined));
}

function scopeUid(question: MintQuestion, scope: string): EntityRef {
  // Scope tokens never contain a space (RFC 6749 §3.3), so "<destination> <scope>" is unambiguous.
  return ref(CEDAR_TYPES.scope, `${question.destination.id} ${scope}`);
}

/** The entities every scope's request shares: the user, the destination and the client. */
function sharedEntities(q: MintQuestion): Entity[] {
  const user = present({ upstreamIssuer: q.principal.upstreamIssuer, email: q.principal.email, groups: q.principal.groups, tenant: q.principal.tenant });
  return [
    { uid: ref(CEDAR_TYPES.user, q.principal.id), attrs: user, parents: [] },
    { uid: ref(CEDAR_TYPES.destination, q.destination.id), attrs: { issuer: q.destination.issuer }, parents: [] },
    { uid: ref(CEDAR_TYPES.client, q.clientId), attrs: {}, parents: [] },
  ];
}

function scopeEntity(q: MintQuestion, scope: string): Entity {
  const destination = ref(CEDAR_TYPES.destination, q.destination.id);
  return {
    uid: scopeUid(q, scope),
    attrs: present({ name: scope, destination: { __entity: destination }, resource: q.resource }),
    parents: [destination],
  };
}

function mintRequest(q: MintQuestion, scope: string): Pick<AuthorizationCall, 'principal' | 'action' | 'resource' | 'context'> {
  return {
    principal: ref(CEDAR_TYPES.user, q.principal.id),
    action: ref(CEDAR_TYPES.action, MINT_ACTION),
    resource: scopeUid(q, scope),
    context: present({
      client: { __entity: ref(CEDAR_TYPES.client, q.clientId) },
      acr: q.context.acr,
      amr: q.context.amr,
      authTime: q.context.authTime,
      tenant: q.context.tenant,
      now: q.context.now,
      // Always present (an empty set when nothing is approved), so policies need no `has` test.
      approved: q.context.approved ?? [],
    }),
  };
}

/** Everything a mint question carries but its scopes (one key per scope) that some policy can read. */
function memoKey(q: MintQuestion, reads: ReadableInputs): string {
  const p = q.principal;
  const c = q.context;
  const principal = [reads.principalId ? p.id : null, pick(reads, 'upstreamIssuer', p.upstreamIssuer), pick(reads, 'email', p.email), pick(reads, 'groups', p.groups), pick(reads, 'tenant', p.tenant)];
  const context = [pick(reads, 'acr', c.acr), pick(reads, 'amr', c.amr), pick(reads, 'authTime', c.authTime), pick(reads, 'tenant', c.tenant), pick(reads, 'now', c.now), pick(reads, 'approved', c.approved)];
  return JSON.stringify([principal, q.clientId, q.destination, q.resource ?? null, context]);
}

/** A value for the key only when some policy can read it; `undefined` and absent stay distinct from null. */
function pick(reads: ReadableInputs, name: keyof ReadableInputs['attributes'], value: unknown): unknown {
  return reads.attributes[name] ? (value === undefined ? '∅' : value) : null;
}

function decideScope(cedar: CedarModule, scope: string, call: AuthorizationCall): ScopeDecision {
  try {
    return toDecision(scope, cedar.statefulIsAuthorized(call));
  } catch (err) {
    return { scope, allowed: false, policies: [], errors: [err instanceof Error ? err.message : String(err)] };
  }
}

/**
 * Cedar's answer as a scope decision. Cedar skips a policy whose evaluation errors and decides
 * without it, which can turn a broken `forbid` into an allow; here any error denies the scope,
 * and the erroring policies are named as what decided it.
 */
export function toDecision(scope: string, answer: AuthorizationAnswer): ScopeDecision {
  if (answer.type === 'failure') return { scope, allowed: false, policies: [], errors: answer.errors.map(describe) };
  const { decision, diagnostics } = answer.response;
  const errors = diagnostics.errors.map((e) => `${e.policyId}: ${describe(e.error)}`);
  if (errors.length === 0) return { scope, allowed: decision === 'allow', policies: [...diagnostics.reason].sort(), errors };
  const forbids = decision === 'deny' ? diagnostics.reason : [];
  const errored = diagnostics.errors.map((e) => e.policyId);
  return { scope, allowed: false, policies: [...new Set([...forbids, ...errored])].sort(), errors };
}
