import { base64url } from 'jose';
import type { BrokerServices } from '../grants/services.js';
import { decide, decideScope, isPrepared, prepare, reachableScopes } from './decide.js';
import { BadRequest } from './errors.js';
import { AUTHZEN_MAX_PAGE } from './limits.js';
import { ACTION_MINT, RESOURCE_TYPE, readMintQuestion, readMintTarget } from './question.js';
import type { ActionSearch, Json, PageRequest, ResourceSearch } from './request.js';

/**
 * The search APIs Cedar can answer soundly (§8). Resource search: of the scopes a mint through
 * this client could carry at the destination, those every check and Cedar permit, each one an
 * evaluation the PDP would answer `true`. Action search: `mint`, or nothing. Subject search is
 * not offered: answering "who may" would mean evaluating every person the broker has ever
 * recorded, and the store has no such listing (docs/authzen.md).
 */

export interface SearchResponse {
  page: { next_token: string; count: number; total: number };
  results: Json[];
}

export async function searchResources(q: ResourceSearch, body: Json, s: BrokerServices, now: number): Promise<SearchResponse> {
  const target = readMintTarget(q.subject, q.action.name, q.resource.type, q.resource.properties, q.context);
  let results: Json[] = [];
  if (target.ok) {
    const prepared = await prepare(target.target, s, now);
    if (isPrepared(prepared)) {
      const permitted = reachableScopes(prepared).filter((scope) => decideScope(prepared, scope, s).decision);
      const properties = { destination: prepared.destination.id, ...(target.target.resource !== undefined ? { resource: target.target.resource } : {}) };
      results = permitted.map((id) => ({ type: RESOURCE_TYPE, id, properties }));
    }
  }
  return paginate(results, q.page, body);
}

export async function searchActions(q: ActionSearch, body: Json, s: BrokerServices, now: number): Promise<SearchResponse> {
  const question = readMintQuestion({ subject: q.subject, action: { name: ACTION_MINT }, resource: q.resource, ...(q.context ? { context: q.context } : {}) });
  const permitted = question.ok && (await decide(question.ask, s, now)).decision;
  return paginate(permitted ? [{ name: ACTION_MINT }] : [], q.page, body);
}

/**
 * §8.3: a page of at most `limit` results and a `next_token` ("" at the end). The token is the
 * offset and a digest of the query: a token presented with a different query (§8.3.1: "MUST
 * remain identical") is refused. Not a secret: it only says where the PEP's own query resumes.
 */
export async function paginate(results: Json[], page: PageRequest, body: Json): Promise<SearchResponse> {
  const fingerprint = await queryFingerprint(body);
  const offset = page.token !== undefined ? readToken(page.token, fingerprint) : 0;
  if (offset > results.length) throw new BadRequest('page.token is past the end of the results');
  const limit = page.limit ?? AUTHZEN_MAX_PAGE;
  const slice = results.slice(offset, offset + limit);
  const next = offset + slice.length;
  const more = next < results.length;
  return { page: { next_token: more ? writeToken(next, fingerprint) : '', count: slice.length, total: results.length }, results: slice };
}

function writeToken(offset: number, fingerprint: string): string {
  return base64url.encode(`${offset}.${fingerprint}`);
}

function readToken(token: string, fingerprint: string): number {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(base64url.decode(token));
  } catch {
    throw new BadRequest('page.token is not one this PDP issued');
  }
  const m = /^(\d{1,6})\.([A-Za-z0-9_-]{22})$/.exec(text);
  if (!m) throw new BadRequest('page.token is not one this PDP issued');
  if (m[2] !== fingerprint) throw new BadRequest('page.token belongs to a different query; every member but page.token must stay the same');
  return Number(m[1]);
}

/** 128 bits of SHA-256 over the query without `page.token`, members sorted. */
async function queryFingerprint(body: Json): Promise<string> {
  const page = typeof body.page === 'object' && body.page !== null ? { ...(body.page as Json) } : undefined;
  if (page) delete page.token;
  const text = canonical({ ...body, ...(page ? { page } : {}) });
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return base64url.encode(new Uint8Array(digest).slice(0, 16));
}

/** JSON with object members sorted (the body's depth is already bounded). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
