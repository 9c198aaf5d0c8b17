import { MAX_BODY_BYTES } from '../constants.js';
import { InvalidRequest, PayloadTooLarge } from '../oauth/errors.js';
import { readBounded } from './bounded.js';

/** A parsed `application/x-www-form-urlencoded` body that remembers repeated parameters. */
export class FormParams {
  constructor(private readonly values: Map<string, string[]>) {}

  /**
   * Parses `application/x-www-form-urlencoded` text. Unlike URLSearchParams, which turns a
   * percent-encoded byte sequence that is not UTF-8 into U+FFFD and keeps a malformed `%xx` as
   * is, this refuses both (invalid_request): two different encoded values must never decode to
   * the same string (RFC 6749 Appendix B: names and values are UTF-8, percent-encoded).
   */
  static from(text: string): FormParams {
    const values = new Map<string, string[]>();
    for (const pair of text.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
      const value = eq === -1 ? '' : decodeComponent(pair.slice(eq + 1));
      const list = values.get(name);
      if (list) list.push(value);
      else values.set(name, [value]);
    }
    return new FormParams(values);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  names(): string[] {
    return [...this.values.keys()];
  }

  /**
   * The single value of a parameter. RFC 6749 §3.2: "Request and response parameters MUST NOT be
   * included more than once." An empty value counts as absent (RFC 6749 §3.1).
   */
  get(name: string): string | undefined {
    const list = this.values.get(name);
    if (!list) return undefined;
    if (list.length > 1) throw new InvalidRequest('duplicate_parameter', `parameter "${name}" must not be repeated`);
    return list[0] === '' ? undefined : list[0];
  }

  /** For parameters the spec lets repeat (RFC 8693 `resource`, `audience`). Empty values are dropped. */
  all(name: string): string[] {
    return (this.values.get(name) ?? []).filter((v) => v !== '');
  }

  require(name: string): string {
    const value = this.get(name);
    if (value === undefined) throw new InvalidRequest('missing_parameter', `parameter "${name}" is required`);
    return value;
  }
}

/**
 * Reads a form body: content type checked, size bounded while streaming (a lying or missing
 * Content-Length cannot push past the cap), UTF-8 decoded strictly.
 */
/**
 * Reads a request's body bytes up to `maxBytes` (undefined past it), rejecting when the body ends
 * early. The default reads `request.body` (web streams); a runtime may read its own request
 * object more cheaply (Node: runtime/node-body.ts reads the IncomingMessage directly).
 */
export type BodyReader = (maxBytes: number) => Promise<Uint8Array | undefined>;

export async function readForm(request: Request, maxBytes = MAX_BODY_BYTES, readBody?: BodyReader): Promise<FormParams> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new InvalidRequest('bad_content_type', 'the request body must be application/x-www-form-urlencoded');
  }
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw new PayloadTooLarge('body_too_large', 'request body too large');
  // `request.body` is touched only without a runtime reader: on Node, merely reading it builds a web stream.
  const read = readBody ?? (request.body === null ? undefined : (max: number) => readBounded(request.body!, max));
  if (!read) return FormParams.from('');
  let bytes: Uint8Array | undefined;
  try {
    bytes = await read(maxBytes);
  } catch {
    // The stream failed mid-body: the client went away or broke the framing. Its fault, not a server error.
    throw new InvalidRequest('body_incomplete', 'the request body could not be read in full');
  }
  if (!bytes) throw new PayloadTooLarge('body_too_large', 'request body too large');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidRequest('malformed_body', 'the request body is not valid UTF-8');
  }
  return FormParams.from(text);
}

function decodeComponent(encoded: string): string {
  // Most values (tokens, client ids) need no decoding at all.
  if (!encoded.includes('%') && !encoded.includes('+')) return encoded;
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    throw new InvalidRequest('malformed_body', 'the request body is not valid form-urlencoded UTF-8');
  }
}
