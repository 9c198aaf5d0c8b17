/**
 * What an upstream login (OIDC or SAML) yields, once every check has passed. The broker keys the
 * person on (issuer, subject); everything else is evidence about this login.
 */

export interface SamlNameId {
  value: string;
  /** e.g. urn:oasis:names:tc:SAML:2.0:nameid-format:persistent */
  format?: string;
  nameQualifier?: string;
  spNameQualifier?: string;
}

export interface SamlAttribute {
  name: string;
  nameFormat?: string;
  friendlyName?: string;
  /** Multi-valued attributes keep every value, in document order. */
  values: string[];
}

export interface UpstreamIdentity {
  connectionId: string;
  protocol: 'oidc' | 'saml';
  /** OIDC `iss`, or the SAML IdP's entity id (the assertion's Issuer). */
  issuer: string;
  /** The stable identifier the principal is keyed on: OIDC `sub`, or the SAML NameID / configured attribute. */
  subject: string;
  /** Claims as OIDC names: the ID token's (and userinfo's) claims, or SAML attributes translated. */
  claims: Record<string, unknown>;
  /** Seconds since epoch; absent when the upstream did not say (never invented). */
  authTime?: number;
  acr?: string;
  amr: string[];
  /** Upstream session handle: OIDC `sid` or SAML SessionIndex. */
  sessionIndex?: string;
  /**
   * Seconds since epoch: the upstream's bound on the session this login starts (SAML
   * AuthnStatement SessionNotOnOrAfter). The broker session, and all tied to it, ends by then.
   */
  sessionNotOnOrAfter?: number;
  /** The SAML evidence as received, for subject-contract continuity (sub_id, contract report). */
  saml?: {
    assertionId: string;
    nameId: SamlNameId;
    attributes: SamlAttribute[];
  };
}

/** One browser login in flight: created at the redirect to the upstream, consumed once at the return. */
export interface LoginTransaction {
  /** Random, ≥128 bits: the OIDC `state` or the SAML RelayState. */
  id: string;
  connectionId: string;
  /** OIDC: PKCE verifier and nonce. */
  codeVerifier?: string;
  nonce?: string;
  /** OIDC: the max_age asked of the upstream, checked against auth_time on return. */
  maxAge?: number;
  /** SAML: the AuthnRequest ID (or LogoutRequest ID), matched against InResponseTo. */
  requestId?: string;
  /** `logout`: a SAML Single Logout in flight (its LogoutResponse takes it); absent for a login. */
  purpose?: 'logout';
  /** Where to continue in the broker after the login (e.g. a pending /authorize request), JSON. */
  continuation?: string;
  /** Binds the transaction to the browser that started it (hash of a cookie value). */
  browserBinding: string;
  createdAt: number;
  expiresAt: number;
}

/** A finished upstream login: who, and where the broker was going when it sent them. */
export interface CompletedLogin {
  identity: UpstreamIdentity;
  continuation?: string;
}

export interface LoginTransactionStore {
  put(tx: LoginTransaction): Promise<void>;
  /** Returns and deletes the transaction (single use); undefined if unknown or expired. Atomic. */
  take(id: string, now: number): Promise<LoginTransaction | undefined>;
}
