import { describe, expect, it } from 'vitest';
import { isLocalPath, parseContinuation, returnContinuationOf, returnPathOf } from '../../src/provider/login-start.js';

/** A login the broker's own pages start returns only to a path on the broker (the approval console's sign-in). */
describe('returning logins', () => {
  it('accepts a path on the broker and nothing that a browser would read as another host', () => {
    for (const ok of ['/console', '/console/requests/arq_x', '/console?done=1']) expect(isLocalPath(ok), ok).toBe(true);
    for (const bad of ['//evil.test', '/\\evil.test', 'https://evil.test/', 'console', '', '/con sole', '/console\n', '/console#x', '/\tevil']) expect(isLocalPath(bad), bad).toBe(false);
  });

  it('a returning continuation round-trips, and is never mistaken for an app’s pending request', () => {
    const value = returnContinuationOf('/console');
    expect(returnPathOf(value)).toBe('/console');
    expect(parseContinuation(value)).toBeUndefined();
    expect(() => returnContinuationOf('//evil.test')).toThrow();
    expect(() => returnContinuationOf(`/${'a'.repeat(5000)}`)).toThrow();
  });

  it('a stored continuation naming another host is not followed', () => {
    expect(returnPathOf(JSON.stringify({ v: 1, return: '//evil.test' }))).toBeUndefined();
    expect(returnPathOf(JSON.stringify({ v: 2, return: '/console' }))).toBeUndefined();
    expect(returnPathOf('not json')).toBeUndefined();
  });
});
