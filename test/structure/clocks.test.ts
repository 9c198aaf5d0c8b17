import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Time in the core comes from the injected clock, and no rule rests on a timer: on workerd timers
 * that outlive a request never fire (issue 11: lru-cache's default ttlResolution froze time inside
 * every TTL cache). Only Node's runtime adapters (src/runtime/) schedule work.
 */

const SRC = join(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Lines (path:line) matching `pattern`, comments excluded, outside `allowed` paths. */
function offending(pattern: RegExp, allowed: (path: string) => boolean): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const path = relative(SRC, file).split(sep).join('/');
    if (allowed(path)) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/^\s*(\/\/|\*|\/\*)/.test(line)) return;
        if (pattern.test(line)) found.push(`${path}:${i + 1}`);
      });
  }
  return found;
}

describe('time in the core', () => {
  it('every in-memory cache is built by clocked-cache.ts (timer-free expiry)', () => {
    expect(offending(/new LRUCache\b/, (p) => p === 'clocked-cache.ts')).toEqual([]);
  });

  it("no remote JWKS is timed by jose's Date.now() (http/remote-jwks.ts takes the clock)", () => {
    expect(offending(/createRemoteJWKSet\s*\(/, () => false)).toEqual([]);
  });

  it('no timers outside the Node runtime adapters', () => {
    expect(offending(/\bset(Timeout|Interval)\s*\(/, (p) => p.startsWith('runtime/node'))).toEqual([]);
  });

  it('Date.now() only where the clock is defined or for log timestamps', () => {
    expect(offending(/Date\.now\(\)/, (p) => p === 'clock.ts' || p === 'logger.ts' || p.startsWith('runtime/node'))).toEqual([]);
  });
});
