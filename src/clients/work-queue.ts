/**
 * Runs at most `concurrency` tasks at once, the others in arrival order. A flood therefore makes
 * everyone wait a little rather than making the process hash without bound, and a correct secret
 * queued behind wrong ones is still verified. Past `maxQueued` waiting tasks `run` refuses with
 * `QueueFull`, so waiting requests cannot grow memory without bound either.
 */
export class QueueFull extends Error {
  constructor() {
    super('work queue full');
    this.name = 'QueueFull';
  }
}

export class WorkQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxQueued: number,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueued) throw new QueueFull();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, so `running` never dips and lets a newcomer jump the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
