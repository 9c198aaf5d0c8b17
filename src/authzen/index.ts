import type { Context, Hono } from 'hono';
import type { BrokerServices } from '../grants/services.js';
import { mountAccessRequests } from './access-requests.js';
import { authenticateCaller, type CallerRole } from './caller.js';
import { explain, readExplainAsk, EXPLAIN_PATH } from './explain.js';
import { decide, deny, isRequestable, type Decision, type Prepared } from './decide.js';
import { newDenial, subjectLabelOf } from '../governance/denial.js';
import { accessRequestObject, rfc3339 } from '../governance/escalation.js';
import { AuthzenError, authzenErrorResponse, NotAllowed } from './errors.js';
import { answerHeaders, readBody, requireJson, requireValidRequestId } from './http.js';
import { AUTHZEN_METADATA_PATH, EVALUATION_PATH, EVALUATIONS_PATH, pdpMetadata, SEARCH_ACTION_PATH, SEARCH_RESOURCE_PATH } from './metadata.js';
import { readMintQuestion } from './question.js';
import { parseJsonBody, readActionSearch, readEvaluation, readEvaluations, readResourceSearch, type Evaluation, type EvaluationsSemantic, type Json } from './request.js';
import { searchActions, searchResources } from './search.js';

/**
 * The broker as an AuthZEN 1.0 PDP (docs/authzen.md): the mint path's decisions, asked without
 * minting. Each endpoint is the same ordered steps: request id, caller, media type, bounded
 * body, shape, answer. Decisions are not audit records (nothing is minted or changed); each
 * request leaves one log line.
 */

export interface AuthzenDeps {
  services: BrokerServices;
  clock: () => number;
  /** The request's source for the client authenticator's failure budget (http/source.ts). */
  sourceOf: (c: Context) => string;
}

/** `caller`: the authenticated client asking (a PEP): it may submit the access requests its requestable denials lead to. */
type Answer = (body: Json, s: BrokerServices, now: number, caller: string) => Promise<{ response: Json; decisions: Decision[] }>;

export function mountAuthzen(app: Hono, deps: AuthzenDeps) {
  const metadata = pdpMetadata(deps.services.settings.issuer);
  app.get(AUTHZEN_METADATA_PATH, (c) => c.json(metadata));
  const endpoints: Array<[string, string, Answer]> = [
    [EVALUATION_PATH, 'evaluation', answerEvaluation],
    [EVALUATIONS_PATH, 'evaluations', answerEvaluations],
    [SEARCH_RESOURCE_PATH, 'search_resource', answerResourceSearch],
    [SEARCH_ACTION_PATH, 'search_action', answerActionSearch],
  ];
  for (const [path, name, answer] of endpoints) {
    app.post(path, (c) => endpoint(c, name, answer, deps));
    app.all(path, () => authzenErrorResponse(new NotAllowed('use POST'), { 'Cache-Control': 'no-store' }));
  }
  // Beside the PDP and built on its decisions, but for operators: it tells what the broker believes of a person.
  app.post(EXPLAIN_PATH, (c) => endpoint(c, 'explain', answerExplain, deps, 'admin'));
  app.all(EXPLAIN_PATH, () => authzenErrorResponse(new NotAllowed('use POST'), { 'Cache-Control': 'no-store' }));
  // The Access Request profile's endpoints: what a requestable denial leads to.
  mountAccessRequests(app, deps);
}

async function endpoint(c: Context, name: string, answer: Answer, deps: AuthzenDeps, role: CallerRole = 'authzen'): Promise<Response> {
  const { services: s } = deps;
  const now = deps.clock();
  const { headers, badRequestId } = answerHeaders(c);
  try {
    requireValidRequestId(badRequestId);
    const caller = await authenticateCaller(c.req.header('authorization'), s, now, deps.sourceOf(c), role);
    requireJson(c.req.header('content-type'));
    const body = parseJsonBody(await readBody(c.req.raw));
    const { response, decisions } = await answer(body, s, now, caller.client.client_id);
    s.logger.info({ requestId: headers['X-Request-ID'], event: 'authzen', endpoint: name, caller: caller.client.client_id, decisions: decisions.length, permits: decisions.filter((d) => d.decision).length }, 'pdp answered');
    return new Response(JSON.stringify(response), { status: 200, headers: { 'Content-Type': 'application/json', ...headers } });
  } catch (err) {
    if (!(err instanceof AuthzenError)) throw err;
    s.logger.info({ requestId: headers['X-Request-ID'], event: 'authzen_error', endpoint: name, status: err.status, message: err.message }, 'pdp refused the request');
    return authzenErrorResponse(err, headers);
  }
}

/** One evaluation: a well-formed question the broker has no policy for is a deny, not an error. */
async function evaluate(e: Evaluation, s: BrokerServices, now: number): Promise<Decision> {
  const question = readMintQuestion(e);
  return question.ok ? decide(question.ask, s, now) : deny(question.reason);
}

const answerEvaluation: Answer = async (body, s, now, caller) => {
  const decision = await onTheWire(await evaluate(readEvaluation(body), s, now), s, now, caller);
  return { response: { ...decision }, decisions: [decision] };
};

/**
 * A requestable denial as the AuthZEN Access Request profile sends it: `decision: false` (a denial
 * stays a denial) with `evaluation_id`, `evaluated_at` and `access_request` in the context, its
 * `request_context` signed by the broker and submittable by the PEP that asked. Every other
 * decision goes out as decided.
 */
async function onTheWire(d: Decision, s: BrokerServices, now: number, caller: string): Promise<Decision> {
  if (!isRequestable(d)) return d;
  const { prepared: p, scope, policies } = d.requestable;
  const { identity, target, destination } = p;
  const denial = newDenial(
    {
      clientId: target.clientId,
      submitter: caller,
      principalId: identity.principalId,
      upstreamIssuer: identity.upstreamIssuer,
      subjectLabel: subjectLabelOf(identity),
      destination: destination.id,
      resources: target.resource !== undefined ? [target.resource] : [],
      scopes: [scope],
      policies,
    },
    now,
  );
  return {
    decision: false,
    context: { reason: 'approval_required', evaluation_id: denial.id, evaluated_at: rfc3339(now), access_request: await accessRequestObject(denial, s.settings.issuer, s.keys) },
  };
}

/**
 * §7: every item is read (and the mint members of each checked) before any is decided; then
 * they are decided in order, stopping after the first deny or permit if the semantic says so.
 * Results are in request order, and with a short-circuit, only up to the deciding one.
 */
const answerEvaluations: Answer = async (body, s, now, caller) => {
  const request = readEvaluations(body);
  if ('single' in request) return answerEvaluation(body, s, now, caller);
  const questions = request.evaluations.map((e, i) => readMintQuestion(e, `evaluations[${i}]`));
  const decisions: Decision[] = [];
  const memo = new Map<string, Promise<Prepared | Decision>>();
  for (const q of questions) {
    const decision = await onTheWire(q.ok ? await decide(q.ask, s, now, memo) : deny(q.reason), s, now, caller);
    decisions.push(decision);
    if (stops(request.semantic, decision)) break;
  }
  return { response: { evaluations: decisions }, decisions };
};

function stops(semantic: EvaluationsSemantic, d: Decision): boolean {
  return (semantic === 'deny_on_first_deny' && !d.decision) || (semantic === 'permit_on_first_permit' && d.decision);
}

const answerResourceSearch: Answer = async (body, s, now) => {
  const response = await searchResources(readResourceSearch(body), body, s, now);
  return { response: { ...response }, decisions: [] };
};

const answerActionSearch: Answer = async (body, s, now) => {
  const response = await searchActions(readActionSearch(body), body, s, now);
  return { response: { ...response }, decisions: [] };
};

const answerExplain: Answer = async (body, s, now) => {
  const explanation = await explain(readExplainAsk(body), s, now);
  return { response: { ...explanation }, decisions: [{ decision: explanation.decision }] };
};
