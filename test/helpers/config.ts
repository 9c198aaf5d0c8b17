import { expect } from 'vitest';
import { ConfigError, loadConfig, type ConfigFiles, type ConfigProblem } from '../../src/config/load.js';

/** The problems a configuration is refused with (it must be refused, with a ConfigError). */
export function problemsOf(files: ConfigFiles): ConfigProblem[] {
  try {
    loadConfig(files);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}
