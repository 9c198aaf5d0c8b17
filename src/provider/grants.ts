import { boundedAudit } from '../audit/record.js';
import { MAX_SCOPE_COUNT } from '../constants.js';
import { InvalidGrant, InvalidScope, UnauthorizedClient } from '../oauth/errors.js';
import type { Grant, GrantRequest, TokenResponse } from '../grants/grant.js';
import { parseScope } from '../policy/scopes.js';
import type { BrokerServices } from '../grants/services.js';
import type { AuthorizationCodeRecord, PrincipalRecord, RefreshTokenRecord, SessionRecord } from '../store/ports.js';
import { isRandomToken, randomToken, s256, sameString } from './crypto.js';
import { ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME, REFRESH_TOKEN_REUSE_GRACE } from './limits.js';
import { AUTHORIZATION_CODE_GRANT, REFRESH_TOKEN_GRANT, USERINFO_PATH, endpointUrl } from './metadata.js';
import { grantIdOf, revokeGrantAccessTokens } from './own-tokens.js';
import { ACCESS_TOKEN_TYP, boundedExpiry, buildAccessTokenClaims, buildIdTokenClaims, commitIssue, ID_TOKEN_TYP, releasedClaims, signJwt, subjectFor } from './tokens.js';
import { randomId } from '../random-id.js';
import type { ProviderClient, ProviderDeps, ProviderGrantType } from './types.js';

/** The token response of the provider's grants: OAuth 2.0 plus the ID token (OIDC Core §3.1.3.3). */
export interface ProviderTokenResponse extends TokenResponse {
  token_type: 'Bearer';
  id_token: string;
  refresh_token?: string;
}

/** RFC 7636 §4.1: code_verifier = 43*128 unreserved. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** Step: the authenticated client must be one of the provider's apps, allowed this grant. */
function providerClientOf(deps: ProviderDeps, request: GrantRequest, grant: ProviderGrantType): ProviderClient {
  const client = deps.clients.get(request.client.client.client_id);
  if (!client) throw new UnauthorizedClient('not_a_provider_client', 'this client may not use this grant');
  if (!client.grant_types.includes(grant)) throw new UnauthorizedClient('grant_type_not_allowed', 'this client may not use this grant');
  return client;
}

/** What an issue needs beyond the client: the login it stands on and what was granted. */
interface IssueInput {
  client: ProviderClient;
  principal: PrincipalRecord;
  /** Scopes of the access token and the ID token's claims. */
  scopes: string[];
  sessionId: string;
  /** When that session ends: nothing issued here outlives it. */
  sessionExpiresAt: number;
  authTime?: number;
  acr?: string;
  amr: string[];
  nonce?: string;
  /** The grant's family id (the code's hash), named in the access token so a revocation of the grant reaches it. */
  familyId: string;
}

/** Step: the person as the client knows them (the one subject model); refused when they cannot be named. */
async function resolveSubject(s: BrokerServices, request: GrantRequest, input: IssueInput) {
  const resolved = await subjectFor(s, input.client, input.principal, request.now);
  if (!resolved.mapping.ok) throw new InvalidGrant(resolved.mapping.reason, 'the subject cannot be named for this client', resolved.mapping.detail);
  request.trail.mapping = resolved.mapping.decidedBy;
  return { ...resolved, mapping: resolved.mapping };
}

/** Step: sign the access token (RFC 9068, for /userinfo) and the ID token beside it. */
async function mintTokens(s: BrokerServices, request: GrantRequest, input: IssueInput, subject: string) {
  const issuer = s.settings.issuer;
  const key = s.keys.signingKey();
  const common = { ...(input.authTime !== undefined ? { authTime: input.authTime } : {}), amr: input.amr, ...(input.acr !== undefined ? { acr: input.acr } : {}) };
  const accessToken = await signJwt(
    buildAccessTokenClaims({ issuer, subject, audience: endpointUrl(issuer, USERINFO_PATH), clientId: input.client.client_id, scopes: input.scopes, sid: input.sessionId, sessionExpiresAt: input.sessionExpiresAt, now: request.now, grantId: await grantIdOf(input.familyId), ...common }),
    key,
    ACCESS_TOKEN_TYP,
  );
  const jti = randomId();
  const idClaims = await buildIdTokenClaims({
    issuer,
    subject,
    clientId: input.client.client_id,
    now: request.now,
    jti,
    sid: input.sessionId,
    sessionExpiresAt: input.sessionExpiresAt,
    accessToken,
    claims: releasedClaims(input.client, input.principal, input.scopes),
    ...common,
    ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
  });
  request.trail.jti = jti;
  // Only the ID token follows the client's id_token_signed_response_alg; the access token is the broker's own.
  const idKey = input.client.id_token_signed_response_alg ? s.keys.signingKey(input.client.id_token_signed_response_alg) : key;
  return { accessToken, idToken: await signJwt(idClaims, idKey, ID_TOKEN_TYP), expiresIn: boundedExpiry(request.now, ACCESS_TOKEN_LIFETIME, input.sessionExpiresAt) - request.now };
}

/**
 * Step: commit the issue (a new binding if any, and the 'token' audit record). If that fails, the
 * refresh token stored just before is revoked with its family: nothing issued outlives a failed commit.
 */
async function commit(s: BrokerServices, request: GrantRequest, resolved: Awaited<ReturnType<typeof resolveSubject>>, familyId?: string) {
  const audit = boundedAudit({ ...request.trail, at: request.now, event: 'token', requestId: request.requestId });
  try {
    await commitIssue(s, { ...resolved, audit, now: request.now });
  } catch (err) {
    delete request.trail.jti;
    if (familyId !== undefined) await s.store.refreshTokens.revokeFamily(familyId, request.now);
    throw err;
  }
}

function response(tokens: { accessToken: string; idToken: string; expiresIn: number }, scopes: string[], refreshToken?: string): ProviderTokenResponse {
  return {
    access_token: tokens.accessToken,
    token_type: 'Bearer',
    expires_in: tokens.expiresIn,
    id_token: tokens.idToken,
    scope: scopes.join(' '),
    ...(refreshToken !== undefined ? { refresh_token: refreshToken } : {}),
  };
}

function wantsRefresh(client: ProviderClient, scopes: readonly string[]): boolean {
  return scopes.includes('offline_access') && client.grant_types.includes('refresh_token');
}

// ---------------------------------------------------------------------------------------------
// authorization_code

/**
 * Step: consume the code (single use). A second use means it leaked: the tokens it produced are
 * revoked (RFC 6749 §4.1.2), the refresh tokens by their family (the code's hash), the access
 * tokens by the grant they name.
 */
async function redeemCode(s: BrokerServices, code: string, now: number): Promise<{ record: AuthorizationCodeRecord; hash: string }> {
  if (!isRandomToken(code)) throw new InvalidGrant('code_unknown', 'the authorization code is invalid');
  const hash = await s.tokenDigest(code);
  const result = await s.store.codes.consume(hash, now);
  if (result.status === 'unknown') throw new InvalidGrant('code_unknown', 'the authorization code is invalid');
  if (result.status === 'reused') {
    await s.store.refreshTokens.revokeFamily(hash, now);
    await revokeGrantAccessTokens(s, hash, now);
    throw new InvalidGrant('code_reused', 'the authorization code is invalid');
  }
  return { record: result.code, hash };
}

/** Step: the code was issued to this client, for this redirect_uri (RFC 6749 §4.1.3). */
function checkCodeBinding(code: AuthorizationCodeRecord, client: ProviderClient, redirectUri: string) {
  if (code.clientId !== client.client_id) throw new InvalidGrant('code_client_mismatch', 'the authorization code is invalid');
  if (code.redirectUri !== redirectUri) throw new InvalidGrant('redirect_uri_mismatch', 'redirect_uri does not match the authorization request');
}

/** Step: PKCE (RFC 7636 §4.6), and no verifier without a challenge (RFC 9700 §2.1.1: no downgrade). */
async function checkPkce(code: AuthorizationCodeRecord, client: ProviderClient, verifier: string | undefined) {
  if (code.codeChallenge === undefined) {
    if (client.token_endpoint_auth_method === 'none') throw new InvalidGrant('pkce_required', 'PKCE is required for public clients');
    if (verifier !== undefined) throw new InvalidGrant('pkce_verifier_unexpected', 'code_verifier sent but no code_challenge was');
    return;
  }
  if (verifier === undefined) throw new InvalidGrant('pkce_verifier_missing', 'code_verifier is required');
  if (!CODE_VERIFIER.test(verifier) || !sameString(await s256(verifier), code.codeChallenge)) throw new InvalidGrant('pkce_mismatch', 'code_verifier does not match');
}

/** Step: the session the code came from must still be active, and the person still known. */
async function loginOf(s: BrokerServices, request: GrantRequest, sessionId: string, principalId: string): Promise<{ session: SessionRecord; principal: PrincipalRecord }> {
  const session = await s.store.sessions.active(sessionId, request.now);
  if (!session) throw new InvalidGrant('session_inactive', 'the grant is no longer valid');
  const principal = await s.store.principals.get(principalId);
  if (!principal || session.principalId !== principal.id) throw new InvalidGrant('principal_missing', 'the grant is no longer valid');
  request.trail.principalId = principal.id;
  request.trail.upstreamIssuer = principal.upstreamIssuer;
  return { session, principal };
}

/** grant_type=authorization_code (RFC 6749 §4.1.3, OIDC Core §3.1.3). */
export function authorizationCodeGrant(deps: ProviderDeps): Grant<BrokerServices> {
  return {
    grantType: AUTHORIZATION_CODE_GRANT,
    parameters: ['code', 'redirect_uri', 'code_verifier'],

    async handle(request, s): Promise<ProviderTokenResponse> {
      const client = providerClientOf(deps, request, 'authorization_code');
      const presented = { code: request.form.require('code'), redirectUri: request.form.require('redirect_uri'), verifier: request.form.get('code_verifier') };
      const { record: code, hash } = await redeemCode(s, presented.code, request.now);
      checkCodeBinding(code, client, presented.redirectUri);
      await checkPkce(code, client, presented.verifier);
      const { session, principal } = await loginOf(s, request, code.sessionId, code.principalId);
      request.trail.requestedScopes = code.scopes;
      request.trail.grantedScopes = code.scopes;

      const input: IssueInput = {
        client,
        principal,
        scopes: code.scopes,
        sessionId: session.id,
        sessionExpiresAt: session.expiresAt,
        ...(code.authTime !== undefined ? { authTime: code.authTime } : {}),
        amr: code.amr,
        ...(code.acr !== undefined ? { acr: code.acr } : {}),
        ...(code.nonce !== undefined ? { nonce: code.nonce } : {}),
        familyId: hash,
      };
      const resolved = await resolveSubject(s, request, input);
      const tokens = await mintTokens(s, request, input, resolved.mapping.subject);

      let refreshToken: string | undefined;
      if (wantsRefresh(client, code.scopes)) {
        refreshToken = randomToken();
        const record: RefreshTokenRecord = {
          familyId: hash,
          clientId: client.client_id,
          sessionId: session.id,
          principalId: principal.id,
          scopes: code.scopes,
          createdAt: request.now,
          // Never beyond the session: when it ends, its refresh tokens end.
          expiresAt: Math.min(request.now + REFRESH_TOKEN_LIFETIME, session.expiresAt),
        };
        // Refused if a replay of this code revoked the family while this redemption was in flight.
        if (!(await s.store.refreshTokens.issue(await s.tokenDigest(refreshToken), record))) {
          throw new InvalidGrant('code_reused', 'the authorization code is invalid');
        }
      }
      await commit(s, request, resolved, refreshToken !== undefined ? hash : undefined);
      return response(tokens, code.scopes, refreshToken);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// refresh_token

/**
 * Step: the presented token, active. An inactive one is passed to the store's rotation anyway, so
 * that a token already rotated is recognised as reused and its whole family revoked (RFC 9700
 * §4.14.2); the successor offered then is dead on arrival and never stored as usable.
 */
async function activeRefreshToken(s: BrokerServices, presented: string, now: number): Promise<{ record: RefreshTokenRecord; hash: string }> {
  if (!isRandomToken(presented)) throw new InvalidGrant('refresh_token_invalid', 'the refresh token is invalid');
  const hash = await s.tokenDigest(presented);
  const record = await s.store.refreshTokens.active(hash, now);
  if (record) return { record, hash };
  const tombstone: RefreshTokenRecord = { familyId: `dead:${hash}`, clientId: '', sessionId: '', principalId: '', scopes: [], createdAt: now, expiresAt: now };
  const outcome = await s.store.refreshTokens.rotate(hash, { tokenHash: await s.tokenDigest(randomToken()), token: tombstone }, now, now - REFRESH_TOKEN_REUSE_GRACE);
  refuseUnrotated(outcome.status);
  if (outcome.status === 'rotated') await s.store.refreshTokens.revokeFamily(outcome.previous.familyId, now);
  throw new InvalidGrant('refresh_token_invalid', 'the refresh token is invalid');
}

/**
 * A rotation that did not happen: `superseded` is the client's own concurrent refresh within the
 * grace window (refused, the family untouched); `reused` is a copy (the store revoked the family).
 */
function refuseUnrotated(status: 'rotated' | 'superseded' | 'reused' | 'invalid') {
  if (status === 'superseded') throw new InvalidGrant('refresh_token_superseded', 'the refresh token is invalid', 'rotated moments ago by a concurrent request');
  if (status === 'reused') throw new InvalidGrant('refresh_token_reused', 'the refresh token is invalid');
}

/** Step: RFC 6749 §6: a narrower scope may be asked for, never a wider one. */
function narrowedScopes(requested: string | undefined, granted: readonly string[]): string[] {
  const parsed = parseScope(requested, MAX_SCOPE_COUNT);
  if (!parsed.ok) throw new InvalidScope('invalid_parameter', 'scope is malformed', parsed.detail);
  if (parsed.scopes.length === 0) return [...granted];
  const wider = parsed.scopes.filter((s) => !granted.includes(s));
  if (wider.length > 0) throw new InvalidScope('scope_widened', 'the requested scope exceeds the original grant', wider.join(' ').slice(0, 200));
  if (!parsed.scopes.includes('openid')) throw new InvalidScope('openid_scope_missing', 'scope must include openid');
  return parsed.scopes;
}

/**
 * Step: rotate. Atomic in the store: if another request rotated this token first, this one is
 * refused; it is the reuse that revokes the family only once the grace window has passed.
 */
async function rotate(s: BrokerServices, hash: string, record: RefreshTokenRecord, now: number): Promise<string> {
  const next = randomToken();
  const successor: RefreshTokenRecord = { ...record, createdAt: now };
  const outcome = await s.store.refreshTokens.rotate(hash, { tokenHash: await s.tokenDigest(next), token: successor }, now, now - REFRESH_TOKEN_REUSE_GRACE);
  refuseUnrotated(outcome.status);
  if (outcome.status === 'invalid') throw new InvalidGrant('refresh_token_invalid', 'the refresh token is invalid');
  return next;
}

/**
 * grant_type=refresh_token (RFC 6749 §6, OIDC Core §12). Rotation on every use; the ID token is
 * re-assembled from the current principal record and the still-active session.
 */
export function refreshTokenGrant(deps: ProviderDeps): Grant<BrokerServices> {
  return {
    grantType: REFRESH_TOKEN_GRANT,
    parameters: ['refresh_token', 'scope'],

    async handle(request, s): Promise<ProviderTokenResponse> {
      const client = providerClientOf(deps, request, 'refresh_token');
      const { record, hash } = await activeRefreshToken(s, request.form.require('refresh_token'), request.now);
      if (record.clientId !== client.client_id) throw new InvalidGrant('refresh_token_client_mismatch', 'the refresh token is invalid');
      const scopes = narrowedScopes(request.form.get('scope'), record.scopes);
      request.trail.requestedScopes = scopes;
      const { session, principal } = await loginOf(s, request, record.sessionId, record.principalId);

      const input: IssueInput = {
        client,
        principal,
        scopes,
        sessionId: session.id,
        sessionExpiresAt: session.expiresAt,
        ...(session.authTime !== undefined ? { authTime: session.authTime } : {}),
        amr: session.amr,
        ...(session.acr !== undefined ? { acr: session.acr } : {}),
        familyId: record.familyId,
      };
      const resolved = await resolveSubject(s, request, input);
      const refreshToken = await rotate(s, hash, record, request.now);
      request.trail.grantedScopes = scopes;
      const tokens = await mintTokens(s, request, input, resolved.mapping.subject);
      await commit(s, request, resolved, record.familyId);
      return response(tokens, scopes, refreshToken);
    },
  };
}

/** Both grants, for the token endpoint's list. */
export function providerGrants(deps: ProviderDeps): Grant<BrokerServices>[] {
  return [authorizationCodeGrant(deps), refreshTokenGrant(deps)];
}
