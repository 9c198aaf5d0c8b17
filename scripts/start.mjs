// `npm start`: the broker from compiled JavaScript. Builds dist/ first when it is missing or older
// than a source (esbuild, well under a second), then runs it in this same process: one Node
// start-up, not two. Development runs the sources through tsx instead: `npm run dev`.
import { ensureBuilt } from './build.mjs';

try {
  await ensureBuilt();
} catch (err) {
  console.error(`xaa-broker will not start: the build failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const { main } = await import('../dist/runtime/node.js');
main();
