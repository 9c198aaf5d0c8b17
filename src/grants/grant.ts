import type { AuthenticatedClient } from '../clients/authenticate.js';
import type { FormParams } from '../http/form.js';
import type { AuditRecord } from '../store/ports.js';

/** The successful token response body (RFC 6749 §5.1, RFC 8693 §2.2.1). */
export interface TokenResponse {
  access_token: string;
  issued_token_type?: string;
  token_type: string;
  expires_in: number;
  scope?: string;
}

/** What a grant learned so far; written to the audit log whether the request succeeds or not. */
export type AuditTrail = Partial<Omit<AuditRecord, 'at' | 'event' | 'requestId'>>;

/** A request's DPoP proof (RFC 9449), as the token endpoint received it, with what it must name. */
export interface DpopPresented {
  /** The `DPoP` header's value (several headers arrive joined by ", "). */
  proof: string;
  htm: string;
  /** The token endpoint's public URL: the issuer's base + its path, not the URL the request reached. */
  htu: string;
}

export interface GrantRequest {
  form: FormParams;
  /** Present when the request carried a `DPoP` header; only grants with `dpop: true` ever see one. */
  dpop?: DpopPresented;
  /** The thumbprint of the key a valid proof was made with: what the grant binds its token to (`cnf.jkt`). */
  jkt?: string;
  client: AuthenticatedClient;
  now: number;
  requestId: string;
  trail: AuditTrail;
}

/** One module per grant type; each declares the parameters it reads. */
export interface Grant<Services> {
  grantType: string;
  parameters: readonly string[];
  /** The grant checks DPoP proofs and binds what it issues to their key; any other grant refuses a proof. */
  dpop?: boolean;
  handle(request: GrantRequest, services: Services): Promise<TokenResponse>;
}
