import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../src/constants.js';
import { FormParams, readForm } from '../../src/http/form.js';
import { InvalidRequest, OAuthError, PayloadTooLarge } from '../../src/oauth/errors.js';

const FORM = 'application/x-www-form-urlencoded';

function post(body: BodyInit | null, headers: Record<string, string> = { 'content-type': FORM }): Request {
  return new Request('https://broker.test/token', { method: 'POST', headers, body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);
}

/** A body that arrives in chunks, whatever any header says about its length. */
function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
}

async function refusal(promise: Promise<unknown>): Promise<OAuthError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OAuthError);
  return err as OAuthError;
}

function thrown(fn: () => unknown): OAuthError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OAuthError);
    return err as OAuthError;
  }
  throw new Error('expected a refusal');
}

describe('FormParams', () => {
  it('reads single values and decodes + and percent-escapes', () => {
    const form = FormParams.from('a=1&b=hello+world&c=%C3%A9t%C3%A9&d=x%2By');
    expect(form.get('a')).toBe('1');
    expect(form.get('b')).toBe('hello world');
    expect(form.get('c')).toBe('été');
    expect(form.get('d')).toBe('x+y');
    expect(form.names()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('treats an empty value as absent (RFC 6749 §3.1)', () => {
    const form = FormParams.from('scope=&audience=&audience=x&flag');
    expect(form.has('scope')).toBe(true);
    expect(form.get('scope')).toBeUndefined();
    expect(form.get('flag')).toBeUndefined();
    expect(form.all('audience')).toEqual(['x']);
    const err = thrown(() => form.require('scope'));
    expect(err).toBeInstanceOf(InvalidRequest);
    expect(err.reason).toBe('missing_parameter');
  });

  it('refuses a repeated parameter on get (RFC 6749 §3.2), even when one copy is empty', () => {
    const form = FormParams.from('scope=a&scope=');
    const err = thrown(() => form.get('scope'));
    expect(err).toBeInstanceOf(InvalidRequest);
    expect(err.reason).toBe('duplicate_parameter');
    expect(err.description).not.toContain('duplicate_parameter');
  });

  it('lets repeatable parameters repeat through all()', () => {
    expect(FormParams.from('resource=a&resource=b').all('resource')).toEqual(['a', 'b']);
    expect(FormParams.from('x=1').all('resource')).toEqual([]);
  });

  it('skips empty pairs', () => {
    const form = FormParams.from('&&a=1&&');
    expect(form.names()).toEqual(['a']);
  });

  it('refuses percent-encoded bytes that are not UTF-8 instead of replacing them', () => {
    const err = thrown(() => FormParams.from('client_secret=%FF'));
    expect(err).toBeInstanceOf(InvalidRequest);
    expect(err.reason).toBe('malformed_body');
  });

  it('refuses an encoded UTF-16 surrogate (not UTF-8)', () => {
    expect(thrown(() => FormParams.from('x=%ED%A0%80')).reason).toBe('malformed_body');
  });

  it('refuses a malformed percent-escape instead of keeping it literally', () => {
    expect(thrown(() => FormParams.from('x=%zz')).reason).toBe('malformed_body');
    expect(thrown(() => FormParams.from('x%=1')).reason).toBe('malformed_body');
  });
});

describe('readForm', () => {
  it('refuses a body whose stream fails mid-way (the client went away) as invalid_request, not an internal error', async () => {
    let sent = false;
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return controller.error(new Error('aborted'));
        sent = true;
        controller.enqueue(new TextEncoder().encode('grant_type=x&sco'));
      },
    });
    const err = await refusal(readForm(post(failing)));
    expect(err).toBeInstanceOf(InvalidRequest);
    expect(err.status).toBe(400);
    expect(err.reason).toBe('body_incomplete');
  });

  it('reads a form body', async () => {
    const form = await readForm(post('grant_type=x&scope=a+b'));
    expect(form.get('grant_type')).toBe('x');
    expect(form.get('scope')).toBe('a b');
  });

  it('accepts the content type with a charset parameter and in any case', async () => {
    expect((await readForm(post('a=1', { 'content-type': `${FORM}; charset=UTF-8` }))).get('a')).toBe('1');
    expect((await readForm(post('a=1', { 'content-type': 'Application/X-WWW-Form-URLEncoded;charset=utf-8' }))).get('a')).toBe('1');
  });

  it('refuses JSON', async () => {
    const err = await refusal(readForm(post('{"a":1}', { 'content-type': 'application/json' })));
    expect(err).toBeInstanceOf(InvalidRequest);
    expect(err.reason).toBe('bad_content_type');
    expect(err.status).toBe(400);
  });

  it('refuses multipart', async () => {
    const err = await refusal(readForm(post('a=1', { 'content-type': 'multipart/form-data; boundary=x' })));
    expect(err.reason).toBe('bad_content_type');
  });

  it('refuses a missing content type', async () => {
    const err = await refusal(readForm(new Request('https://broker.test/token', { method: 'POST', body: new Uint8Array([0x61, 0x3d, 0x31]) })));
    expect(err.reason).toBe('bad_content_type');
  });

  it('refuses a content type that only starts like a form', async () => {
    const err = await refusal(readForm(post('a=1', { 'content-type': `${FORM}x` })));
    expect(err.reason).toBe('bad_content_type');
  });

  it('reads an empty body as no parameters', async () => {
    expect((await readForm(post(null))).names()).toEqual([]);
    expect((await readForm(post(''))).names()).toEqual([]);
  });

  it('accepts a body of exactly the cap', async () => {
    const body = `a=${'x'.repeat(MAX_BODY_BYTES - 2)}`;
    expect((await readForm(post(body))).get('a')).toHaveLength(MAX_BODY_BYTES - 2);
  });

  it('refuses a body one byte over the cap with 413', async () => {
    const err = await refusal(readForm(post(`a=${'x'.repeat(MAX_BODY_BYTES - 1)}`)));
    expect(err).toBeInstanceOf(PayloadTooLarge);
    expect(err.status).toBe(413);
    expect(err.code).toBe('invalid_request');
    expect(err.reason).toBe('body_too_large');
  });

  it('refuses at once when Content-Length declares too much', async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(10));
        controller.close();
      },
    });
    const err = await refusal(readForm(post(body, { 'content-type': FORM, 'content-length': String(MAX_BODY_BYTES + 1) })));
    expect(err.reason).toBe('body_too_large');
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it('counts while streaming: a Content-Length that lies low does not let a large body through', async () => {
    const chunk = new TextEncoder().encode('a'.repeat(16 * 1024));
    const chunks = Array.from({ length: 5 }, () => chunk); // 80 KiB
    const request = post(streamOf(chunks), { 'content-type': FORM, 'content-length': '10' });
    expect(request.headers.get('content-length')).toBe('10');
    const err = await refusal(readForm(request));
    expect(err.status).toBe(413);
    expect(err.reason).toBe('body_too_large');
  });

  it('a streamed body in several chunks under the cap is read whole', async () => {
    const enc = new TextEncoder();
    const request = post(streamOf([enc.encode('a=1&b='), enc.encode('%C3'), enc.encode('%A9')]));
    const form = await readForm(request);
    expect(form.get('a')).toBe('1');
    expect(form.get('b')).toBe('é');
  });

  it('refuses raw bytes that are not UTF-8', async () => {
    const err = await refusal(readForm(post(new Uint8Array([0x61, 0x3d, 0xff, 0xfe]))));
    expect(err).toBeInstanceOf(InvalidRequest);
    expect(err.reason).toBe('malformed_body');
  });

  it('refuses a UTF-8 sequence split badly across chunks', async () => {
    const request = post(streamOf([new Uint8Array([0x61, 0x3d, 0xc3]), new Uint8Array([0x41])]));
    expect((await refusal(readForm(request))).reason).toBe('malformed_body');
  });

  it('refuses percent-encoded invalid UTF-8 in a body', async () => {
    expect((await refusal(readForm(post('subject_token=%C3%28')))).reason).toBe('malformed_body');
  });
});
