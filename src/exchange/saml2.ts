import type { ClientConfig, ConnectionConfig } from '../config/schema.js';
import { principalIdOf } from '../mapping/principal.js';
import { InvalidGrant, UnsupportedTokenType } from '../oauth/errors.js';
import type { RefusalReason } from '../oauth/reasons.js';
import type { SamlSubjectAssertion, SamlSubjectTokenVerifier } from '../identity/saml-subject-token.js';
import { loginFacts, type Subject } from './subject.js';
import { believe } from '../trust/authority.js';
import type { UpstreamTrust } from '../trust/registry.js';
import type { Logger } from '../logger.js';

/**
 * subject_token_type saml2: a SAML 2.0 assertion an upstream SAML IdP (one of the broker's SAML
 * connections) issued to the client, presented base64url-encoded (RFC 8693 §3). Web standards
 * only: the verification itself (XML, signatures, schema) needs Node and is injected as a
 * SamlSubjectTokenVerifier (src/upstream/saml/subject-token.ts); a runtime without one (Workers)
 * answers unsupported_token_type.
 */

export const SAML2_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:saml2';

/**
 * Builds the verifier from the configured connections (the SAML ones), at start-up:
 * src/upstream/saml/subject-token.ts is the implementation (both runtimes), matching this shape.
 */
export type SamlSubjectTokenVerifierFactory = (connections: readonly ConnectionConfig[], deps: { fetch?: typeof fetch; clock?: () => number; logger?: Logger }) => Promise<SamlSubjectTokenVerifier>;

const REASONS: ReadonlyArray<[RefusalReason, readonly string[]]> = [
  ['token_too_large', ['token_too_large']],
  ['token_malformed', ['token_not_base64url', 'token_not_utf8', 'not_an_assertion', 'content_outside_assertion', 'doctype_present', 'xml_encoding_unsupported', 'xml_malformed', 'schema_invalid']],
  ['issuer_untrusted', ['issuer_missing', 'issuer_unknown', 'issuer_mismatch']],
  ['aud_mismatch', ['audience_not_configured', 'audience_missing', 'audience_mismatch']],
  ['saml_connection_ambiguous', ['connection_ambiguous']],
  ['expired', ['expired', 'confirmation_expired', 'session_expired']],
  ['not_yet_valid', ['not_yet_valid']],
  ['signature_invalid', ['response_unsigned', 'assertion_unsigned', 'signature_reference_invalid', 'signature_digest_mismatch', 'signature_untrusted', 'signature_invalid']],
  ['alg_not_allowed', ['signature_algorithm_refused', 'digest_algorithm_refused', 'canonicalization_refused']],
];
const REASON_BY_CODE: ReadonlyMap<string, RefusalReason> = new Map(REASONS.flatMap(([reason, codes]) => codes.map((code) => [code, reason] as const)));

/** The broker-wide reason for a SAML refusal code; the code itself goes to the audit detail. */
export function samlRefusalReason(code: string): RefusalReason {
  return REASON_BY_CODE.get(code) ?? 'saml_assertion_invalid';
}

/** Step: verify the assertion against the connections at which this client has an Audience. */
export async function verifySamlSubjectToken(token: string, client: ClientConfig, verifier: SamlSubjectTokenVerifier | undefined, now: number): Promise<SamlSubjectAssertion> {
  if (!verifier) throw new UnsupportedTokenType('unsupported_token_type', 'this subject_token_type is not supported', 'no SAML verifier in this runtime');
  const result = await verifier.verify(token, new Map(Object.entries(client.saml_audiences)), now);
  if (!result.ok) throw new InvalidGrant(samlRefusalReason(result.code), 'the subject token is invalid', `saml ${result.code}${result.detail ? `: ${result.detail}` : ''}`);
  return result.assertion;
}

/**
 * Step: who the assertion is about. The principal id is derived exactly as at a SAML login
 * (IdP entity id, the connection's principal key), so the same person is the same principal
 * whichever way they arrive; the assertion is the SAML evidence (for saml_subject namespaces and
 * sub_id) and the login facts. Its ID is single use, recorded only when the mint goes ahead.
 */
export async function subjectOfSamlAssertion(a: SamlSubjectAssertion, trust: UpstreamTrust, trail: { dropped?: string[] }): Promise<Subject> {
  // The IdP is believed only for what its connection's authority says, as at a login through it.
  const believed = believe(trust.ofConnection(a.connectionId), { claims: a.claims, ...(a.acr !== undefined ? { acr: a.acr } : {}), amr: a.amr });
  if (believed.dropped.length > 0) trail.dropped = believed.dropped;
  return {
    identity: {
      principalId: await principalIdOf(a.issuer, a.subject),
      upstreamIssuer: a.issuer,
      upstreamSubject: a.subject,
      claims: believed.claims,
      ...(believed.tenant !== undefined ? { tenant: believed.tenant } : {}),
      saml: { assertionId: a.assertionId, nameId: a.nameId, attributes: a.attributes },
    },
    login: loginFacts(a.authTime, believed.acr, believed.amr ?? []),
    singleUse: { scope: a.replay.scope, id: a.assertionId, until: a.replay.until },
  };
}
