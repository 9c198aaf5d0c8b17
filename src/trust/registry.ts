import { NO_AUTHORITY, type UpstreamAuthority } from './authority.js';

/**
 * Who is believed about what, by upstream: trusted issuers (ID tokens presented as subject tokens)
 * by issuer, login connections (OIDC and SAML, and `saml2` subject tokens) by connection id. An
 * upstream without an authority block is believed about nothing but who the person is.
 */
export class UpstreamTrust {
  constructor(
    private readonly byIssuer: ReadonlyMap<string, UpstreamAuthority>,
    private readonly byConnection: ReadonlyMap<string, UpstreamAuthority>,
  ) {}

  /** The authority of a trusted issuer's ID tokens. */
  ofIssuer(issuer: string): UpstreamAuthority {
    return this.byIssuer.get(issuer) ?? NO_AUTHORITY;
  }

  /** The authority of a login connection (and of the assertions its IdP issues to clients). */
  ofConnection(connectionId: string): UpstreamAuthority {
    return this.byConnection.get(connectionId) ?? NO_AUTHORITY;
  }
}
