import { decodeJwt, SignJWT } from 'jose';
import { InvalidRequest, ServerError, TemporarilyUnavailable, UnsupportedGrantType, UnsupportedTokenType } from '../oauth/errors.js';
import { InvalidGrant } from '../oauth/errors.js';
import { single } from './request.js';
import { readBounded } from '../http/bounded.js';
import { IdJagRejected } from './errors.js';
import {
  BACKCHANNEL_ASSERTION_LIFETIME,
  DEFAULT_REDEMPTION_TIMEOUT_MS,
  ID_JAG_REFERENCE_TOKEN_TYPE,
  MAX_REDEMPTION_RESPONSE_BYTES,
  MAX_REFERENCE_BYTES,
  TOKEN_EXCHANGE_GRANT_TYPE,
} from './limits.js';
import type { IdJagVerificationContext, IdJagVerifier } from './verifier.js';
import type { IdJagClaims } from './validate.js';

/**
 * The resource-pulled profile at the destination (docs/profiles/pulled.md): a client presents an
 * ID-JAG reference at this authorization server's token endpoint (RFC 8693 token exchange); this
 * server redeems it at the broker that issued it, over its own authenticated back channel, and
 * validates the ID-JAG it gets back with the same verifier as the caller-pushed profile.
 */

const ID_JAG_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** What a client sent to redeem a reference here. */
export interface ReferenceExchangeRequest {
  reference: string;
  /** Requested scope, if the client narrowed it at the destination. */
  scope?: string;
}

/**
 * Reads an RFC 8693 token exchange that presents an ID-JAG reference. It does not authenticate the
 * client and does not redeem the reference; that is {@link createReferenceRedeemer}'s job.
 *
 * @throws {UnsupportedGrantType} unless `grant_type` is token exchange.
 * @throws {UnsupportedTokenType} unless `subject_token_type` is the reference type.
 * @throws {InvalidRequest} when a parameter repeats, the reference is missing or too long, an actor
 *   token is sent, or `requested_token_type` asks for anything but an access token.
 */
export function parseReferenceExchangeRequest(form: URLSearchParams): ReferenceExchangeRequest {
  const grantType = single(form, 'grant_type');
  if (grantType === undefined) throw new InvalidRequest('missing_parameter', 'grant_type is required');
  if (grantType !== TOKEN_EXCHANGE_GRANT_TYPE) throw new UnsupportedGrantType('unsupported_grant_type');
  const type = single(form, 'subject_token_type');
  if (type === undefined) throw new InvalidRequest('missing_parameter', 'subject_token_type is required');
  if (type !== ID_JAG_REFERENCE_TOKEN_TYPE) throw new UnsupportedTokenType('unsupported_token_type', 'subject_token_type must be an ID-JAG reference');
  const requested = single(form, 'requested_token_type');
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) throw new InvalidRequest('invalid_parameter', `requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
  if (form.has('actor_token') || form.has('actor_token_type')) throw new InvalidRequest('invalid_parameter', 'actor tokens are not supported');
  const reference = single(form, 'subject_token');
  if (!reference) throw new InvalidRequest('missing_parameter', 'subject_token is required');
  if (reference.length > MAX_REFERENCE_BYTES) throw new InvalidRequest('token_too_large', 'subject_token is too large');
  const scope = single(form, 'scope');
  return scope === undefined ? { reference } : { reference, scope };
}

/** This destination's back channel to one broker. */
export interface BrokerBackChannel {
  /** The broker's issuer identifier. The returned ID-JAG's `iss` must be exactly this (pinned). */
  issuer: string;
  /** The broker's token endpoint. Without it, it is read once from the broker's RFC 8414 metadata (whose `issuer` must match). */
  tokenEndpoint?: string | URL;
  /** This destination's back-channel client at the broker (`destinations[].backchannel_client` there). */
  clientId: string;
  /** A client secret. Give exactly one of `clientSecret` and `privateKey`. */
  clientSecret?: string;
  /** How the secret is sent, as registered at the broker; default `client_secret_basic`. */
  secretMethod?: 'client_secret_basic' | 'client_secret_post';
  /** private_key_jwt: the key that signs the client assertion, and its algorithm. */
  privateKey?: { key: Parameters<SignJWT['sign']>[0]; alg: string; kid?: string };
}

export interface ReferenceRedeemerOptions {
  broker: BrokerBackChannel;
  /** The verifier the jwt-bearer grant uses: both profiles end in the same checks of the same artifact. */
  verifyIdJag: IdJagVerifier;
  fetch?: typeof fetch;
  /** Milliseconds; default {@link DEFAULT_REDEMPTION_TIMEOUT_MS}. */
  timeoutMs?: number;
  now?: () => Date;
}

/**
 * Redeems one presented reference at the broker and resolves to the validated ID-JAG claims.
 * `context.clientId` is the client that presented the reference here: the ID-JAG's `client_id`
 * must name it.
 */
export type ReferenceRedeemer = (reference: string, context: IdJagVerificationContext) => Promise<IdJagClaims>;

/** Reads at most `cap` bytes of a response body; more is a refusal, not a truncation. */
async function boundedText(res: Response, cap: number): Promise<string> {
  const tooLarge = () => new ServerError('broker_redemption_failed', undefined, 'broker response too large');
  if (Number(res.headers.get('content-length') ?? '0') > cap) throw tooLarge();
  if (!res.body) return '';
  const bytes = await readBounded(res.body, cap);
  if (!bytes) throw tooLarge();
  return new TextDecoder().decode(bytes);
}

function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ServerError('broker_redemption_failed', undefined, 'broker response is not a JSON object');
}

/** RFC 8414 §3: the metadata of an issuer with a path sits at the well-known path followed by that path. */
function metadataUrl(issuer: string): URL {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return new URL(`/.well-known/oauth-authorization-server${path}`, url.origin);
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function basic(clientId: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${btoa(`${enc(clientId)}:${enc(secret)}`)}`;
}

/**
 * Builds the redeemer a destination's token endpoint calls for a presented reference. In order:
 * the broker's token endpoint (configured, or from its metadata with the issuer checked), a
 * token exchange there authenticated as this destination's back-channel client, with a timeout
 * and a response size cap; then the returned ID-JAG: issued by the pinned broker, verified by
 * `verifyIdJag` (signature, audience, `client_id` = the presenting client, lifetime, single use).
 */
export function createReferenceRedeemer(options: ReferenceRedeemerOptions): ReferenceRedeemer {
  const { broker, verifyIdJag } = options;
  if ((broker.clientSecret === undefined) === (broker.privateKey === undefined)) throw new TypeError(`broker ${broker.issuer}: give exactly one of clientSecret or privateKey`);
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_REDEMPTION_TIMEOUT_MS;
  const now = options.now ?? (() => new Date());
  let endpoint: Promise<string> | undefined = broker.tokenEndpoint === undefined ? undefined : Promise.resolve(String(broker.tokenEndpoint));

  /** Fetch with the timeout; the broker being unreachable is not the client's fault. */
  async function call(url: string | URL, init: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
    let res: Response;
    try {
      res = await doFetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new TemporarilyUnavailable('broker_redemption_failed', undefined, err instanceof Error ? `${err.name}: broker unreachable` : 'broker unreachable');
    }
    if (res.status >= 500) throw new TemporarilyUnavailable('broker_redemption_failed', undefined, `broker answered ${res.status}`);
    let text: string;
    try {
      text = await boundedText(res, MAX_REDEMPTION_RESPONSE_BYTES);
    } catch (err) {
      if (err instanceof ServerError) throw err;
      throw new TemporarilyUnavailable('broker_redemption_failed', undefined, 'broker response interrupted');
    }
    return { status: res.status, body: parseJsonObject(text) };
  }

  async function discover(): Promise<string> {
    const { status, body } = await call(metadataUrl(broker.issuer), { method: 'GET', headers: { accept: 'application/json' } });
    if (status !== 200) throw new ServerError('broker_redemption_failed', undefined, `broker metadata answered ${status}`);
    // RFC 8414 §3.3: metadata naming another issuer must not be used.
    if (body.issuer !== broker.issuer) throw new ServerError('broker_issuer_mismatch', undefined, 'broker metadata names another issuer');
    if (typeof body.token_endpoint !== 'string') throw new ServerError('broker_redemption_failed', undefined, 'broker metadata has no token_endpoint');
    return body.token_endpoint;
  }

  async function tokenEndpoint(): Promise<string> {
    endpoint ??= discover();
    try {
      return await endpoint;
    } catch (err) {
      endpoint = undefined; // try again next time
      throw err;
    }
  }

  async function authenticate(form: URLSearchParams, headers: Record<string, string>) {
    if (broker.clientSecret !== undefined) {
      if (broker.secretMethod === 'client_secret_post') {
        form.set('client_id', broker.clientId);
        form.set('client_secret', broker.clientSecret);
      } else {
        headers.authorization = basic(broker.clientId, broker.clientSecret);
      }
      return;
    }
    const { key, alg, kid } = broker.privateKey!;
    const iat = Math.floor(now().getTime() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })
      .setIssuer(broker.clientId)
      .setSubject(broker.clientId)
      .setAudience(broker.issuer)
      .setJti(crypto.randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(iat + BACKCHANNEL_ASSERTION_LIFETIME)
      .sign(key);
    form.set('client_assertion_type', CLIENT_ASSERTION_TYPE);
    form.set('client_assertion', assertion);
  }

  return async function redeemReference(reference, context) {
    if (reference.length > MAX_REFERENCE_BYTES) throw new InvalidRequest('token_too_large', 'subject_token is too large');
    const form = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT_TYPE,
      requested_token_type: ID_JAG_TOKEN_TYPE,
      subject_token: reference,
      subject_token_type: ID_JAG_REFERENCE_TOKEN_TYPE,
    });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    await authenticate(form, headers);
    const { status, body } = await call(await tokenEndpoint(), { method: 'POST', headers, body: form.toString() });

    if (status !== 200) {
      const error = typeof body.error === 'string' ? body.error.slice(0, 64) : 'no error code';
      // The broker refused the reference (expired, replayed, not ours, re-check failed): the client's
      // grant is invalid. Anything else (our own credentials refused) is this server's problem.
      if (status === 400 && error === 'invalid_grant') throw new InvalidGrant('reference_refused_by_broker', 'The reference is not valid for this authorization server', error);
      throw new ServerError('broker_redemption_failed', undefined, `broker answered ${status} ${error}`);
    }
    if (body.issued_token_type !== ID_JAG_TOKEN_TYPE || typeof body.access_token !== 'string') {
      throw new ServerError('broker_redemption_failed', undefined, 'broker response is not an ID-JAG');
    }
    const idJag = body.access_token;
    // The issuer is pinned to the broker redeemed at, before any key is fetched for it.
    let iss: unknown;
    try {
      ({ iss } = decodeJwt(idJag));
    } catch {
      throw new IdJagRejected('malformed');
    }
    if (iss !== broker.issuer) throw new IdJagRejected('issuer_untrusted', 'not the broker the reference was redeemed at');
    const claims = await verifyIdJag(idJag, context);
    if (claims.iss !== broker.issuer) throw new IdJagRejected('issuer_untrusted', 'not the broker the reference was redeemed at');
    return claims;
  };
}
