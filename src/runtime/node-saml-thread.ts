import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { VerifyContext } from '../upstream/saml/response.js';
import { verifyContextOf, verifyOutcome, type SamlVerifierSetup, type SamlVerifyOutcome } from '../upstream/saml/verifier.js';

/**
 * A SAML verification thread (started by node-saml-pool.ts). It keeps each connection's setup
 * and builds its context (metadata parsed, key imported) on first use, then answers one
 * verification at a time with plain data. Errors other than refusals answer `failed` with the
 * error's name only: no message or stack leaves the thread.
 */

export type ToThread =
  | { type: 'setup'; key: string; setup: SamlVerifierSetup }
  | { type: 'forget'; key: string }
  | { type: 'verify'; id: number; key: string; samlResponse: string; now: number };

export type FromThread = { type: 'ready' } | { type: 'done'; id: number; outcome: SamlVerifyOutcome } | { type: 'failed'; id: number; error: string };

export function serveSamlVerifier(port: MessagePort, before?: (message: Extract<ToThread, { type: 'verify' }>) => void): void {
  const setups = new Map<string, SamlVerifierSetup>();
  const contexts = new Map<string, Omit<VerifyContext, 'now'>>();
  const reply = (message: FromThread) => port.postMessage(message);

  port.on('message', async (message: ToThread) => {
    if (message.type === 'setup') {
      setups.set(message.key, message.setup);
      return;
    }
    if (message.type === 'forget') {
      // The connection's metadata was replaced: the old copy and its keys go.
      setups.delete(message.key);
      contexts.delete(message.key);
      return;
    }
    try {
      before?.(message);
      let ctx = contexts.get(message.key);
      if (!ctx) {
        const setup = setups.get(message.key);
        if (!setup) throw new Error('unknown connection setup');
        contexts.set(message.key, (ctx = verifyContextOf(setup)));
      }
      reply({ type: 'done', id: message.id, outcome: await verifyOutcome(ctx, message.samlResponse, message.now) });
    } catch (err) {
      reply({ type: 'failed', id: message.id, error: err instanceof Error ? err.name : 'non-error thrown' });
    }
  });
  reply({ type: 'ready' });
}

// Only as the thread's entry (a test's entry may import this module and serve with a hook).
if (parentPort && (workerData as { entry?: unknown } | null)?.entry === import.meta.url) serveSamlVerifier(parentPort);
