/**
 * The one piece of a browser every scripted one here needs: keeping, per origin, the cookies a
 * response sets (name=value; an empty value, Max-Age=0 or an expiry in 1970 deletes). Used by the
 * demos' Browser and by the tests' browsers and cookie jars.
 */
export function keepCookies(jar: Map<string, string>, res: Response): void {
  for (const line of res.headers.getSetCookie()) {
    const [pair = ''] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) jar.delete(name);
    else jar.set(name, value);
  }
}

/** The Cookie header for a jar, or nothing when it is empty. */
export function cookieHeader(jar: ReadonlyMap<string, string>): Record<string, string> {
  return jar.size === 0 ? {} : { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
}
