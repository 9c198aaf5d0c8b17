/**
 * The source of a request, as the key that budgets (client-secret hashing) and aggregated audit
 * records are counted under: an IPv4 address, or the /64 prefix of an IPv6 address (one
 * subscriber usually holds a whole /64, so counting single IPv6 addresses would not bound
 * anything). Anything unparseable is `unknown`, which is one shared source.
 */
export const UNKNOWN_SOURCE = 'unknown';

/** Where the address of the caller comes from. */
export interface SourceOptions {
  /**
   * A header set by a reverse proxy the operator runs (e.g. `X-Forwarded-For`); its last
   * comma-separated entry is used: the one the nearest proxy appended.
   */
  header?: string;
}

/** The request's source key: from the configured header if one is set, else from the connection. */
export function requestSource(headers: Headers, connectionAddress: string | undefined, options: SourceOptions): string {
  if (options.header) {
    const value = headers.get(options.header);
    const last = value?.split(',').pop()?.trim();
    return sourceKey(last);
  }
  return sourceKey(connectionAddress);
}

export function sourceKey(address: string | undefined): string {
  if (!address) return UNKNOWN_SOURCE;
  let a = address.trim();
  // A bracketed IPv6 literal, or an address with a zone index.
  if (a.startsWith('[') && a.includes(']')) a = a.slice(1, a.indexOf(']'));
  a = a.replace(/%.*$/, '');
  if (isIPv4(a)) return a;
  if (a.includes('/')) a = a.slice(0, a.indexOf('/'));
  const groups = ipv6Groups(a);
  if (!groups) return UNKNOWN_SOURCE;
  // An IPv4-mapped IPv6 address (Node reports IPv4 peers this way on dual-stack sockets).
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

function isIPv4(a: string): boolean {
  const parts = a.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** The eight 16-bit groups of an IPv6 address, or undefined if it is not one. */
function ipv6Groups(a: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(a) || a.length > 45) return undefined;
  // An embedded IPv4 tail (::ffff:192.0.2.1) is two groups.
  const lastColon = a.lastIndexOf(':');
  const v4 = a.slice(lastColon + 1);
  if (v4.includes('.')) {
    if (!isIPv4(v4)) return undefined;
    const b = v4.split('.').map(Number);
    a = `${a.slice(0, lastColon + 1)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = a.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === '' ? [] : s.split(':'));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if ([...head, ...rest].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  return [...head.map((g) => parseInt(g, 16)), ...Array<number>(missing).fill(0), ...rest.map((g) => parseInt(g, 16))];
}
