import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import type { BodyReader } from '../http/form.js';

/**
 * The token endpoint's body on Node, read from the IncomingMessage that @hono/node-server passes as
 * `c.env.incoming`, without building the web Request's ReadableStream (a sixth of a warm mint's
 * CPU, docs/benchmark.md). The same contract as reading `request.body`: at most `maxBytes` (past
 * it: undefined, and the rest is drained unbuffered), rejecting when the client stops mid-body.
 * Undefined when there is no IncomingMessage (app.request in tests) or it was already read.
 */
export function nodeBodyReader(c: Context): BodyReader | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || incoming.readableDidRead || incoming.readableEnded) return undefined;
  return (maxBytes) =>
    new Promise<Uint8Array | undefined>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        incoming.off('data', onData);
        incoming.off('end', onEnd);
        incoming.off('error', onError);
        incoming.off('close', onClose);
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxBytes) return void chunks.push(chunk);
        done();
        // Drain what is left without keeping it, so the response can still be written.
        incoming.resume();
        resolve(undefined);
      };
      const onEnd = () => {
        done();
        resolve(chunks.length === 1 ? new Uint8Array(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.length) : new Uint8Array(Buffer.concat(chunks, size)));
      };
      const onError = (err: Error) => {
        done();
        reject(err);
      };
      // Closed before the end: the client went away mid-body.
      const onClose = () => {
        if (incoming.readableEnded) return;
        done();
        reject(new Error('the request body ended early'));
      };
      incoming.on('data', onData);
      incoming.on('end', onEnd);
      incoming.on('error', onError);
      incoming.on('close', onClose);
    });
}
