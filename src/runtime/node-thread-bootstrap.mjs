// Worker threads start from plain JavaScript: register tsx's loader (the broker runs its
// TypeScript sources through tsx; registering again under `tsx` is harmless), then load the
// thread's real entry module, named by the parent.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
