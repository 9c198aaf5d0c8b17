/**
 * `private_key_env` on Node: a variable of the process's environment, or nothing. Only a string
 * counts: a name such as `toString` finds no variable, not an inherited function.
 */
export function nodeSecret(name: string): string | undefined {
  if (!Object.hasOwn(process.env, name)) return undefined;
  const value = process.env[name];
  return typeof value === 'string' ? value : undefined;
}
