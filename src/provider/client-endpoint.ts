import type { AuthenticatedClient } from '../clients/authenticate.js';
import { NO_STORE, oauthErrorResponse } from '../http/errors.js';
import { readForm, type FormParams } from '../http/form.js';
import { OAuthError, ServerError } from '../oauth/errors.js';
import { auditRefusal } from './audit.js';
import type { Provider } from './context.js';

/** What the endpoint's own steps get: the form and the client, authenticated as at /token. */
export interface ClientRequest {
  form: FormParams;
  client: AuthenticatedClient;
  now: number;
  requestId: string;
}

/** A 200 answer: a JSON body, or none (RFC 7009 §2.2: the client ignores it). */
export type ClientAnswer = { body?: Record<string, unknown> };

/**
 * A back-channel endpoint of the provider that clients call authenticated exactly as at /token
 * (/revoke, /introspect): a POST with a bounded form, the client authenticated by the broker's one
 * ClientAuthenticator (same methods, secret budgets, assertion audiences and `jti` replay), then the
 * endpoint's steps. A refusal before the client authenticated is counted into the summary (anyone
 * can send those); after, it is an audit record naming the client. Every answer is `no-store`.
 */
export function clientAuthenticatedEndpoint(p: Provider, path: string, steps: (request: ClientRequest) => Promise<ClientAnswer>) {
  return async (request: Request, source: string): Promise<Response> => {
    const requestId = crypto.randomUUID();
    const now = p.clock();
    let clientId: string | undefined;
    try {
      await p.services.keys.refresh(now);
      const form = await readForm(request);
      const client = await p.services.clients.authenticate(request.headers.get('authorization') ?? undefined, form, now, source);
      clientId = client.client.client_id;
      const answer = await steps({ form, client, now, requestId });
      const headers = { ...NO_STORE, 'X-Request-Id': requestId, ...(answer.body ? { 'Content-Type': 'application/json' } : {}) };
      return new Response(answer.body ? JSON.stringify(answer.body) : null, { status: 200, headers });
    } catch (err) {
      const error = err instanceof OAuthError ? err : new ServerError('internal_error', 'the server could not process the request');
      if (!(err instanceof OAuthError)) {
        // Name and message only: no stack, and messages here never carry token material.
        p.services.logger.error({ requestId, error: err instanceof Error ? `${err.name}: ${err.message}` : 'non-error thrown' }, `${path} failure`);
      }
      const record = { at: now, requestId, ...(clientId ? { clientId } : {}), reason: error.reason, ...(error.detail ? { detail: error.detail } : {}) };
      await auditRefusal(p.services, record, clientId === undefined ? { endpoint: path, source } : undefined);
      return oauthErrorResponse(error, requestId);
    }
  };
}

/** Anything but POST (RFC 7009 §2.1, RFC 7662 §2.1), answered as the token endpoint answers it. */
export function postOnly(): Response {
  return new Response(JSON.stringify({ error: 'invalid_request', error_description: 'use POST' }), { status: 405, headers: { 'Content-Type': 'application/json', Allow: 'POST', ...NO_STORE } });
}
