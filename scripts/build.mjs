// The production build: the Node runtime (src/runtime/node.ts, the entries of its threads, and the
// `xaa-broker` command, src/cli.ts) bundled by esbuild into dist/runtime/, so `npm start` and the
// installed package run plain JavaScript (no TypeScript loader; development keeps tsx: `npm run
// dev`); the package's library entries (the broker, `xaa-broker/destination`) into dist/lib/; and,
// with --declarations (`npm run build`, and so `npm pack`), their .d.ts files into dist/types/ by
// tsc (esbuild emits none). See docs/operations.md.
//
//   node scripts/build.mjs                build the JavaScript (what `npm start` needs)
//   node scripts/build.mjs --declarations and the declarations (`npm run build`; tsc, seconds)
//   node scripts/build.mjs --outdir X     build into X (directly under the project root) instead
//   node scripts/build.mjs --if-stale     build only when a source is newer than dist/ (what `npm start` does first)
//
// Packages that find files next to their own code at run time (native addons, WebAssembly,
// schemas) stay external and load from node_modules; everything else is bundled.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/[\\/]$/, '');
const outdir = join(root, 'dist');
const stamp = join(outdir, '.built');

export const EXTERNAL = [
  'better-sqlite3', // native addon
  '@cedar-policy/cedar-wasm', // reads its .wasm next to itself
  'xmllint-wasm', // .wasm and a worker script next to itself
  '@authenio/samlify-xmllint-wasm', // XML schemas next to itself
];

/** The Node runtime's entries; the command's output sits in runtime/ with the others (the bin: dist/runtime/cli.js). */
const NODE_ENTRIES = [
  'src/runtime/node.ts',
  'src/runtime/node-saml-thread.ts',
  'src/runtime/node-wal-checkpoint-thread.ts',
  { in: 'src/cli.ts', out: 'runtime/cli' },
];

/** The package's library entries (package.json `exports`), and the sources of their declarations (scripts/tsconfig.build.json). */
const LIBRARY_ENTRIES = [
  { in: 'src/app.ts', out: 'app' },
  { in: 'src/destination/index.ts', out: 'destination' },
];

/**
 * In the bundle, each module of src/ keeps the `import.meta.url` it would have at its mirrored
 * place under dist/ (src/store/adapters/sqlite.ts → dist/store/adapters/sqlite.js), so paths it
 * resolves relative to itself (the migrations, the SAML thread's entry) hold as in the sources.
 */
function sourceUrls() {
  return {
    name: 'source-urls',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async ({ path }) => {
        if (!path.startsWith(join(root, 'src') + sep)) return undefined;
        const text = await readFile(path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const mirrored = relative(join(root, 'src'), path).split(sep).join('/').replace(/\.ts$/, '.js');
        // Output files sit in dist/runtime/: one level up is dist/.
        return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(`../${mirrored}`)}, import.meta.url).href`), loader: 'ts' };
      });
    },
  };
}

/** What the build reads: a change to any of these makes dist/ stale. */
function inputs() {
  const files = [join(root, 'package.json'), join(root, 'package-lock.json'), fileURLToPath(import.meta.url), join(root, 'scripts', 'tsconfig.build.json')];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(path);
    }
  };
  // An installed package ships dist/ and no sources: nothing to compare.
  if (existsSync(join(root, 'src'))) walk(join(root, 'src'));
  return files.filter((f) => existsSync(f));
}

export function isStale() {
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  return inputs().some((f) => statSync(f).mtimeMs > built);
}

/**
 * Builds into `outdir` (a directory directly under the project root, so that mirrored module
 * places resolve the same paths as the sources: dist/store/adapters → ../../../migrations), first
 * in a sibling directory then renamed over it, so a running broker never sees half a build.
 */
export async function build({ outdir: target = outdir, declarations = false } = {}) {
  if (dirname(target) !== root) throw new Error(`the build directory must be directly under ${root}`);
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new NotInstalled('esbuild is not installed (a devDependency): run `npm install`, or build where it is and ship dist/');
  }
  const staging = `${target}.building-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    const runtime = esbuild.build({
      absWorkingDir: root,
      entryPoints: NODE_ENTRIES,
      outbase: 'src',
      outdir: staging,
      // Every output file in <outdir>/runtime/, so sourceUrls() can name a module's mirrored place.
      chunkNames: 'runtime/[name]-[hash]',
      plugins: [sourceUrls()],
      bundle: true,
      // Shared code in chunks; dynamic imports (SAML) become chunks read only when used.
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      external: EXTERNAL,
      // Bundled CommonJS packages call require(): give each ESM output file one.
      banner: { js: "import { createRequire as __xaaCreateRequire } from 'node:module'; const require = __xaaCreateRequire(import.meta.url);" },
      // Names are not minified, so classes and functions keep theirs; the one the bundle renames to
      // avoid a clash (hono's Request) is never read by name. keepNames would wrap every closure
      // created per request in a naming call: 3–4 % of the warm mint's CPU (docs/benchmark.md).
      keepNames: false,
      minifySyntax: true,
      minifyWhitespace: true,
      sourcemap: 'linked',
      legalComments: 'linked',
      logLevel: 'warning',
    });
    // The library entries, beside (`npm start` builds when stale: the two builds run at once).
    const library = esbuild.build({
      absWorkingDir: root,
      entryPoints: LIBRARY_ENTRIES,
      outdir: join(staging, 'lib'),
      chunkNames: 'chunks/[name]-[hash]',
      bundle: true,
      // One copy of what both entries share (the error classes `instanceof` relies on).
      splitting: true,
      format: 'esm',
      // Web standards only (the core and the kit run on Node, workerd and in browsers): no Node
      // built-in can slip in, and no banner; the dependencies stay imports the consumer resolves.
      platform: 'neutral',
      packages: 'external',
      target: 'es2022',
      sourcemap: 'linked',
      legalComments: 'linked',
      logLevel: 'warning',
    });
    // Both finished before the staging directory can be removed on a failure.
    const failed = (await Promise.allSettled([runtime, library])).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (declarations) await emitDeclarations(join(staging, 'types'));
    writeFileSync(join(staging, '.built'), `${new Date().toISOString()}\n`);
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

class NotInstalled extends Error {}

/** tsc's declarations of the library entries (scripts/tsconfig.build.json) into `dir`. */
async function emitDeclarations(dir) {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    throw new NotInstalled('typescript is not installed (a devDependency): run `npm install`');
  }
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', join(root, 'scripts', 'tsconfig.build.json'), '--declarationDir', dir], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const out = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim();
    throw new Error(`tsc could not emit the declarations:\n${out || err.message}`);
  }
}

/**
 * What `npm start` does first: build when dist/ is missing or older than a source. A prebuilt
 * dist/ installed without devDependencies (no esbuild) is used as it is.
 */
export async function ensureBuilt({ log = (line) => console.error(line) } = {}) {
  if (!isStale()) return;
  const t0 = performance.now();
  try {
    await build();
  } catch (err) {
    if (err instanceof NotInstalled && existsSync(join(outdir, 'runtime', 'node.js'))) return;
    throw err;
  }
  log(`built dist/ in ${Math.round(performance.now() - t0)} ms`);
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  try {
    if (process.argv.includes('--if-stale')) await ensureBuilt();
    else {
      // --outdir NAME: another directory under the project root (the tests build their own).
      const at = process.argv.indexOf('--outdir');
      await build({ ...(at > 0 ? { outdir: join(root, process.argv[at + 1] ?? '') } : {}), declarations: process.argv.includes('--declarations') });
    }
  } catch (err) {
    console.error(`build failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
