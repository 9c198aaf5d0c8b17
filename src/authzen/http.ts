import type { Context } from 'hono';
import { readBounded } from '../http/bounded.js';
import { BadRequest, PayloadTooLarge, UnsupportedMediaType } from './errors.js';
import { AUTHZEN_MAX_BODY_BYTES, AUTHZEN_MAX_REQUEST_ID } from './limits.js';

/**
 * Steps every AuthZEN endpoint shares (the PDP's and the access request endpoints): the request
 * id, the media type and the bounded body.
 */

/** The headers of every answer, and whether the sent `X-Request-ID` was one the broker echoes. */
export function answerHeaders(c: Context): { headers: { 'Cache-Control': string; 'X-Request-ID': string }; badRequestId: boolean } {
  const sent = c.req.header('x-request-id');
  const validId = sent !== undefined && sent.length > 0 && sent.length <= AUTHZEN_MAX_REQUEST_ID && /^[\x21-\x7E]+$/.test(sent);
  // §12.1.3: the PEP's identifier comes back; without one, the broker's own (as elsewhere).
  return { headers: { 'Cache-Control': 'no-store', 'X-Request-ID': validId ? sent : crypto.randomUUID() }, badRequestId: sent !== undefined && !validId };
}

/** Step: a sent X-Request-ID that cannot be echoed is refused. */
export function requireValidRequestId(bad: boolean) {
  if (bad) throw new BadRequest(`X-Request-ID must be 1 to ${AUTHZEN_MAX_REQUEST_ID} visible ASCII characters`);
}

/** Step: §12.1 "Requests MUST include a Content-Type header with the value application/json". */
export function requireJson(contentType: string | undefined) {
  const type = contentType?.split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new UnsupportedMediaType('Content-Type must be application/json');
}

/** Step: the body, refused past the cap while it streams (a lying Content-Length changes nothing). */
export async function readBody(req: Request): Promise<Uint8Array> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > AUTHZEN_MAX_BODY_BYTES) throw new PayloadTooLarge(`the body is larger than ${AUTHZEN_MAX_BODY_BYTES} bytes`);
  if (!req.body) return new Uint8Array();
  const bytes = await readBounded(req.body, AUTHZEN_MAX_BODY_BYTES);
  if (!bytes) throw new PayloadTooLarge(`the body is larger than ${AUTHZEN_MAX_BODY_BYTES} bytes`);
  return bytes;
}
