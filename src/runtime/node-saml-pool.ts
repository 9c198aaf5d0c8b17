import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { SAML_VERIFIER_HEAP_MB, SAML_VERIFIER_MAX_THREADS, SAML_VERIFIER_TIMEOUT_MS } from '../upstream/saml/limits.js';
import type { SamlResponseVerifier, SamlVerifierFactory, SamlVerifierSetup, SamlVerifyOutcome } from '../upstream/saml/verifier.js';
import type { FromThread, ToThread } from './node-saml-thread.js';

/**
 * A small, bounded pool of worker threads that run the stateless half of the SAML ACS
 * (parse, structural checks, signatures: upstream/saml/verifier.ts), so the main thread only
 * copies a string out and a plain result back. At most `size` verifications run at once, one per
 * thread; the rest wait in order. A thread that crashes, exits or overruns its time refuses its
 * login (`verifier_failed`) and is replaced on the next verification: fail closed, never a 500.
 *
 * Connection setups (plain data) are sent to a thread the first time it verifies for that
 * connection; identical setups share one key, so brokers rebuilt in one process do not pile up.
 * A setup is counted by the verifiers holding it and the verifications in flight with it: when a
 * connection replaces its metadata (metadata-source.ts) and releases the old verifier, the old
 * setup is dropped here and in every thread once nothing uses it.
 */

export interface SamlVerifierPoolOptions {
  /** Threads; default min(SAML_VERIFIER_MAX_THREADS, cores). */
  size?: number;
  timeoutMs?: number;
  /** The thread's entry module (tests substitute one that can crash on demand). */
  entry?: URL;
}

export interface SamlVerifierPoolStats {
  size: number;
  threads: number;
  /** Threads still starting (not yet ready to verify). */
  starting: number;
  busy: number;
  queued: number;
  /** The most verifications ever running at once. */
  peakBusy: number;
  /** Threads that ended other than by close(): crashes, exits, timeouts. */
  replaced: number;
}

interface Job {
  id: number;
  key: string;
  samlResponse: string;
  now: number;
  resolve: (outcome: SamlVerifyOutcome) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job?: Job;
  timer?: NodeJS.Timeout;
  /** Setup keys this thread has been sent. */
  known: Set<string>;
}

// From the sources (tsx) the thread's entry is TypeScript and starts through a bootstrap that
// registers tsx's loader; from the build (dist/, scripts/build.mjs) it is plain JavaScript.
const BOOTSTRAP = new URL('./node-thread-bootstrap.mjs', import.meta.url);
const THREAD_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './node-saml-thread.ts' : './node-saml-thread.js', import.meta.url);

const failed = (detail: string): SamlVerifyOutcome => ({ ok: false, reason: { code: 'verifier_failed', detail } });

export class SamlVerifierPool {
  readonly size: number;
  private readonly timeoutMs: number;
  private readonly entry: URL;
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private readonly setups = new Map<string, SamlVerifierSetup>();
  private readonly keys = new Map<string, string>();
  /** Per setup key: verifiers holding it plus verifications queued or running with it. */
  private readonly refs = new Map<string, number>();
  private nextId = 0;
  private nextKey = 0;
  private peakBusy = 0;
  private replaced = 0;
  private closed = false;

  constructor(options: SamlVerifierPoolOptions = {}) {
    this.size = Math.max(1, options.size ?? Math.min(SAML_VERIFIER_MAX_THREADS, availableParallelism()));
    this.timeoutMs = options.timeoutMs ?? SAML_VERIFIER_TIMEOUT_MS;
    this.entry = options.entry ?? THREAD_ENTRY;
  }

  /** The factory a SAML connection takes (SamlConnectionDeps.verifier). */
  readonly factory: SamlVerifierFactory = (setup) => this.verifierFor(setup);

  verifierFor(setup: SamlVerifierSetup): SamlResponseVerifier {
    const text = JSON.stringify(setup);
    let key = this.keys.get(text);
    if (!key) {
      key = `${setup.connectionId}#${++this.nextKey}`;
      this.keys.set(text, key);
      this.setups.set(key, setup);
    }
    const k = key;
    this.hold(k);
    let released = false;
    return {
      verify: (samlResponse, now) => this.run(k, samlResponse, now),
      release: () => {
        if (released) return;
        released = true;
        this.drop(k);
      },
    };
  }

  /** Setups held (by verifiers or verifications in flight), for tests. */
  setupCount(): number {
    return this.setups.size;
  }

  private hold(key: string): void {
    this.refs.set(key, (this.refs.get(key) ?? 0) + 1);
  }

  private drop(key: string): void {
    const left = (this.refs.get(key) ?? 1) - 1;
    if (left > 0) {
      this.refs.set(key, left);
      return;
    }
    this.refs.delete(key);
    const setup = this.setups.get(key);
    this.setups.delete(key);
    if (setup) this.keys.delete(JSON.stringify(setup));
    for (const slot of this.slots) {
      if (!slot.known.delete(key)) continue;
      slot.worker.postMessage({ type: 'forget', key } satisfies ToThread);
    }
  }

  stats(): SamlVerifierPoolStats {
    const busy = [...this.slots].filter((s) => s.job).length;
    const starting = [...this.slots].filter((s) => !s.ready).length;
    return { size: this.size, threads: this.slots.size, starting, busy, queued: this.queue.length, peakBusy: this.peakBusy, replaced: this.replaced };
  }

  /** Ends every thread; pending verifications are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.resolve(failed('the verifier pool is closed'));
    await Promise.all([...this.slots].map((slot) => this.retire(slot, 'the verifier pool is closed', false)));
  }

  private run(key: string, samlResponse: string, now: number): Promise<SamlVerifyOutcome> {
    if (this.closed) return Promise.resolve(failed('the verifier pool is closed'));
    this.hold(key);
    return new Promise<SamlVerifyOutcome>((resolve) => {
      this.queue.push({ id: ++this.nextId, key, samlResponse, now, resolve });
      this.pump();
    }).finally(() => this.drop(key));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const idle = [...this.slots].find((s) => s.ready && !s.job);
      if (idle) {
        this.dispatch(idle, this.queue.shift()!);
        continue;
      }
      // A thread still starting will take the next job when ready.
      const starting = [...this.slots].filter((s) => !s.ready).length;
      if (this.slots.size < this.size && starting < this.queue.length) {
        this.spawn();
        continue;
      }
      return;
    }
  }

  private spawn(): void {
    const worker = new Worker(this.entry.pathname.endsWith('.ts') ? BOOTSTRAP : this.entry, {
      workerData: { entry: this.entry.href },
      resourceLimits: { maxOldGenerationSizeMb: SAML_VERIFIER_HEAP_MB },
      // stdout/stderr are left as the process's: piping them would keep an idle process alive
      // (the thread itself writes nothing; its errors come back as a name in the refusal).
    });
    const slot: Slot = { worker, ready: false, known: new Set() };
    this.slots.add(slot);
    worker.on('message', (message: FromThread) => this.onMessage(slot, message));
    // 'error' (an uncaught exception, a heap limit) is followed by 'exit'; one handler suffices.
    worker.on('error', () => undefined);
    worker.on('exit', () => {
      if (!this.slots.has(slot)) return;
      this.slots.delete(slot);
      this.replaced++;
      clearTimeout(slot.timer);
      slot.job?.resolve(failed('the verification thread ended'));
      slot.job = undefined;
      // A thread that died before it was ready leaves its queue waiting: refuse one job, so a
      // thread that can never start does not leave logins hanging, then try again for the rest.
      if (!slot.ready) this.queue.shift()?.resolve(failed('the verification thread did not start'));
      if (!this.closed) this.pump();
    });
  }

  private onMessage(slot: Slot, message: FromThread): void {
    if (message.type === 'ready') {
      slot.ready = true;
      this.pump();
      if (!slot.job) slot.worker.unref();
      return;
    }
    const job = slot.job;
    if (!job || job.id !== message.id) return;
    clearTimeout(slot.timer);
    slot.job = undefined;
    slot.worker.unref();
    job.resolve(message.type === 'done' ? message.outcome : failed(`the verification thread threw ${message.error}`));
    this.pump();
  }

  private dispatch(slot: Slot, job: Job): void {
    slot.job = job;
    // A verification in flight keeps the process alive; an idle thread does not.
    slot.worker.ref();
    const busy = [...this.slots].filter((s) => s.job).length;
    this.peakBusy = Math.max(this.peakBusy, busy);
    if (!slot.known.has(job.key)) {
      slot.worker.postMessage({ type: 'setup', key: job.key, setup: this.setups.get(job.key)! } satisfies ToThread);
      slot.known.add(job.key);
    }
    slot.worker.postMessage({ type: 'verify', id: job.id, key: job.key, samlResponse: job.samlResponse, now: job.now } satisfies ToThread);
    slot.timer = setTimeout(() => void this.retire(slot, 'the verification took too long', true), this.timeoutMs);
    slot.timer.unref();
  }

  private async retire(slot: Slot, why: string, replaced: boolean): Promise<void> {
    if (!this.slots.has(slot)) return;
    this.slots.delete(slot);
    if (replaced) this.replaced++;
    clearTimeout(slot.timer);
    slot.job?.resolve(failed(why));
    slot.job = undefined;
    await slot.worker.terminate();
    if (!this.closed) this.pump();
  }
}
