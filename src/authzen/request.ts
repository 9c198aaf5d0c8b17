import { AUTHZEN_MAX_AMR, AUTHZEN_MAX_DEPTH, AUTHZEN_MAX_EVALUATIONS, AUTHZEN_MAX_PAGE, AUTHZEN_MAX_PAGE_TOKEN, AUTHZEN_MAX_STRING } from './limits.js';
import { BadRequest } from './errors.js';

/**
 * The AuthZEN 1.0 request shapes (§5, §6, §7, §8), read by pure functions. Each throws BadRequest
 * naming the member and the rule it breaks; unknown members are ignored (§12.1.1). Nothing here
 * knows about the broker: the mint profile is read in question.ts.
 */

export type Json = Record<string, unknown>;

export interface Entity {
  type: string;
  id: string;
  properties?: Json;
}

export interface Action {
  name: string;
  properties?: Json;
}

/** One access evaluation request (§6.1): the 4-tuple. */
export interface Evaluation {
  subject: Entity;
  action: Action;
  resource: Entity;
  context?: Json;
}

/** §7.1.2.1. */
export const EVALUATIONS_SEMANTICS = ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'] as const;
export type EvaluationsSemantic = (typeof EVALUATIONS_SEMANTICS)[number];

export type EvaluationsRequest =
  /** No (or an empty) `evaluations` array: behaves as a single evaluation (§7.1). */
  | { single: Evaluation }
  | { evaluations: Evaluation[]; semantic: EvaluationsSemantic };

/** §8.3.1: the page object of a search request. */
export interface PageRequest {
  token?: string;
  limit?: number;
}

export interface ResourceSearch {
  subject: Entity;
  action: Action;
  /** Its `id`, if sent, is ignored (§8.6.1). */
  resource: { type: string; properties?: Json };
  context?: Json;
  page: PageRequest;
}

export interface ActionSearch {
  subject: Entity;
  resource: Entity;
  context?: Json;
  page: PageRequest;
}

/** Decodes a request body: UTF-8, JSON, a top-level object (§12.1.1), nesting bounded. */
export function parseJsonBody(bytes: Uint8Array): Json {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new BadRequest('the body is not UTF-8');
  }
  if (text.trim() === '') throw new BadRequest('the body is empty; a JSON object is required');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequest('the body is not valid JSON');
  }
  if (!isObject(value)) throw new BadRequest('the body must be a JSON object');
  if (depthOf(value) > AUTHZEN_MAX_DEPTH) throw new BadRequest(`the body nests deeper than ${AUTHZEN_MAX_DEPTH} levels`);
  return value;
}

/** Nesting depth of objects and arrays, without recursion (a deep body must not exhaust the stack). */
export function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    max = Math.max(max, depth);
    if (max > AUTHZEN_MAX_DEPTH) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return max;
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A required string member, 1 to AUTHZEN_MAX_STRING characters. */
export function requireString(parent: Json, key: string, path: string): string {
  const value = parent[key];
  if (value === undefined) throw new BadRequest(`${path} is required`);
  return checkString(value, path);
}

export function optionalString(parent: Json, key: string, path: string): string | undefined {
  const value = parent[key];
  return value === undefined ? undefined : checkString(value, path);
}

function checkString(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new BadRequest(`${path} must be a string`);
  if (value.length === 0) throw new BadRequest(`${path} must not be empty`);
  if (value.length > AUTHZEN_MAX_STRING) throw new BadRequest(`${path} is longer than ${AUTHZEN_MAX_STRING} characters`);
  return value;
}

export function optionalObject(parent: Json, key: string, path: string): Json | undefined {
  const value = parent[key];
  if (value === undefined) return undefined;
  if (!isObject(value)) throw new BadRequest(`${path} must be an object`);
  return value;
}

export function requireObject(parent: Json, key: string, path: string): Json {
  if (parent[key] === undefined) throw new BadRequest(`${path} is required`);
  return optionalObject(parent, key, path)!;
}

/** §5.1 / §5.2: `type` and `id` strings, optional `properties` object. `id` is optional only in searches. */
export function readEntity(value: Json, path: string, idRequired = true): Entity {
  const type = requireString(value, 'type', `${path}.type`);
  const id = idRequired ? requireString(value, 'id', `${path}.id`) : (optionalString(value, 'id', `${path}.id`) ?? '');
  const properties = optionalObject(value, 'properties', `${path}.properties`);
  return { type, id, ...(properties ? { properties } : {}) };
}

/** §5.3: a `name` string, optional `properties` object. */
export function readAction(value: Json, path: string): Action {
  const name = requireString(value, 'name', `${path}.name`);
  const properties = optionalObject(value, 'properties', `${path}.properties`);
  return { name, ...(properties ? { properties } : {}) };
}

/** §6.1: the Access Evaluation request. */
export function readEvaluation(body: Json, path = ''): Evaluation {
  const at = (k: string) => (path ? `${path}.${k}` : k);
  const subject = readEntity(requireObject(body, 'subject', at('subject')), at('subject'));
  const action = readAction(requireObject(body, 'action', at('action')), at('action'));
  const resource = readEntity(requireObject(body, 'resource', at('resource')), at('resource'));
  const context = optionalObject(body, 'context', at('context'));
  return { subject, action, resource, ...(context ? { context } : {}) };
}

/**
 * §7.1: the Access Evaluations request. Top-level `subject`, `action`, `resource` and `context`
 * are defaults; a key inside an item replaces the default whole (§7.1.1). Every item is checked
 * before anything is decided, so a malformed item fails the request, never half of it.
 */
export function readEvaluations(body: Json): EvaluationsRequest {
  const list = body.evaluations;
  if (list !== undefined && !Array.isArray(list)) throw new BadRequest('evaluations must be an array');
  const semantic = readSemantic(body);
  if (list === undefined || list.length === 0) return { single: readEvaluation(body) };
  if (list.length > AUTHZEN_MAX_EVALUATIONS) throw new BadRequest(`evaluations has more than ${AUTHZEN_MAX_EVALUATIONS} items`);
  const defaults: Json = {};
  for (const key of ['subject', 'action', 'resource', 'context'] as const) {
    // A default is checked as the type it stands for even when every item overrides it.
    if (body[key] !== undefined && !isObject(body[key])) throw new BadRequest(`${key} must be an object`);
    if (body[key] !== undefined) defaults[key] = body[key];
  }
  const evaluations = list.map((item, i) => {
    const path = `evaluations[${i}]`;
    if (!isObject(item)) throw new BadRequest(`${path} must be an object`);
    for (const key of ['subject', 'action', 'resource'] as const) {
      if (item[key] === undefined && defaults[key] === undefined) throw new BadRequest(`${path}.${key} is required (no top-level ${key} to default to)`);
    }
    return readEvaluation({ ...defaults, ...definedOnly(item) }, path);
  });
  return { evaluations, semantic };
}

function definedOnly(item: Json): Json {
  return Object.fromEntries(Object.entries(item).filter(([, v]) => v !== undefined));
}

/** §7.1.2: `options.evaluations_semantic`, `execute_all` by default; other options are ignored. */
function readSemantic(body: Json): EvaluationsSemantic {
  const options = optionalObject(body, 'options', 'options');
  const value = options?.evaluations_semantic;
  if (value === undefined) return 'execute_all';
  if (typeof value !== 'string' || !(EVALUATIONS_SEMANTICS as readonly string[]).includes(value)) {
    throw new BadRequest(`options.evaluations_semantic must be one of ${EVALUATIONS_SEMANTICS.join(', ')}`);
  }
  return value as EvaluationsSemantic;
}

/** §8.3.1: optional `token` (opaque), optional non-negative integer `limit`, capped. */
export function readPage(body: Json): PageRequest {
  const page = optionalObject(body, 'page', 'page');
  if (!page) return {};
  const token = page.token;
  if (token !== undefined && typeof token !== 'string') throw new BadRequest('page.token must be a string');
  if (typeof token === 'string' && token.length > AUTHZEN_MAX_PAGE_TOKEN) throw new BadRequest('page.token is not one this PDP issued');
  const limit = page.limit;
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0)) throw new BadRequest('page.limit must be a non-negative integer');
  return { ...(token ? { token } : {}), ...(limit !== undefined ? { limit: Math.min(limit, AUTHZEN_MAX_PAGE) } : {}) };
}

/** §8.6.1: the resource's `type` is required, its `id` ignored. */
export function readResourceSearch(body: Json): ResourceSearch {
  const subject = readEntity(requireObject(body, 'subject', 'subject'), 'subject');
  const action = readAction(requireObject(body, 'action', 'action'), 'action');
  const { type, properties } = readEntity(requireObject(body, 'resource', 'resource'), 'resource', false);
  const context = optionalObject(body, 'context', 'context');
  return { subject, action, resource: { type, ...(properties ? { properties } : {}) }, ...(context ? { context } : {}), page: readPage(body) };
}

/** §8.7.1: no `action` (ignored if sent). */
export function readActionSearch(body: Json): ActionSearch {
  const subject = readEntity(requireObject(body, 'subject', 'subject'), 'subject');
  const resource = readEntity(requireObject(body, 'resource', 'resource'), 'resource');
  const context = optionalObject(body, 'context', 'context');
  return { subject, resource, ...(context ? { context } : {}), page: readPage(body) };
}

/** `amr`: an array of at most AUTHZEN_MAX_AMR strings. */
export function readStringArray(parent: Json, key: string, path: string): string[] | undefined {
  const value = parent[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new BadRequest(`${path} must be an array of strings`);
  if (value.length > AUTHZEN_MAX_AMR) throw new BadRequest(`${path} has more than ${AUTHZEN_MAX_AMR} values`);
  return value.map((v, i) => checkString(v, `${path}[${i}]`));
}
