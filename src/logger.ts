/**
 * The logging port. Node wires pino; Workers write JSON lines to the console. Callers pass
 * structured fields, never tokens or secrets: audit trails carry jti values, not JWTs.
 */
export interface Logger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Token and secret field names, redacted at the top level and one level down. */
const SENSITIVE = new Set(['access_token', 'refresh_token', 'id_token', 'subject_token', 'client_secret', 'assertion', 'client_assertion', 'code']);
export const REDACTED = '[Redacted]';

/**
 * A second line of defence, never the first (callers log no tokens): a field named like a token or
 * secret, at the top level or inside a top-level object, is replaced by "[Redacted]". The fields
 * are copied only when something is redacted. (pino's own `redact` with `*.name` paths did the same
 * at 15 µs a line, 4 % of a mint: docs/benchmark.md.)
 */
export function redactSensitive(fields: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in fields) {
    if (SENSITIVE.has(key)) {
      (copy ??= { ...fields })[key] = REDACTED;
      continue;
    }
    const value = fields[key];
    // An Error's `code` is an error code, and a copy would lose its message: errors are left whole.
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Error) continue;
    let inner: Record<string, unknown> | undefined;
    for (const name in value) if (SENSITIVE.has(name)) (inner ??= { ...(value as Record<string, unknown>) })[name] = REDACTED;
    if (inner) (copy ??= { ...fields })[key] = inner;
  }
  return copy ?? fields;
}

/** A console logger with JSON lines, for runtimes without pino. */
export function consoleLogger(base: Record<string, unknown> = {}): Logger {
  const write = (level: string) => (fields: Record<string, unknown>, message: string) =>
    console.log(JSON.stringify({ level, time: Date.now(), ...base, ...redactSensitive(fields), msg: message }));
  return { info: write('info'), warn: write('warn'), error: write('error') };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
