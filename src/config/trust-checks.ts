import { domainsOverlap, type UpstreamAuthority } from '../trust/authority.js';
import type { ConfigProblem } from './load.js';
import type { BrokerSettings, NamespaceConfig } from './schema.js';

/**
 * Load-time checks of who is believed about what (docs/configuration.md, "Who is believed about
 * what"): one upstream, one authority; email domains vouched for by two upstreams (a warning); namespaces
 * keyed on an upstream value name upstreams that may assert it; an app's SSO `sub` and its
 * destination's ID-JAG `sub` come from one namespace.
 */

interface Upstream {
  /** Issuer (trusted issuers, OIDC connections) or `connection <id>` (SAML: the entity id comes from metadata). */
  key: string;
  at: string;
  authority: UpstreamAuthority;
}

function upstreamsOf(s: BrokerSettings): Upstream[] {
  const out: Upstream[] = s.trusted_issuers.map((t, i) => ({ key: t.issuer, at: `trusted_issuers[${i}].authority`, authority: t.authority }));
  s.connections.forEach((c, i) => {
    const key = c.type === 'oidc' && typeof c.issuer === 'string' ? c.issuer : `connection ${String(c.id)}`;
    out.push({ key, at: `connections[${i}].authority`, authority: c.authority });
  });
  return out;
}

/** Key order does not matter when comparing two parsed authority blocks. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function checkTrust(file: string, s: BrokerSettings, namespaces: ReadonlyMap<string, NamespaceConfig>, problems: ConfigProblem[], warnings: ConfigProblem[]) {
  const add = (at: string, message: string) => problems.push({ file, at, message });
  const upstreams = upstreamsOf(s);

  // An issuer both trusted for subject tokens and used for logins is one upstream: one authority.
  const byKey = new Map<string, Upstream>();
  for (const u of upstreams) {
    const first = byKey.get(u.key);
    if (!first) byKey.set(u.key, u);
    else if (canonical(first.authority) !== canonical(u.authority)) add(u.at, `differs from ${first.at}: ${u.key} is one upstream and is believed about one set of things`);
  }

  // Two upstreams vouching for one email domain (a migration from one IdP to another, say) is
  // allowed but worth a look: the same person arriving through both is two principals, and a
  // namespace keyed on email binds whichever came first and refuses the other.
  const distinct = [...byKey.values()];
  distinct.forEach((a, i) => {
    for (const b of distinct.slice(i + 1)) {
      for (const da of a.authority.email?.domains ?? []) {
        for (const db of b.authority.email?.domains ?? []) {
          if (domainsOverlap(da, db)) warnings.push({ file, at: b.at, message: `email domain "${db}" overlaps "${da}" of ${a.key}: both upstreams vouch for these addresses; list only one in the upstreams of namespaces keyed on email` });
        }
      }
    }
  });

  for (const [name, ns] of namespaces) {
    const nsFile = `mappings (namespace ${name})`;
    if (ns.strategy !== 'claim' && ns.strategy !== 'saml_subject') continue;
    if (!ns.upstreams) {
      warnings.push({ file: nsFile, at: 'upstreams', message: `${ns.strategy} namespace without upstreams: a value asserted by any upstream that may assert it binds here; list the upstreams this namespace accepts` });
      continue;
    }
    if (ns.strategy !== 'claim') continue;
    ns.upstreams.forEach((key, i) => {
      const u = byKey.get(key);
      if (!u) return; // a SAML IdP's entity id: known only once its metadata is loaded
      if (!mayAssert(u.authority, ns.claim)) problems.push({ file: nsFile, at: `upstreams[${i}]`, message: `${key} is not authoritative for "${ns.claim}" (${u.at}${ns.claim === 'email' ? '.email with domains' : '.claims'})` });
    });
  }

  s.destinations.forEach((d, i) => {
    if (d.sso_client === undefined) return;
    const client = s.clients.find((c) => c.client_id === d.sso_client);
    if (!client?.oidc) add(`destinations[${i}].sso_client`, `no client "${d.sso_client}" with an oidc block`);
    else if (client.oidc.subject_namespace !== d.namespace) add(`destinations[${i}].sso_client`, `client "${d.sso_client}" logs users in with subject_namespace "${client.oidc.subject_namespace}", but this destination's namespace is "${d.namespace}": the ID-JAG sub must equal the SSO sub`);
  });
}

/** Whether an upstream's authority lets it assert the claim a namespace is keyed on. */
function mayAssert(a: UpstreamAuthority, claim: string): boolean {
  if (claim === 'email') return a.email !== undefined;
  if (claim === 'groups' || claim === a.groups?.claim) return false; // a multi-valued claim keys nothing
  return a.claims.includes(claim);
}
