import type { SamlAttribute, SamlNameId } from './types.js';

/**
 * The port between the token exchange's saml2 subject token (src/exchange/saml2.ts, web standards
 * only) and the verifier that does the XML and signature work (src/upstream/saml/subject-token.ts,
 * node:crypto, which Workers provide under nodejs_compat). Both sides import it from here, so neither imports the other.
 */

/** What a verified assertion says, in the broker's vocabulary (the same one a SAML login yields). */
export interface SamlSubjectAssertion {
  connectionId: string;
  /** The IdP's entity id: the principal's upstream issuer, as at a login through that connection. */
  issuer: string;
  /** The value the connection keys people on (its principal_key): the principal's upstream subject. */
  subject: string;
  assertionId: string;
  nameId: SamlNameId;
  attributes: SamlAttribute[];
  /** Attributes as OIDC claims, translated as at login. */
  claims: Record<string, unknown>;
  authTime: number;
  acr?: string;
  amr: string[];
  /** The assertion ID is single use in this scope (the one the connection's ACS uses) until `until`. */
  replay: { scope: string; until: number };
}

/** A failure carries the SAML module's own refusal code (and safe detail); exchange/saml2.ts maps it to a RefusalReason. */
export type SamlSubjectTokenCheck = { ok: true; assertion: SamlSubjectAssertion } | { ok: false; code: string; detail?: string };

export interface SamlSubjectTokenVerifier {
  /**
   * Every stateless check, against the connections in `audiences` (connection id → the Audience the
   * assertion must carry). Stores nothing: replay is recorded by the exchange when it mints.
   */
  verify(token: string, audiences: ReadonlyMap<string, string>, now: number): Promise<SamlSubjectTokenCheck>;
}
