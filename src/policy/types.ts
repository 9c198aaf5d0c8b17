/**
 * The contract between the token exchange and the policy layer. A mint is an authorization
 * question asked once per destination scope, so the granted set is a subset by construction.
 */

/** The subset of @cedar-policy/cedar-wasm the broker uses; Node and Workers load different builds. */
export type CedarModule = Pick<
  typeof import('@cedar-policy/cedar-wasm/nodejs'),
  'isAuthorized' | 'statefulIsAuthorized' | 'preparsePolicySet' | 'preparseSchema' | 'validate' | 'checkParsePolicySet' | 'checkParseSchema'
>;

export interface MintQuestion {
  /** The broker principal (a person), with upstream attributes from the subject token. */
  principal: {
    id: string;
    upstreamIssuer: string;
    email?: string;
    groups: string[];
    tenant?: string;
  };
  clientId: string;
  destination: { id: string; issuer: string };
  resource?: string;
  /** Scopes in the destination's vocabulary, already translated and client-filtered. */
  scopes: string[];
  context: {
    acr?: string;
    amr: string[];
    authTime?: number;
    tenant?: string;
    /** Seconds since epoch; the clock is passed in. */
    now: number;
    /** Ids of `@requestable` forbids an approver has approved for this question (Cedar `context.approved`). */
    approved?: string[];
  };
}

export interface ScopeDecision {
  scope: string;
  allowed: boolean;
  /** Ids of the policies that determined the decision (Cedar "reason"). */
  policies: string[];
  /** Evaluation errors; any error is a deny (fail closed). */
  errors: string[];
}

/**
 * What a forbid annotated `@step_up("acr_values=…&max_age=…&amr=…")` asks of the login: its denial
 * is about authentication strength, and a fresh login meeting this would lift it (RFC 9470).
 */
export interface StepUpRule {
  /** Sent as the `acr_values` hint; the first one is assumed when re-asking policy. */
  acrValues: string[];
  /** Sent as the `max_age` hint (seconds). */
  maxAge?: number;
  /** Methods a stepped-up login would add (assumed when re-asking policy; not sent). */
  amr: string[];
}

/**
 * What a forbid annotated `@requestable("approvers=…&max_duration=…")` allows: its denial may be
 * requested, approved by one of these, for at most `maxDuration` seconds.
 */
export interface RequestableRule {
  /** Approvers by group (as their upstream is believed about groups). */
  groups: string[];
  /** Approvers by address (lower case; only a believed, verified email counts). */
  emails: string[];
  maxDuration: number;
}

export interface PolicyEngine {
  /** Identifies the loaded policy set (content hash) for the audit record. */
  readonly version: string;
  /** Forbids annotated `@step_up`, by policy id. */
  readonly stepUp?: ReadonlyMap<string, StepUpRule>;
  /** Forbids annotated `@requestable`, by policy id. */
  readonly requestable?: ReadonlyMap<string, RequestableRule>;
  evaluateMint(question: MintQuestion): ScopeDecision[];
}
