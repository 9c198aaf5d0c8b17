import type { Context, Hono } from 'hono';
import type { BrokerServices } from '../grants/services.js';
import { readBounded } from '../http/bounded.js';
import { authenticateCaller, type CallerRole } from './caller.js';
import { explain, readExplainAsk, EXPLAIN_PATH } from './explain.js';
import { decide, deny, type Decision, type Prepared } from './decide.js';
import { AuthzenError, authzenErrorResponse, BadRequest, NotAllowed, PayloadTooLarge, UnsupportedMediaType } from './errors.js';
import { AUTHZEN_MAX_BODY_BYTES, AUTHZEN_MAX_REQUEST_ID } from './limits.js';
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

type Answer = (body: Json, s: BrokerServices, now: number) => Promise<{ response: Json; decisions: Decision[] }>;

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
}

async function endpoint(c: Context, name: string, answer: Answer, deps: AuthzenDeps, role: CallerRole = 'authzen'): Promise<Response> {
  const { services: s } = deps;
  const now = deps.clock();
  const sent = c.req.header('x-request-id');
  const validId = sent !== undefined && sent.length > 0 && sent.length <= AUTHZEN_MAX_REQUEST_ID && /^[\x21-\x7E]+$/.test(sent);
  // §12.1.3: the PEP's identifier comes back; without one, the broker's own (as elsewhere).
  const headers = { 'Cache-Control': 'no-store', 'X-Request-ID': validId ? sent : crypto.randomUUID() };
  try {
    if (sent !== undefined && !validId) throw new BadRequest(`X-Request-ID must be 1 to ${AUTHZEN_MAX_REQUEST_ID} visible ASCII characters`);
    const caller = await authenticateCaller(c.req.header('authorization'), s, now, deps.sourceOf(c), role);
    requireJson(c.req.header('content-type'));
    const body = parseJsonBody(await readBody(c.req.raw));
    const { response, decisions } = await answer(body, s, now);
    s.logger.info({ requestId: headers['X-Request-ID'], event: 'authzen', endpoint: name, caller: caller.client.client_id, decisions: decisions.length, permits: decisions.filter((d) => d.decision).length }, 'pdp answered');
    return new Response(JSON.stringify(response), { status: 200, headers: { 'Content-Type': 'application/json', ...headers } });
  } catch (err) {
    if (!(err instanceof AuthzenError)) throw err;
    s.logger.info({ requestId: headers['X-Request-ID'], event: 'authzen_error', endpoint: name, status: err.status, message: err.message }, 'pdp refused the request');
    return authzenErrorResponse(err, headers);
  }
}

/** Step: §12.1 "Requests MUST include a Content-Type header with the value application/json". */
function requireJson(contentType: string | undefined) {
  const type = contentType?.split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new UnsupportedMediaType('Content-Type must be application/json');
}

/** Step: the body, refused past the cap while it streams (a lying Content-Length changes nothing). */
async function readBody(req: Request): Promise<Uint8Array> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > AUTHZEN_MAX_BODY_BYTES) throw new PayloadTooLarge(`the body is larger than ${AUTHZEN_MAX_BODY_BYTES} bytes`);
  if (!req.body) return new Uint8Array();
  const bytes = await readBounded(req.body, AUTHZEN_MAX_BODY_BYTES);
  if (!bytes) throw new PayloadTooLarge(`the body is larger than ${AUTHZEN_MAX_BODY_BYTES} bytes`);
  return bytes;
}

/** One evaluation: a well-formed question the broker has no policy for is a deny, not an error. */
async function evaluate(e: Evaluation, s: BrokerServices, now: number): Promise<Decision> {
  const question = readMintQuestion(e);
  return question.ok ? decide(question.ask, s, now) : deny(question.reason);
}

const answerEvaluation: Answer = async (body, s, now) => {
  const decision = await evaluate(readEvaluation(body), s, now);
  return { response: { ...decision }, decisions: [decision] };
};

/**
 * §7: every item is read (and the mint members of each checked) before any is decided; then
 * they are decided in order, stopping after the first deny or permit if the semantic says so.
 * Results are in request order, and with a short-circuit, only up to the deciding one.
 */
const answerEvaluations: Answer = async (body, s, now) => {
  const request = readEvaluations(body);
  if ('single' in request) return answerEvaluation(body, s, now);
  const questions = request.evaluations.map((e, i) => readMintQuestion(e, `evaluations[${i}]`));
  const decisions: Decision[] = [];
  const memo = new Map<string, Promise<Prepared | Decision>>();
  for (const q of questions) {
    const decision = q.ok ? await decide(q.ask, s, now, memo) : deny(q.reason);
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
