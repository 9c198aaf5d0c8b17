/**
 * The destination kit: what a resource authorization server embeds to redeem ID-JAGs
 * (draft-ietf-oauth-identity-assertion-authz-grant) presented with the RFC 7523 jwt-bearer
 * grant. Web standards only; runs on Node, workerd and browsers alike.
 *
 * @example
 * ```ts
 * const verifyIdJag = createIdJagVerifier({
 *   audience: 'https://todo.example',
 *   trustedIssuers: [{ issuer: 'https://broker.example', jwks: new URL('https://broker.example/jwks') }],
 *   replayStore: new MemoryReplayStore(),
 * });
 * const { assertion } = parseJwtBearerRequest(form);
 * // A DPoP proof, when the request carries one: a key-bound ID-JAG (cnf.jkt) needs it.
 * const verifyDpop = createDpopVerifier({ replayStore });
 * const dpop = request.headers.has('dpop') ? await verifyDpop({ header: request.headers.get('dpop'), method: 'POST', url: 'https://todo.example/token' }) : undefined;
 * const claims = await verifyIdJag(assertion, { clientId: authenticatedClientId, dpop });
 *
 * // Resource-pulled profile: the client presents an ID-JAG reference instead (RFC 8693).
 * const redeem = createReferenceRedeemer({
 *   broker: { issuer: 'https://broker.example', clientId: 'todo-as', clientSecret: process.env.BACKCHANNEL_SECRET },
 *   verifyIdJag, // the same verifier: both profiles end in the same checks
 * });
 * const { reference } = parseReferenceExchangeRequest(form);
 * const sameClaims = await redeem(reference, { clientId: authenticatedClientId });
 * ```
 *
 * @packageDocumentation
 */

export { createIdJagVerifier } from './verifier.js';
export type { IdJagVerifier, IdJagVerifierOptions, IdJagVerificationContext, TrustedIssuer } from './verifier.js';

export { validateIdJagClaims, isForbiddenAlgorithm, isIdJagTyp } from './validate.js';
export type {
  AuthorizationDetail,
  IdJagClaims,
  IdJagExpectations,
  IdJagRejection,
  IdJagValidationResult,
  SubjectIdentifier,
} from './validate.js';

export { createDpopVerifier } from './dpop.js';
export type { DpopRequest, DpopVerifier, DpopVerifierOptions } from './dpop.js';
export { accessTokenHash, DPOP_ALGORITHMS, normalizeHtu } from '../dpop/proof.js';

export { MemoryReplayStore } from './replay.js';
export type { ReplayStore, MemoryReplayStoreOptions } from './replay.js';

export { parseJwtBearerRequest, exceedsAssertionLimit } from './request.js';

export { createReferenceRedeemer, parseReferenceExchangeRequest } from './pulled.js';
export type { BrokerBackChannel, ReferenceExchangeRequest, ReferenceRedeemer, ReferenceRedeemerOptions } from './pulled.js';
export type { JwtBearerRequest } from './request.js';

export {
  PROTECTED_RESOURCE_WELL_KNOWN,
  bearerChallenge,
  buildProtectedResourceMetadata,
  protectedResourceMetadataUrl,
  readBearerToken,
} from './protected-resource.js';
export type {
  BearerChallengeInput,
  BearerErrorCode,
  BearerMethod,
  BearerTokenPresented,
  ProtectedResourceMetadata,
  ProtectedResourceMetadataInput,
} from './protected-resource.js';

export { createAccessTokenVerifier } from './access-token.js';
export type { AccessTokenRejectionReason, AccessTokenVerdict, AccessTokenVerifier, AccessTokenVerifierOptions, VerifiedAccessToken } from './access-token.js';

export { checkResourceIndicator } from './resource-indicator.js';

export { IdJagRejected } from './errors.js';
/** The error classes this kit throws, re-exported so embedders can `instanceof` them. */
export { OAuthError, InvalidDpopProof, InvalidGrant, InvalidRequest, InvalidTarget, ServerError, TemporarilyUnavailable, UnsupportedGrantType, UnsupportedTokenType } from '../oauth/errors.js';
export { toRefusalReason } from './reasons.js';
export type { IdJagRejectionReason } from './reasons.js';

export {
  ID_JAG_TYP,
  JWT_BEARER_GRANT_TYPE,
  JWT_DPOP_GRANT_TYPE,
  DEFAULT_ID_JAG_ALGORITHMS,
  DEFAULT_CLOCK_TOLERANCE,
  DEFAULT_ID_JAG_MAX_LIFETIME,
  MAX_ASSERTION_BYTES,
  DEFAULT_REPLAY_STORE_MAX_ENTRIES,
  ID_JAG_REFERENCE_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT_TYPE,
  MAX_REFERENCE_BYTES,
  DEFAULT_REDEMPTION_TIMEOUT_MS,
  MAX_REDEMPTION_RESPONSE_BYTES,
} from './limits.js';
