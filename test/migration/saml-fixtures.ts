import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The SAML fixture set of issue 10 (test/fixtures/saml/sp, test/fixtures/saml/assertions): shapes
 * real SPs publish and real IdPs send, written for the project. Every parametrised migration test
 * runs over all of them, so a fixture added there is covered without touching the tests.
 */

export const FIXTURES = join(import.meta.dirname, '../fixtures/saml');

function list(dir: string): Array<{ name: string; path: string; xml: string }> {
  return readdirSync(join(FIXTURES, dir))
    .filter((f) => f.endsWith('.xml'))
    .sort()
    .map((f) => ({ name: f.replace(/\.xml$/, ''), path: join(FIXTURES, dir, f), xml: readFileSync(join(FIXTURES, dir, f), 'utf8') }));
}

export const SP_FIXTURES = list('sp');
export const ASSERTION_FIXTURES = list('assertions');
