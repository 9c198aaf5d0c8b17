import { afterEach, describe, expect, it } from 'vitest';
import { nodeSecret } from '../../src/runtime/node-secrets.js';

describe('nodeSecret (private_key_env on Node)', () => {
  const NAME = 'XAA_TEST_NODE_SECRET';
  afterEach(() => {
    delete process.env[NAME];
  });

  it('reads a variable of the environment, and nothing when it is unset', () => {
    expect(nodeSecret(NAME)).toBeUndefined();
    process.env[NAME] = 'value';
    expect(nodeSecret(NAME)).toBe('value');
  });

  it('finds no variable under the names of inherited properties', () => {
    for (const name of ['toString', 'hasOwnProperty', 'constructor', '__proto__', 'valueOf']) expect(nodeSecret(name)).toBeUndefined();
  });
});
