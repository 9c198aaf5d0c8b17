import type { Logger } from '../../src/logger.js';

/** One line the broker would have written. */
export interface Line {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

/** A logger that keeps every line, to check what the broker would write. */
export function capture(lines: Line[]): Logger {
  const at = (level: Line['level']) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  return { info: at('info'), warn: at('warn'), error: at('error') };
}
