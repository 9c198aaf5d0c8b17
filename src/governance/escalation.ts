import type { KeyRing } from '../minting/keys.js';
import { ACCESS_REQUESTS_PATH, signDenial, type DeniedQuestion } from './denial.js';

/**
 * The AuthZEN Access Request profile's `access_request` object for a denial, as both the token
 * endpoint (exchange/requestable.ts) and the PDP (authzen/) send it: requestable, where to submit,
 * why, which policy would have to be approved (`template`), until when, and the broker-signed
 * `request_context` that binds it.
 */
export async function accessRequestObject(denial: DeniedQuestion, issuer: string, keys: KeyRing): Promise<Record<string, unknown>> {
  return {
    requestable: true,
    endpoint: `${issuer.replace(/\/$/, '')}${ACCESS_REQUESTS_PATH}`,
    reason: 'approval_required',
    template: denial.policies.join(' '),
    expires_at: rfc3339(denial.expiresAt),
    request_context: await signDenial(denial, issuer, keys),
  };
}

export const rfc3339 = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
