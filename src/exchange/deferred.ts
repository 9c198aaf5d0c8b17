import { DEFERRAL_SLOW_DOWN_STEP, MAX_REFERENCE_CHARS } from '../constants.js';
import { effectiveStatus } from '../governance/tasks.js';
import type { Grant, GrantRequest, TokenResponse } from '../grants/grant.js';
import type { BrokerServices } from '../grants/services.js';
import { AccessDenied, AuthorizationPending, ExpiredToken, InvalidGrant, SlowDown } from '../oauth/errors.js';
import { isRandomToken } from '../provider/crypto.js';
import type { DeferralRecord } from '../store/ports.js';
import { grantAt } from './destination.js';
import { RequestableRefusal } from './requestable.js';
import { proofOfPossession } from './dpop.js';
import { recheckSubject, type StoredSubject } from './stored-subject.js';
import { decideForSubject, mintIdJag, requireConfidentialClient } from './token-exchange.js';

/**
 * Deferred completion (docs/access-requests.md): the client polls the token endpoint with the
 * deferral code a requestable denial gave it. Codes and their meaning follow RFC 8628 §3.5:
 * authorization_pending while the access request waits, slow_down when polled too often,
 * access_denied once denied or cancelled, expired_token once the wait is over; once approved, the
 * ID-JAG, decided again with the facts of that moment and the approval in context. The code is
 * single use: whichever final answer it got, it gets no other. Web standards only.
 */
export const DEFERRED_GRANT = 'https://xaa-broker.dev/grant-type/deferred';

const REFUSED = 'the deferral code is invalid';

/** Step: the code, refused unhashed unless randomToken() could have produced it. */
function readDeferralCode(request: GrantRequest): string {
  const code = request.form.require('deferral_code');
  if (code.length > MAX_REFERENCE_CHARS || !isRandomToken(code)) throw new InvalidGrant('deferral_malformed', REFUSED);
  return code;
}

/**
 * Step: record the poll. A code issued to another client was leaked: refused and burned (like a
 * reference presented by the wrong destination), so it cannot complete for anyone.
 */
async function pollDeferral(hash: string, request: GrantRequest, s: BrokerServices): Promise<{ deferral: DeferralRecord; interval: number }> {
  const poll = await s.store.deferrals.poll(hash, request.now, DEFERRAL_SLOW_DOWN_STEP);
  if (poll.status === 'unknown') throw new InvalidGrant('deferral_unknown', REFUSED);
  const { deferral } = poll;
  request.trail.deferral = deferral.id;
  request.trail.destination = deferral.destination;
  request.trail.principalId = deferral.principalId;
  request.trail.requestedScopes = deferral.scopes;
  if (deferral.clientId !== request.client.client.client_id) {
    await s.store.deferrals.finish(hash, request.now);
    throw new InvalidGrant('deferral_foreign', REFUSED, `issued to ${deferral.clientId}; burned`);
  }
  if (poll.status === 'finished') throw new InvalidGrant('deferral_replayed', REFUSED);
  if (poll.status === 'expired') throw await finishing(hash, request, s, new ExpiredToken('deferral_expired', 'the deferral has expired; ask again'));
  if (poll.status === 'slow_down') throw new SlowDown('deferral_slow_down', 'polled too often', { interval: poll.interval });
  return { deferral, interval: poll.interval };
}

/** A final answer spends the code; of racing polls only the one that spends it gives the answer. */
async function finishing<E extends Error>(hash: string, request: GrantRequest, s: BrokerServices, answer: E): Promise<E | InvalidGrant> {
  return (await s.store.deferrals.finish(hash, request.now)) ? answer : new InvalidGrant('deferral_replayed', REFUSED);
}

/** Step: where the access request stands; anything but an approval is an answer without an ID-JAG. */
async function requireApproved(hash: string, deferral: DeferralRecord, interval: number, request: GrantRequest, s: BrokerServices): Promise<void> {
  const task = await s.store.accessRequests.forDenial(deferral.denialId);
  const pending = () => new AuthorizationPending('deferral_pending', 'the access request is not decided yet', { interval });
  if (!task) throw pending();
  request.trail.accessRequest = task.id;
  const status = effectiveStatus(task, request.now);
  if (status === 'pending') throw pending();
  if (status === 'denied') throw await finishing(hash, request, s, new AccessDenied('access_request_denied', 'the access request was denied'));
  if (status === 'cancelled') throw await finishing(hash, request, s, new AccessDenied('access_request_cancelled', 'the access request was cancelled'));
  if (status === 'expired') throw await finishing(hash, request, s, new ExpiredToken('access_request_expired', 'the access request expired before it was decided'));
  if (!(await s.store.deferrals.finish(hash, request.now))) throw new InvalidGrant('deferral_replayed', REFUSED);
}

/**
 * Step: the mint, decided again now: the session (if the subject token rode on one), the client's
 * grant, the mapping and policy, with the approvals the store holds in Cedar's context. Policy may
 * still say no (it changed, the approval ran out): then access_denied, and the code is spent.
 */
async function completeMint(deferral: DeferralRecord, request: GrantRequest, s: BrokerServices): Promise<TokenResponse> {
  const destination = s.settings.destinations.find((d) => d.id === deferral.destination);
  const grant = grantAt(request.client.client, deferral.destination);
  if (!destination || !grant) throw new InvalidGrant('client_not_enabled_for_destination', REFUSED, deferral.destination);
  const subject = await recheckSubject(deferral.subject as unknown as StoredSubject, request, s, REFUSED);
  const translated = deferral.scopes.map((scope) => ({ from: scope, to: scope }));
  request.trail.resource = deferral.resources.join(' ') || undefined;
  try {
    const decision = await decideForSubject({ subject, destination, resources: deferral.resources, grant, translated, clientId: deferral.clientId }, request, s);
    return await mintIdJag(decision, request, s);
  } catch (err) {
    // Asked again after an approval, a requestable refusal means the approval no longer covers it: no new escalation from a poll.
    if (err instanceof RequestableRefusal) throw new AccessDenied('policy_denied', err.description, err.detail);
    throw err;
  }
}

export const deferredGrant: Grant<BrokerServices> = {
  grantType: DEFERRED_GRANT,
  parameters: ['deferral_code'],
  // The ID-JAG is bound to the key of the proof on the poll that delivers it (docs/dpop.md).
  dpop: true,
  async handle(request, s): Promise<TokenResponse> {
    const code = readDeferralCode(request);
    requireConfidentialClient(request);
    await proofOfPossession(request, s);
    const hash = await s.tokenDigest(code);
    const { deferral, interval } = await pollDeferral(hash, request, s);
    await requireApproved(hash, deferral, interval, request, s);
    return completeMint(deferral, request, s);
  },
};
