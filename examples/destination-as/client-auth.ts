import { InvalidClient, InvalidRequest } from '../../src/oauth/errors.js';

/** A confidential client registered at the destination. */
export interface RegisteredClient {
  client_id: string;
  client_secret: string;
  /** The broker (issuer) this client's registration came through: where its references are redeemed. */
  broker?: string;
}

interface Credentials {
  clientId: string;
  secret: string;
  usedBasic: boolean;
}

const encoder = new TextEncoder();

function invalidClient(reason: 'client_auth_missing' | 'client_unknown' | 'client_secret_mismatch', usedBasic: boolean) {
  const error = new InvalidClient(reason, 'Client authentication failed');
  error.usedBasic = usedBasic;
  return error;
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function basicCredentials(authorization: string | undefined): Credentials | undefined {
  const match = /^Basic +(.*)$/i.exec(authorization ?? '');
  if (match?.[1] === undefined) return undefined;
  try {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(match[1])) throw new Error('not base64');
    const decoded = atob(match[1]);
    const colon = decoded.indexOf(':');
    if (colon < 1) throw new Error('no user-id');
    return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)), usedBasic: true };
  } catch {
    throw invalidClient('client_auth_missing', true);
  }
}

function single(form: URLSearchParams, name: string): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) throw new InvalidRequest('duplicate_parameter', `${name} must appear once`);
  return values[0];
}

/** Picks exactly one authentication method; RFC 6749 §2.3 forbids using more than one. */
function presentedCredentials(authorization: string | undefined, form: URLSearchParams): Credentials {
  const basic = basicCredentials(authorization);
  const postId = single(form, 'client_id');
  const postSecret = single(form, 'client_secret');
  if (basic) {
    if (postSecret !== undefined) throw new InvalidRequest('client_auth_multiple', 'Use one client authentication method');
    if (postId !== undefined && postId !== basic.clientId) {
      throw new InvalidRequest('invalid_parameter', 'client_id does not match the authenticated client');
    }
    return basic;
  }
  if (postId === undefined || postSecret === undefined) throw invalidClient('client_auth_missing', false);
  return { clientId: postId, secret: postSecret, usedBasic: false };
}

/**
 * Compares SHA-256 digests with a constant-time loop: equal-length inputs, no early exit,
 * so response time says nothing about how much of a guess was right.
 */
async function secretsEqual(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(presented)),
    crypto.subtle.digest('SHA-256', encoder.encode(expected)),
  ]);
  const left = new Uint8Array(a);
  const right = new Uint8Array(b);
  let difference = 0;
  for (let i = 0; i < left.length; i++) difference |= left[i]! ^ right[i]!;
  return difference === 0;
}

/** Secret compared when the client is unknown, so that unknown and wrong cost the same. */
const DECOY_SECRET = crypto.randomUUID();

/**
 * Authenticates a token request with client_secret_basic or client_secret_post.
 *
 * @returns the authenticated `client_id`.
 * @throws {InvalidClient} (401; `usedBasic` set when a Basic challenge is due) or {@link InvalidRequest}.
 */
export async function authenticateClient(
  clients: ReadonlyMap<string, RegisteredClient>,
  authorization: string | undefined,
  form: URLSearchParams,
): Promise<string> {
  const { clientId, secret, usedBasic } = presentedCredentials(authorization, form);
  const client = clients.get(clientId);
  const matches = await secretsEqual(secret, client?.client_secret ?? DECOY_SECRET);
  if (!client) throw invalidClient('client_unknown', usedBasic);
  if (!matches) throw invalidClient('client_secret_mismatch', usedBasic);
  return client.client_id;
}
