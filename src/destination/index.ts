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
 * const claims = await verifyIdJag(assertion, { clientId: authenticatedClientId });
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

export { MemoryReplayStore } from './replay.js';
export type { ReplayStore, MemoryReplayStoreOptions } from './replay.js';

export { parseJwtBearerRequest, exceedsAssertionLimit } from './request.js';
export type { JwtBearerRequest } from './request.js';

export { IdJagRejected } from './errors.js';
/** The error classes this kit throws, re-exported so embedders can `instanceof` them. */
export { OAuthError, InvalidGrant, InvalidRequest, UnsupportedGrantType } from '../oauth/errors.js';
export { toRefusalReason } from './reasons.js';
export type { IdJagRejectionReason } from './reasons.js';

export {
  ID_JAG_TYP,
  JWT_BEARER_GRANT_TYPE,
  DEFAULT_ID_JAG_ALGORITHMS,
  DEFAULT_CLOCK_TOLERANCE,
  DEFAULT_ID_JAG_MAX_LIFETIME,
  MAX_ASSERTION_BYTES,
  DEFAULT_REPLAY_STORE_MAX_ENTRIES,
} from './limits.js';
