/**
 * AuthZEN 1.0 §12.1.2: protocol errors are HTTP statuses, distinct from decisions (a deny is
 * 200 with `decision: false`). One class per status, turned into a response in one place
 * (`authzenErrorResponse`). Messages are safe for the wire: they name the rule broken, never
 * a secret, a stack or an internal refusal reason.
 */
export abstract class AuthzenError extends Error {
  abstract readonly status: number;
  constructor(message: string) {
    super(message);
  }
}

/** A required member is missing, has the wrong type or breaks a bound (§12.1.1: "Bad Request"). */
export class BadRequest extends AuthzenError {
  readonly status = 400;
}

/** No or bad caller credentials (§13.3): carries a challenge. */
export class Unauthorized extends AuthzenError {
  readonly status = 401;
}

/** An authenticated client that is not configured as a PDP caller. */
export class Forbidden extends AuthzenError {
  readonly status = 403;
}

export class NotAllowed extends AuthzenError {
  readonly status = 405;
  constructor(
    message: string,
    /** The methods the path does serve (the `Allow` header). */
    readonly allow = 'POST',
  ) {
    super(message);
  }
}

export class PayloadTooLarge extends AuthzenError {
  readonly status = 413;
}

/** §12.1: requests MUST be `application/json`. */
export class UnsupportedMediaType extends AuthzenError {
  readonly status = 415;
}

/** Client authentication is throttled or its queue is full. */
export class Busy extends AuthzenError {
  readonly status = 503;
}

/** The caller authenticates as a broker client with HTTP Basic (docs/authzen.md). */
export const AUTHZEN_CHALLENGE = 'Basic realm="xaa-broker", charset="UTF-8"';

/**
 * The one place an AuthzenError becomes a response: `{"error": {"status", "message"}}`, the shape
 * the spec's own examples use for an error inside an evaluation's context.
 */
export function authzenErrorResponse(err: AuthzenError, headers: Record<string, string>): Response {
  const out: Record<string, string> = { 'Content-Type': 'application/json', ...headers };
  if (err instanceof Unauthorized) out['WWW-Authenticate'] = AUTHZEN_CHALLENGE;
  if (err instanceof NotAllowed) out.Allow = err.allow;
  return new Response(JSON.stringify({ error: { status: err.status, message: err.message } }), { status: err.status, headers: out });
}
