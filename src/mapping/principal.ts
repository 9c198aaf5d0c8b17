import { base64url } from 'jose';

/**
 * The broker's id for a person: derived from (upstream issuer, upstream subject), so it is stable,
 * needs no lookup, and reveals neither value.
 */
export async function principalIdOf(upstreamIssuer: string, upstreamSubject: string): Promise<string> {
  const data = new TextEncoder().encode(`${upstreamIssuer}\n${upstreamSubject}`);
  return `p_${base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', data)))}`;
}
