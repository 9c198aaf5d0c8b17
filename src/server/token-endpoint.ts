import { LOG_IGNORED_PARAMS_MAX, LOG_PARAM_NAME_MAX } from '../constants.js';
import { AuthorizationPending, InvalidRequest, OAuthError, ServerError, SlowDown, UnsupportedGrantType } from '../oauth/errors.js';
import type { AuditTrail, DpopPresented, Grant, GrantRequest } from '../grants/grant.js';
import { readForm, type BodyReader } from '../http/form.js';
import { UNKNOWN_SOURCE } from '../http/source.js';
import { NO_STORE, oauthErrorResponse } from '../http/errors.js';
import { boundedAudit } from '../audit/record.js';
import { summariseRefusal } from '../audit/summary.js';
import { authorizationServerMetadata, TOKEN_PATH } from './metadata.js';
import type { BrokerServices } from '../grants/services.js';

/**
 * The token endpoint: read the form, find the grant, authenticate the client, run the grant.
 * Every refusal is audited with what the request had established so far.
 */
export function tokenEndpoint(grants: readonly Grant<BrokerServices>[], services: BrokerServices, clock: () => number) {
  const byType = new Map(grants.map((g) => [g.grantType, g]));
  const htu = authorizationServerMetadata(services.settings.issuer).token_endpoint;

  /** `source`: the caller's source key (http/source.ts), for client-auth budgets and refusal summaries. */
  return async (request: Request, source: string = UNKNOWN_SOURCE, readBody?: BodyReader): Promise<Response> => {
    const requestId = crypto.randomUUID();
    const now = clock();
    const trail: AuditTrail = {};
    try {
      await services.keys.refresh(now);
      const form = await readForm(request, undefined, readBody);
      const grantType = form.get('grant_type');
      if (grantType === undefined) throw new InvalidRequest('missing_parameter', 'grant_type is required');
      trail.grantType = grantType.slice(0, 100);
      const grant = byType.get(grantType);
      if (!grant) throw new UnsupportedGrantType('unsupported_grant_type', 'this grant_type is not supported');
      const dpop = presentedDpop(request, grant, htu);

      const client = await services.clients.authenticate(request.headers.get('authorization') ?? undefined, form, now, source);
      trail.clientId = client.client.client_id;

      const ignored = form.names().filter((n) => !grant.parameters.includes(n) && !CLIENT_AUTH_PARAMS.has(n));
      if (ignored.length > 0) services.logger.info({ requestId, count: ignored.length, ignored: ignoredForLog(ignored) }, 'ignored unrecognised parameters');

      const grantRequest: GrantRequest = { form, client, now, requestId, trail, ...(dpop ? { dpop } : {}) };
      const body = await grant.handle(grantRequest, services);
      services.logger.info({ requestId, event: 'mint', clientId: trail.clientId, destination: trail.destination, jti: trail.jti, scope: body.scope }, 'minted');
      return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json', ...NO_STORE, 'X-Request-Id': requestId } });
    } catch (err) {
      const oauthError = err instanceof OAuthError ? err : new ServerError('internal_error', 'the server could not process the request');
      if (!(err instanceof OAuthError)) {
        // Name and message only: no stack, and messages here never carry token material.
        services.logger.error({ requestId, error: err instanceof Error ? `${err.name}: ${err.message}` : 'non-error thrown' }, 'token endpoint failure');
      }
      await auditRefusal(services, { requestId, now, trail, err: oauthError, source });
      return oauthErrorResponse(oauthError, requestId);
    }
  };
}

/**
 * Step: a DPoP proof (RFC 9449) asks for a sender-constrained token. A grant that binds what it
 * issues checks the proof itself (docs/dpop.md); any other grant refuses it, since answering with a
 * bearer token would silently drop what the client asked for. Before client authentication: nothing to pay.
 */
function presentedDpop(request: Request, grant: Grant<BrokerServices>, htu: string): DpopPresented | undefined {
  const proof = request.headers.get('dpop');
  if (proof === null) return undefined;
  if (!grant.dpop) throw new InvalidRequest('dpop_not_supported_for_grant', 'DPoP is not supported for this grant_type: it cannot issue sender-constrained tokens');
  return { proof, htm: request.method, htu };
}

/** A bounded view of what was ignored: the request decides how many names and how long, not the log. */
function ignoredForLog(names: string[]): string[] {
  return names.slice(0, LOG_IGNORED_PARAMS_MAX).map((n) => (n.length > LOG_PARAM_NAME_MAX ? `${n.slice(0, LOG_PARAM_NAME_MAX)}…` : n));
}

/** RFC 6749 §3.2: unrecognised parameters are ignored; these are known to the client-auth step. */
const CLIENT_AUTH_PARAMS = new Set(['grant_type', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type']);

/**
 * A refusal after the client authenticated is one audit record. Before that, anyone can cause
 * one at line rate, so it is counted into a per-(reason, source) summary instead, and logged
 * only when it is the first of its kind in the interval.
 */
async function auditRefusal(services: BrokerServices, r: { requestId: string; now: number; trail: AuditTrail; err: OAuthError; source: string }) {
  const log = { requestId: r.requestId, event: 'refusal', error: r.err.code, reason: r.err.reason, clientId: r.trail.clientId };
  // A wait is not a refusal: the deferral's issue is its audit record, and a poll every few seconds is a log line.
  if (r.err instanceof AuthorizationPending || r.err instanceof SlowDown) {
    services.logger.info({ ...log, event: 'deferral_poll', deferral: r.trail.deferral }, 'pending');
    return;
  }
  if (r.trail.clientId === undefined) {
    await summariseRefusal(
      services.refusals,
      services.logger,
      {
        at: r.now,
        requestId: r.requestId,
        endpoint: TOKEN_PATH,
        reason: r.err.reason,
        source: r.source,
        ...(r.trail.grantType ? { grantType: r.trail.grantType } : {}),
        ...(r.err.detail ? { detail: r.err.detail } : {}),
      },
      { error: r.err.code },
    );
    return;
  }
  const record = boundedAudit({
    ...r.trail,
    at: r.now,
    event: 'refusal',
    requestId: r.requestId,
    reason: r.err.reason,
    ...(r.err.detail ? { detail: r.err.detail } : {}),
  });
  services.logger.warn(log, 'refused');
  try {
    await services.store.audit.append(record);
  } catch (auditErr) {
    services.logger.error({ requestId: r.requestId, error: auditErr instanceof Error ? auditErr.message : 'unknown' }, 'audit write failed');
  }
}
