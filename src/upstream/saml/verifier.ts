import type { PrincipalKey } from '../../config/saml-connection.js';
import { decryptionKeyOf } from './decrypt.js';
import { Refused, refused, type SamlRefusal } from './errors.js';
import { SAML_MAX_RESPONSE_BASE64_CHARS } from './limits.js';
import { parseIdpMetadata } from './metadata.js';
import { verifySamlResponse, type VerifiedResponse, type VerifyContext } from './response.js';

/**
 * The stateless half of the ACS behind a port, so a runtime can run it elsewhere (the Node
 * runtime runs it on a pool of worker threads: src/runtime/node-saml-pool.ts). Everything that
 * crosses is plain data: the setup once per connection, then the posted string and the clock.
 */

/** What verifying a connection's responses needs, as plain data (structured-clonable). */
export interface SamlVerifierSetup {
  connectionId: string;
  spEntityId: string;
  acsUrl: string;
  /** The IdP metadata as loaded (file, URL or inline), parsed again wherever it is used. */
  idpMetadataXml: string;
  /** The configured `idp_entity_id`, if any, that the metadata must name. */
  idpEntityId?: string;
  wantAssertionsSigned: boolean;
  wantResponseSigned: boolean;
  /** The SP's decryption key (PEM); without one, an EncryptedAssertion is refused. */
  decryptionKeyPem?: string;
  principalKey: PrincipalKey;
  authnContext?: readonly string[];
  skew: number;
}

/** What a verifier answers, as plain data. */
export type SamlVerifyOutcome = { ok: true; verified: VerifiedResponse } | { ok: false; reason: SamlRefusal };

export interface SamlResponseVerifier {
  /** Runs every stateless check; resolves the outcome, never rejects for a refused response. */
  verify(samlResponse: string, now: number): Promise<SamlVerifyOutcome>;
  /**
   * The connection no longer uses this verifier (its metadata was replaced): whatever it holds for
   * the setup may go once verifications in flight are done. Optional: in-thread verifiers hold nothing.
   */
  release?(): void;
}

export type SamlVerifierFactory = (setup: SamlVerifierSetup) => SamlResponseVerifier;

/** Builds the verification context once: the metadata parsed, the key imported. */
export function verifyContextOf(setup: SamlVerifierSetup): Omit<VerifyContext, 'now'> {
  return {
    spEntityId: setup.spEntityId,
    acsUrl: setup.acsUrl,
    idp: parseIdpMetadata(setup.idpMetadataXml, setup.idpEntityId),
    wantAssertionsSigned: setup.wantAssertionsSigned,
    wantResponseSigned: setup.wantResponseSigned,
    ...(setup.decryptionKeyPem !== undefined ? { decryptionKey: decryptionKeyOf(setup.decryptionKeyPem) } : {}),
    principalKey: setup.principalKey,
    ...(setup.authnContext ? { authnContext: setup.authnContext } : {}),
    skew: setup.skew,
  };
}

/** One verification, its refusal turned into an outcome; anything else (a bug) still throws. */
export async function verifyOutcome(ctx: Omit<VerifyContext, 'now'>, samlResponse: string, now: number): Promise<SamlVerifyOutcome> {
  try {
    return { ok: true, verified: await verifySamlResponse(samlResponse, { ...ctx, now }) };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: err.reason };
    throw err;
  }
}

/**
 * The checks worth doing before handing a post to a verifier elsewhere: they bound what is
 * copied there. verifySamlResponse repeats them.
 */
export function refuseUnpostable(samlResponse: unknown): asserts samlResponse is string {
  if (typeof samlResponse !== 'string' || samlResponse.length === 0) refused({ code: 'response_missing' });
  if (samlResponse.length > SAML_MAX_RESPONSE_BASE64_CHARS) refused({ code: 'response_too_large' });
}

/** Verifies on the calling thread (tests, tools, and runtimes without threads). */
export const inThreadVerifier: SamlVerifierFactory = (setup) => {
  let ctx: Omit<VerifyContext, 'now'> | undefined;
  return {
    verify: (samlResponse, now) => verifyOutcome((ctx ??= verifyContextOf(setup)), samlResponse, now),
  };
};
