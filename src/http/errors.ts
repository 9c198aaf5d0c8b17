import { TEMPORARILY_UNAVAILABLE_RETRY_AFTER } from '../constants.js';
import { AccessDenied, AuthorizationPending, InsufficientUserAuthentication, InvalidClient, OAuthError, SlowDown, TemporarilyUnavailable, UseDpopNonce } from '../oauth/errors.js';

/** Headers every token-endpoint answer carries, success or error (RFC 6749 §5.1). */
export const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

/**
 * The one place an OAuthError becomes a response: RFC 6749 §5.2 JSON, the right status, a Basic
 * challenge where the client tried Basic, `Retry-After` on a 503 (RFC 9110 §10.2.3). The internal
 * reason never leaves the process.
 */
export function oauthErrorResponse(err: OAuthError, requestId: string): Response {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...NO_STORE, 'X-Request-Id': requestId };
  if (err instanceof InvalidClient && err.usedBasic) headers['WWW-Authenticate'] = 'Basic realm="xaa-broker", charset="UTF-8"';
  if (err instanceof TemporarilyUnavailable) headers['Retry-After'] = String(TEMPORARILY_UNAVAILABLE_RETRY_AFTER);
  // RFC 9449 §8: the nonce the client must put in its next proof.
  if (err instanceof UseDpopNonce) headers['DPoP-Nonce'] = err.nonce;
  const body: Record<string, unknown> = { error: err.code };
  if (err.description) body.error_description = err.description;
  // RFC 9470 §3: the step-up hints ride beside the error code.
  if (err instanceof InsufficientUserAuthentication) {
    if (err.hints.acr_values !== undefined) body.acr_values = err.hints.acr_values;
    if (err.hints.max_age !== undefined) body.max_age = err.hints.max_age;
  }
  // A requestable denial's access_request; a deferral's code and interval. Never over error/error_description.
  if (err instanceof AccessDenied || err instanceof AuthorizationPending || err instanceof SlowDown) {
    for (const [k, v] of Object.entries(err.members)) if (!(k in body)) body[k] = v;
  }
  return new Response(JSON.stringify(body), { status: err.status, headers });
}
