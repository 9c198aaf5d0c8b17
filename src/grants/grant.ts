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

export interface GrantRequest {
  form: FormParams;
  client: AuthenticatedClient;
  now: number;
  requestId: string;
  trail: AuditTrail;
}

/** One module per grant type; each declares the parameters it reads. */
export interface Grant<Services> {
  grantType: string;
  parameters: readonly string[];
  handle(request: GrantRequest, services: Services): Promise<TokenResponse>;
}
