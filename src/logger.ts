/**
 * The logging port. Node wires pino; Workers write JSON lines to the console. Callers pass
 * structured fields, never tokens or secrets: audit trails carry jti values, not JWTs.
 */
export interface Logger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** A console logger with JSON lines, for runtimes without pino. */
export function consoleLogger(base: Record<string, unknown> = {}): Logger {
  const write = (level: string) => (fields: Record<string, unknown>, message: string) =>
    console.log(JSON.stringify({ level, time: Date.now(), ...base, ...fields, msg: message }));
  return { info: write('info'), warn: write('warn'), error: write('error') };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
