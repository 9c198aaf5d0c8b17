/**
 * Start-up failures an operator can fix: each becomes one line naming the setting to change,
 * printed without a stack trace, and the process exits non-zero.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** Where a setting's value came from, as the operator would look for it. */
export function settingSource(envName: string, fromEnv: boolean, key: string, configPath: string): string {
  return fromEnv ? envName : `\`${key}\` in ${configPath}`;
}

/** A TCP port for listening: a decimal integer from 1 to 65535, nothing else (no 0, no hex, no fraction). */
export function parsePort(value: string, source: string): number {
  const port = /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new StartupError(`${source} must be a port number from 1 to 65535, not ${JSON.stringify(value)}`);
  return port;
}

function codeOf(err: unknown): string {
  return err && typeof err === 'object' && 'code' in err ? String((err as { code: unknown }).code) : '';
}

/** Why the database could not be opened, naming the file and the setting that chose it. */
export function databaseError(err: unknown, path: string, source: string): StartupError {
  const code = codeOf(err);
  const what =
    code === 'SQLITE_NOTADB'
      ? 'is not a SQLite database'
      : code === 'SQLITE_READONLY' || code === 'SQLITE_PERM' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? 'cannot be written (permission denied or read-only)'
        : code === 'SQLITE_CORRUPT'
          ? 'is corrupt'
          : code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED'
            ? 'is locked by another process'
            : code.startsWith('SQLITE_CANTOPEN') || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST' || code === 'ENOENT'
              ? 'cannot be opened'
              : `cannot be used (${err instanceof Error ? err.message : String(err)})`;
  return new StartupError(`database ${path} ${what}; check ${source}`);
}

/**
 * Why a PostgreSQL database could not be used at start (connecting or migrating), naming it
 * (`display`: the URL without its password) and the setting that chose it.
 */
export function pgDatabaseError(err: unknown, display: string, source: string): StartupError {
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const what =
    code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || /timeout|terminated/i.test(message)
      ? 'cannot be reached (is the server running, and is this its address?)'
      : code === '28P01' || code === '28000'
        ? 'refused the credentials (authentication failed)'
        : code === '3D000'
          ? 'does not exist on that server (create it first)'
          : code === '42501'
            ? 'denies the broker the rights it needs to create its tables (permission denied)'
            : `cannot be used (${message})`;
  return new StartupError(`database ${display} ${what}; check ${source}`);
}

/**
 * Why a configuration file could not be read, naming it and the setting that chose it; undefined
 * when `err` is not a file-system error (a ConfigError already says what is wrong inside a file).
 * `source` is undefined for the default path, which the message then names as such.
 */
export function configFileError(err: unknown, configPath: string, source: string | undefined): StartupError | undefined {
  const code = codeOf(err);
  const path = err && typeof err === 'object' && 'path' in err && typeof (err as { path: unknown }).path === 'string' ? (err as { path: string }).path : undefined;
  if (!/^E[A-Z]+$/.test(code)) return undefined;
  // Reading the directory of a path opened as a file reports no path: it is the config file.
  const file = path ?? configPath;
  const what =
    code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory, not a file' : code === 'EACCES' || code === 'EPERM' ? 'cannot be read (permission denied)' : `cannot be read (${code})`;
  if (file !== configPath) return new StartupError(`${file} ${what} (read for the config file ${configPath})`);
  if (source === undefined) {
    return new StartupError(`config file ${file} ${what} (the default: broker.config.yaml in the working directory); start from the directory that holds it or set XAA_CONFIG to its path`);
  }
  return new StartupError(`config file ${file} ${what}; check ${source}`);
}

/** Why the server could not listen, naming the address and the setting that chose it. */
export function listenError(err: unknown, host: string, port: number, portSource: string): StartupError {
  const code = codeOf(err);
  const address = `${host}:${port}`;
  if (code === 'EADDRINUSE') return new StartupError(`${address} is already in use by another process; set ${portSource} to a free port or stop the other process`);
  if (code === 'EACCES') return new StartupError(`permission denied to listen on ${address}; set ${portSource} to a port above 1023`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new StartupError(`cannot listen on ${address}: HOST is not an address of this machine`);
  return new StartupError(`cannot listen on ${address}: ${err instanceof Error ? err.message : String(err)}`);
}
