/**
 * IdP discovery (src/upstream/discovery.ts) chooses a connection by email domain or default; two
 * connections claiming one domain, or two defaults, leave it unable to choose. Checked at load.
 */

export interface DiscoverableConnection {
  id: string;
  email_domains?: readonly string[];
  default?: boolean;
}

/** A configuration conflict, at a path inside the `connections` list (`[1].email_domains[0]`). */
export interface DiscoveryConflict {
  at: string;
  message: string;
}

/**
 * Configuration conflicts that would make discovery ambiguous, refused by the config loader at
 * start: an email domain claimed by two connections (compared case-insensitively), more than one
 * default. (Duplicate connection ids are refused by the loader itself.)
 */
export function discoveryConflicts(connections: readonly DiscoverableConnection[]): DiscoveryConflict[] {
  const problems: DiscoveryConflict[] = [];
  const domains = new Map<string, string>();
  connections.forEach((c, i) => {
    (c.email_domains ?? []).forEach((raw, j) => {
      const d = raw.toLowerCase();
      const owner = domains.get(d);
      if (owner !== undefined && owner !== c.id) problems.push({ at: `[${i}].email_domains[${j}]`, message: `email domain ${d} is claimed by ${owner} and ${c.id}: discovery by login_hint could not choose` });
      else domains.set(d, c.id);
    });
  });
  const defaults = connections.flatMap((c, i) => (c.default === true ? [{ id: c.id, i }] : []));
  for (const extra of defaults.slice(1)) {
    problems.push({ at: `[${extra.i}].default`, message: `more than one default connection (${defaults.map((d) => d.id).join(', ')}): at most one may be the default` });
  }
  return problems;
}
