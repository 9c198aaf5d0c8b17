// `npm start`: the broker from compiled JavaScript. Builds dist/ first when it is missing or older
// than a source (esbuild, well under a second), then runs it in this same process: one Node
// start-up, not two. Development runs the sources through tsx instead: `npm run dev`.
import { setFlagsFromString } from 'node:v8';
import { ensureBuilt } from './build.mjs';

// Cedar is a ~4 MB WebAssembly module. V8 compiles each function with its baseline compiler
// (Liftoff) on first call, then re-compiles with its optimising compiler (TurboFan) the ones that
// spend their tiering budget; at V8's default budget, loading the policies alone tiers up enough of
// Cedar's parser to cost ~45 MB of code in the serving process. A budget 100 times larger leaves
// the parser (run once, at start) on baseline code, and evaluation, which decisions are memoised
// for, as fast as before (docs/benchmark.md, "Memory"). Set before Cedar is compiled: it is read
// when the module is.
setFlagsFromString('--wasm-tiering-budget=180000000');

try {
  await ensureBuilt();
} catch (err) {
  console.error(`xaa-broker will not start: the build failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const { main } = await import('../dist/runtime/node.js');
main();
