/**
 * Why the governance core refused: the AuthZEN Access Request profile's problem types, plus the
 * broker's own (`not_an_approver`, `invalid_request`). The HTTP layers (access request endpoints,
 * approval console) turn a kind into their response in one place each; `detail` is safe to show.
 */
export type GovernanceErrorKind =
  | 'invalid_request'
  | 'not_requestable'
  | 'expired_denial'
  | 'invalid_denial_binding'
  | 'duplicate_request'
  | 'unknown_task'
  | 'task_expired'
  | 'invalid_task_state'
  | 'not_an_approver';

export class GovernanceError extends Error {
  override readonly name = 'GovernanceError';
  constructor(
    readonly kind: GovernanceErrorKind,
    /** Safe for the wire: names the rule broken, never a secret. */
    readonly detail: string,
  ) {
    super(detail);
  }
}
