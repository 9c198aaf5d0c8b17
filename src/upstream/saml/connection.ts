import { createHash, createPrivateKey, createPublicKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import * as samlify from 'samlify';
import { constantTimeEqual } from '../../clients/secrets.js';
import type { ReplayGuard } from '../../store/ports.js';
import type { LoginTransaction, LoginTransactionStore, UpstreamIdentity } from '../../identity/types.js';
import { Refused, refused, SamlConfigError, SamlLoginError, type SamlRefusal } from './errors.js';
import { amrFor, NAMEID_FORMAT } from './identity.js';
import { translateSamlAttributes } from '../../migration/claims.js';
import { SAML_LOGIN_TRANSACTION_LIFETIME, SAML_MAX_RELAY_STATE_CHARS, SAML_MIN_RSA_BITS } from './limits.js';
import { loadMetadataText, MetadataError, type IdpMetadata } from './metadata.js';
import { IdpMetadataSource, metadataSigningKeys, trustedCopy, type MetadataCopy, type MetadataStatus } from './metadata-source.js';
import { systemClock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { VerifiedResponse } from './response.js';
import { inThreadVerifier, refuseUnpostable, type SamlVerifierFactory } from './verifier.js';
import { resolveSpKeySecrets, samlConnectionSchema, type SamlConnectionConfig, type SamlConnectionInput, type SecretSource } from '../../config/saml-connection.js';
import { insecureUrlProblem } from '../../config/urls.js';
import { escapeXml, isoInstant, NS } from './xml.js';
import { createSamlSingleLogout, singleLogoutUrl, type SamlSingleLogout } from './logout.js';

/**
 * One upstream SAML 2.0 IdP, with the broker as service provider: SP metadata, SP-initiated login
 * over HTTP-Redirect or HTTP-POST (samlify builds and signs the AuthnRequest), and the Assertion
 * Consumer Service over HTTP-POST, which does every check samlify leaves to its caller
 * (docs/saml.md lists them) and consumes state only once everything else has passed.
 */

export interface SamlConnectionDeps {
  /** Remembers assertion IDs until the assertion expires. */
  replay: ReplayGuard;
  transactions: LoginTransactionStore;
  /** Seconds since epoch. Every time check uses it. */
  clock: () => number;
  /** Fetches `idp_metadata_url`; tests pass their own. */
  fetch?: typeof fetch;
  /** Where the stateless checks run; on the calling thread unless a runtime supplies threads. */
  verifier?: SamlVerifierFactory;
  /** Where a failed metadata refresh is reported (metadata-source.ts). */
  logger?: Logger;
  /** Reads the secrets `private_key_env` names (process.env on Node, the Worker's env on Workers). */
  secret?: SecretSource;
}

const noSecrets: SecretSource = () => undefined;

/** The configuration parsed, each `private_key_env` read from `secret` (a missing one is a SamlConfigError). */
function parseWithSecrets(input: SamlConnectionInput, secret: SecretSource = noSecrets): SamlConnectionConfig {
  let resolved: SamlConnectionInput;
  try {
    resolved = resolveSpKeySecrets(input, secret);
  } catch (err) {
    // A configuration error of its own comes first (and names nothing the secret holds).
    throw new SamlConfigError(samlConnectionSchema.parse(input).id, err instanceof Error ? err.message : String(err));
  }
  return samlConnectionSchema.parse(resolved);
}

export interface SamlStartLoginInput {
  /** How the browser carries the AuthnRequest to the IdP; default the connection's `ssoBinding`. */
  binding?: SsoBinding;
  /** Hash of the browser's binding cookie; the ACS post must present the same. */
  browserBinding: string;
  /** Opaque to this module; handed back by consumeResponse. */
  continuation?: string;
  /** Ask the IdP to authenticate the user again (e.g. for prompt=login or max_age). */
  forceAuthn?: boolean;
}

export interface SamlStartedLogin {
  /** The transaction id, which is also the RelayState sent to the IdP. */
  transactionId: string;
  /** The AuthnRequest ID; the response's InResponseTo must equal it. */
  requestId: string;
  /** HTTP-Redirect: send the browser here. */
  redirectUrl?: string;
  /** HTTP-POST: have the browser post these fields to `action` (an auto-submitting form). */
  postForm?: { action: string; fields: Record<string, string> };
}

export interface SamlFinishedLogin {
  identity: UpstreamIdentity;
  /** The `continuation` given to startLogin; absent for an IdP-initiated login. */
  continuation?: string;
  /** `idp` only when the connection allows unsolicited responses and this was one. */
  initiatedBy: 'sp' | 'idp';
}

export type SsoBinding = 'redirect' | 'post';

export interface SamlConnection {
  readonly id: string;
  readonly config: SamlConnectionConfig;
  /** The binding a login starts with: `sso_binding`, else Redirect when the IdP offers it, else POST. */
  readonly ssoBinding: SsoBinding;
  /** The IdP's entity id, from its metadata: every Issuer must equal it. */
  readonly idpEntityId: string;
  /** The SP metadata XML to give the IdP: entityID, ACS (HTTP-POST), certificates, AuthnRequestsSigned, WantAssertionsSigned. */
  spMetadata(): string;
  startLogin(input: SamlStartLoginInput): Promise<SamlStartedLogin>;
  /** The ACS: checks the posted SAMLResponse and returns the identity, or throws SamlLoginError. */
  consumeResponse(body: { SAMLResponse?: unknown; RelayState?: unknown }, ctx: { browserBinding?: string }): Promise<SamlFinishedLogin>;
  /** The IdP metadata's lifecycle: refresh when due (the maintenance run calls it) and status. */
  readonly metadata: { refreshIfDue(now: number): Promise<MetadataStatus>; status(now: number): MetadataStatus };
  /** Single Logout (logout.ts); absent when the broker has no SLO URL for this connection. */
  readonly logout?: SamlSingleLogout;
}

const BINDING = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
} as const;
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const encoder = new TextEncoder();

interface SpKeyPair {
  key: KeyObject;
  /** PKCS#1 PEM, as samlify's node-rsa signer reads it. */
  keyPem: string;
  certPem: string;
}

/**
 * The certificate's key is the private key's public half: compared as SubjectPublicKeyInfo bytes.
 * (`X509Certificate.checkPrivateKey` answers false for a matching pair on workerd.)
 */
function sameSpki(a: KeyObject, b: KeyObject): boolean {
  const der = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  return der(a).equals(der(b));
}

function loadKeyPair(connectionId: string, pair: { private_key?: string | undefined; certificate: string }, what: string): SpKeyPair {
  if (pair.private_key === undefined) throw new SamlConfigError(connectionId, `${what}.private_key_env was not read`);
  let key: KeyObject;
  let cert: X509Certificate;
  try {
    key = createPrivateKey(pair.private_key);
    cert = new X509Certificate(pair.certificate);
  } catch {
    throw new SamlConfigError(connectionId, `${what}: the private key or certificate cannot be parsed`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new SamlConfigError(connectionId, `${what}: the key must be RSA`);
  if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < SAML_MIN_RSA_BITS) throw new SamlConfigError(connectionId, `${what}: the key is shorter than ${SAML_MIN_RSA_BITS} bits`);
  if (!sameSpki(cert.publicKey, createPublicKey(key))) throw new SamlConfigError(connectionId, `${what}: the certificate does not match the private key`);
  return { key, keyPem: key.export({ type: 'pkcs1', format: 'pem' }).toString(), certPem: cert.toString() };
}

const BINDING_NAME = { redirect: 'HTTP-Redirect', post: 'HTTP-POST' } as const;

/** The configured binding, which the IdP must offer; unset, Redirect when offered (no page in between), else POST. */
function chooseSsoBinding(connectionId: string, idp: IdpMetadata, configured: SsoBinding | undefined): SsoBinding {
  if (configured !== undefined) {
    if (!idp.singleSignOn[configured]) throw new SamlConfigError(connectionId, `sso_binding is ${configured} but the IdP metadata offers no ${BINDING_NAME[configured]} SingleSignOnService`);
    return configured;
  }
  return idp.singleSignOn.redirect ? 'redirect' : 'post';
}

/** A minimal IdP metadata for samlify, built from what was parsed: only what building requests needs. */
function samlifyIdpMetadata(idp: IdpMetadata, wantSigned: boolean): string {
  const services = (['redirect', 'post'] as const)
    .filter((b) => idp.singleSignOn[b])
    .map((b) => `<md:SingleSignOnService Binding="${BINDING[b]}" Location="${escapeXml(idp.singleSignOn[b]!)}"/>`)
    .join('');
  return (
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" entityID="${escapeXml(idp.entityId)}">` +
    `<md:IDPSSODescriptor WantAuthnRequestsSigned="${wantSigned}" protocolSupportEnumeration="${NS.protocol}">${services}</md:IDPSSODescriptor>` +
    `</md:EntityDescriptor>`
  );
}

function authnRequestXml(o: { id: string; issueInstant: string; destination: string; acsUrl: string; spEntityId: string; nameIdFormat?: string; forceAuthn: boolean; authnContext?: readonly string[] }): string {
  const policyFormat = o.nameIdFormat ? ` Format="${escapeXml(o.nameIdFormat)}"` : '';
  const requested = o.authnContext
    ? `<samlp:RequestedAuthnContext Comparison="exact">${o.authnContext.map((c) => `<saml:AuthnContextClassRef>${escapeXml(c)}</saml:AuthnContextClassRef>`).join('')}</samlp:RequestedAuthnContext>`
    : '';
  return (
    `<samlp:AuthnRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${o.id}" Version="2.0" IssueInstant="${o.issueInstant}"` +
    ` Destination="${escapeXml(o.destination)}" ProtocolBinding="${BINDING.post}" AssertionConsumerServiceURL="${escapeXml(o.acsUrl)}"${o.forceAuthn ? ' ForceAuthn="true"' : ''}>` +
    `<saml:Issuer>${escapeXml(o.spEntityId)}</saml:Issuer>` +
    `<samlp:NameIDPolicy${policyFormat} AllowCreate="true"/>` +
    requested +
    `</samlp:AuthnRequest>`
  );
}

/** Replay records are scoped by IdP (assertion IDs are unique per issuer), hashed to bound the scope's length. */
function replayScope(idpEntityId: string): string {
  return `saml-assertion:${createHash('sha256').update(idpEntityId, 'utf8').digest('base64url')}`;
}

function sameBinding(a: string, b: string): boolean {
  return constantTimeEqual(encoder.encode(a), encoder.encode(b));
}

function toIdentity(connectionId: string, v: VerifiedResponse): UpstreamIdentity {
  const identity: UpstreamIdentity = {
    connectionId,
    protocol: 'saml',
    issuer: v.issuer,
    subject: v.subject,
    // The default SAML → OIDC claim table; conflicting single-valued attributes are left out, not guessed.
    claims: translateSamlAttributes(v.attributes).claims,
    authTime: v.authTime,
    amr: amrFor(v.acr),
    saml: { assertionId: v.assertionId, nameId: v.nameId, attributes: v.attributes },
  };
  if (v.acr !== undefined) identity.acr = v.acr;
  if (v.sessionIndex !== undefined) identity.sessionIndex = v.sessionIndex;
  if (v.sessionNotOnOrAfter !== undefined) identity.sessionNotOnOrAfter = v.sessionNotOnOrAfter;
  return identity;
}

/** What start-up makes of a connection's configuration and its IdP metadata before it serves. */
export interface ValidatedSamlConnection {
  idp: IdpMetadata;
  signing?: SpKeyPair;
  encryption?: SpKeyPair;
  /** `authn_requests_signed`, or forced by the IdP's WantAuthnRequestsSigned. */
  signRequests: boolean;
  ssoBinding: SsoBinding;
}

function spKeys(config: SamlConnectionConfig): Pick<ValidatedSamlConnection, 'signing' | 'encryption'> {
  // SAML profiles §4.4.4.1: over HTTP-Redirect and HTTP-POST, logout messages MUST be signed.
  if (config.slo_url !== undefined && !config.sp_signing) throw new SamlConfigError(config.id, 'slo_url needs sp_signing: logout messages over the browser bindings must be signed (SAML profiles §4.4.4.1)');
  return {
    ...(config.sp_signing ? { signing: loadKeyPair(config.id, config.sp_signing, 'sp_signing') } : {}),
    ...(config.sp_encryption ? { encryption: loadKeyPair(config.id, config.sp_encryption, 'sp_encryption') } : {}),
  };
}

async function loadMetadata(config: SamlConnectionConfig, fetchImpl?: typeof fetch): Promise<string> {
  try {
    return await loadMetadataText(config, fetchImpl);
  } catch (err) {
    if (err instanceof MetadataError) throw new SamlConfigError(config.id, err.message);
    throw err;
  }
}

/**
 * Every check start-up makes of a connection, given its IdP metadata document: the SP keys, the
 * metadata (entity, signing certificates, endpoints), https single sign-on URLs, a signing key when
 * requests must be signed, an offered binding. `npm run check` runs this same function, so check
 * and start cannot disagree. Throws SamlConfigError.
 */
export function validateSamlConnection(config: SamlConnectionConfig, metadataXml: string, now: number): ValidatedSamlConnection {
  const keys = spKeys(config);
  let idp: IdpMetadata;
  try {
    // Signature (when metadata_signing_certificate is set), the IdP's entry, validUntil: as at start.
    idp = trustedCopy(metadataXml, { fromUrl: config.idp_metadata_url !== undefined, ...signerOf(config), ...(config.idp_entity_id !== undefined ? { entityId: config.idp_entity_id } : {}), now }).idp;
  } catch (err) {
    if (err instanceof MetadataError) throw new SamlConfigError(config.id, err.message);
    throw err;
  }
  return { idp, ...keys, ...validateIdp(config, idp, keys) };
}

function signerOf(config: SamlConnectionConfig): { keys?: ReturnType<typeof metadataSigningKeys> } {
  return config.metadata_signing_certificate === undefined ? {} : { keys: metadataSigningKeys(config.metadata_signing_certificate) };
}

/**
 * The checks of one IdP metadata copy against the connection, at start and for every refreshed
 * copy: https single sign-on URLs, a signing key when requests must be signed, an offered binding.
 */
function validateIdp(config: SamlConnectionConfig, idp: IdpMetadata, keys: Pick<ValidatedSamlConnection, 'signing'>): Pick<ValidatedSamlConnection, 'signRequests' | 'ssoBinding'> {
  const { id } = config;
  for (const [binding, location] of Object.entries(idp.singleSignOn)) {
    // The browser carries the AuthnRequest there: the same rule as for every URL in the configuration.
    const problem = insecureUrlProblem(location, config.allow_insecure_http_for_loopback);
    if (problem) throw new SamlConfigError(id, `the IdP's ${BINDING_NAME[binding as SsoBinding]} SingleSignOnService Location ${location} ${problem}`);
  }
  const signRequests = config.authn_requests_signed || idp.wantAuthnRequestsSigned;
  if (signRequests && !keys.signing) throw new SamlConfigError(id, 'the IdP wants signed AuthnRequests: configure sp_signing');
  return { signRequests, ssoBinding: chooseSsoBinding(id, idp, config.sso_binding) };
}

/**
 * `npm run check` for one connection: validateSamlConnection over metadata from a file or inline.
 * Metadata at a URL is not fetched (check stays off the network): only the SP keys are checked.
 */
export async function checkSamlConnection(input: SamlConnectionInput, secret?: SecretSource): Promise<{ metadata: 'validated' | 'not_fetched' }> {
  const config = parseWithSecrets(input, secret);
  if (config.idp_metadata_url !== undefined) {
    spKeys(config);
    return { metadata: 'not_fetched' };
  }
  validateSamlConnection(config, await loadMetadata(config), systemClock());
  return { metadata: 'validated' };
}

/**
 * Builds a connection: parses the configuration, loads and parses the IdP metadata, checks the SP
 * keys. Throws a ZodError for a bad configuration and SamlConfigError for unusable metadata or keys.
 */
export async function createSamlConnection(input: SamlConnectionInput, deps: SamlConnectionDeps): Promise<SamlConnection> {
  const config = parseWithSecrets(input, deps.secret);
  const { id } = config;
  const { signing, encryption } = spKeys(config);
  /** What the copy in use was validated to: fixed for signRequests (the SP is built once), per copy for the binding. */
  let validated: Pick<ValidatedSamlConnection, 'signRequests' | 'ssoBinding'> | undefined;
  let source: IdpMetadataSource;
  try {
    source = await IdpMetadataSource.load(config, {
      clock: deps.clock,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      ...(deps.logger ? { logger: deps.logger } : {}),
      // Every copy passes start-up's checks; a refreshed copy that fails them is a failed refresh
      // (the last good copy stays in use). The SP (and its published metadata) is built once: a
      // refreshed IdP that starts wanting signed requests this connection does not sign is refused.
      accept: (idp) => {
        if (validated === undefined) {
          validated = validateIdp(config, idp, { ...(signing ? { signing } : {}) });
          return;
        }
        try {
          const next = validateIdp(config, idp, { ...(signing ? { signing } : {}) });
          if (next.signRequests && !validated.signRequests) throw new MetadataError('the IdP now wants signed AuthnRequests: configure sp_signing and restart');
        } catch (err) {
          if (err instanceof SamlConfigError) throw new MetadataError(err.problem);
          throw err;
        }
      },
    });
  } catch (err) {
    if (err instanceof MetadataError) throw new SamlConfigError(id, err.message);
    throw err;
  }
  let idp: IdpMetadata = source.current.idp;
  const signRequests = validated!.signRequests;
  let ssoBinding = validated!.ssoBinding;
  const nameIdFormat = config.principal_key.kind === 'nameid' ? NAMEID_FORMAT.persistent : undefined;
  const sloUrl = singleLogoutUrl(config);

  const sp = samlify.ServiceProvider({
    entityID: config.sp_entity_id,
    authnRequestsSigned: signRequests,
    wantAssertionsSigned: config.want_assertions_signed,
    wantMessageSigned: config.want_response_signed,
    assertionConsumerService: [{ Binding: BINDING.post, Location: config.acs_url }],
    ...(sloUrl ? { singleLogoutService: [{ Binding: BINDING.redirect, Location: sloUrl }, { Binding: BINDING.post, Location: sloUrl }] } : {}),
    nameIDFormat: nameIdFormat ? [nameIdFormat] : [],
    requestSignatureAlgorithm: RSA_SHA256,
    ...(signing ? { privateKey: signing.keyPem, signingCert: signing.certPem } : {}),
    // Only the certificate: samlify publishes it; decryption is the broker's (decrypt.ts).
    ...(encryption ? { encryptCert: encryption.certPem } : {}),
  });
  let idpEntity = samlify.IdentityProvider({ metadata: samlifyIdpMetadata(idp, signRequests) });
  const spMetadataXml = sp.getMetadata();

  const verifierFor = (metadataXml: string) => (deps.verifier ?? inThreadVerifier)({
    connectionId: id,
    spEntityId: config.sp_entity_id,
    acsUrl: config.acs_url,
    idpMetadataXml: metadataXml,
    ...(config.idp_entity_id !== undefined ? { idpEntityId: config.idp_entity_id } : {}),
    wantAssertionsSigned: config.want_assertions_signed,
    wantResponseSigned: config.want_response_signed,
    ...(config.sp_encryption?.private_key !== undefined ? { decryptionKeyPem: config.sp_encryption.private_key } : {}),
    principalKey: config.principal_key,
    ...(config.authn_context ? { authnContext: config.authn_context } : {}),
    skew: config.clock_skew,
  });
  let verifier = verifierFor(source.current.xml);
  let applied: MetadataCopy = source.current;

  /**
   * The metadata copy for this use (refreshed when due, refused when expired): a new copy (e.g.
   * a certificate rollover) replaces the IdP endpoints and the verifier's keys without a restart.
   */
  function useMetadata(now: number): Promise<void> | undefined {
    // Only a due fetch waits; otherwise nothing is awaited (a login's verification is queued at once).
    if (source.isDue(now)) return source.use(now).then(apply);
    apply(source.valid(now));
    return undefined;
  }

  function apply(copy: MetadataCopy): void {
    if (copy.version === applied.version) return;
    const previous = verifier;
    idp = copy.idp;
    ssoBinding = chooseSsoBinding(id, idp, config.sso_binding);
    idpEntity = samlify.IdentityProvider({ metadata: samlifyIdpMetadata(idp, signRequests) });
    verifier = verifierFor(copy.xml);
    applied = copy;
    previous.release?.();
  }

  const refuse = (reason: SamlRefusal, consumed = false) => new SamlLoginError(id, reason, { transactionConsumed: consumed });
  const asLoginError = (err: unknown, consumed: boolean): unknown => (err instanceof Refused ? refuse(err.reason, consumed) : err);

  async function startLogin(start: SamlStartLoginInput): Promise<SamlStartedLogin> {
    if (!start.browserBinding) throw refuse({ code: 'invalid_request', detail: 'browserBinding is empty' });
    const now = deps.clock();
    try {
      await useMetadata(now);
    } catch (err) {
      throw asLoginError(err, false);
    }
    const binding = start.binding ?? ssoBinding;
    if (binding !== 'redirect' && binding !== 'post') throw refuse({ code: 'invalid_request', detail: 'binding must be redirect or post' });
    const destination = idp.singleSignOn[binding];
    if (!destination) throw refuse({ code: 'binding_unsupported', detail: `the IdP has no ${BINDING_NAME[binding]} SingleSignOnService` });

    const tx: LoginTransaction = {
      id: randomBytes(32).toString('base64url'),
      connectionId: id,
      requestId: `_${randomBytes(20).toString('hex')}`,
      browserBinding: start.browserBinding,
      createdAt: now,
      expiresAt: now + SAML_LOGIN_TRANSACTION_LIFETIME,
    };
    if (start.continuation !== undefined) tx.continuation = start.continuation;
    const xml = authnRequestXml({
      id: tx.requestId!,
      issueInstant: isoInstant(now),
      destination,
      acsUrl: config.acs_url,
      spEntityId: config.sp_entity_id,
      ...(nameIdFormat ? { nameIdFormat } : {}),
      forceAuthn: start.forceAuthn === true,
      ...(config.authn_context ? { authnContext: config.authn_context } : {}),
    });
    // samlify signs: the query string for Redirect, an enveloped XML signature for POST.
    const built = sp.createLoginRequest(idpEntity, binding, {
      relayState: tx.id,
      customTagReplacement: () => ({ id: tx.requestId!, context: xml }),
    });
    if (built.id !== tx.requestId) throw new Error('samlify built a request with another ID');
    await deps.transactions.put(tx);
    if (binding === 'redirect') return { transactionId: tx.id, requestId: tx.requestId!, redirectUrl: built.context };
    return { transactionId: tx.id, requestId: tx.requestId!, postForm: { action: destination, fields: { SAMLRequest: built.context, RelayState: tx.id } } };
  }

  /**
   * Stateless checks first: a response refused there has touched no store (no transaction taken,
   * nothing recorded), so a forged or broken post cannot cancel a login in flight. Then the
   * transaction named by RelayState is taken (single use) and matched; from then on it is gone,
   * whatever follows. Last, the assertion ID is recorded until the assertion expires.
   */
  async function consumeResponse(body: { SAMLResponse?: unknown; RelayState?: unknown }, ctx: { browserBinding?: string }): Promise<SamlFinishedLogin> {
    const now = deps.clock();
    let verified: VerifiedResponse;
    try {
      refuseUnpostable(body.SAMLResponse);
      // Before anything is verified: an expired metadata copy has no keys to trust.
      const fetching = useMetadata(now);
      if (fetching) await fetching;
      const outcome = await verifier.verify(body.SAMLResponse, now);
      if (!outcome.ok) refused(outcome.reason);
      verified = outcome.verified;
    } catch (err) {
      throw asLoginError(err, false);
    }
    const identity = toIdentity(id, verified);

    let tx: LoginTransaction | undefined;
    let consumed = false;
    try {
      if (verified.inResponseTo === undefined) {
        // An unsolicited response; its RelayState (if any) is not ours and is not used.
        if (!config.allow_idp_initiated) refused({ code: 'unsolicited' });
      } else {
        const relayState = body.RelayState;
        if (typeof relayState !== 'string' || relayState.length === 0) refused({ code: 'relay_state_missing' });
        if (relayState.length > SAML_MAX_RELAY_STATE_CHARS || !/^[A-Za-z0-9_-]+$/.test(relayState)) refused({ code: 'relay_state_invalid' });
        tx = await deps.transactions.take(relayState, now);
        // The store cannot say whether the id was never issued, has expired or was already used.
        if (!tx || tx.purpose === 'logout') refused({ code: 'transaction_unknown' });
        consumed = true;
        if (tx.expiresAt <= now) refused({ code: 'transaction_expired' });
        if (tx.connectionId !== id) refused({ code: 'transaction_connection_mismatch', detail: `started at ${tx.connectionId}` });
        if (!ctx.browserBinding || !sameBinding(tx.browserBinding, ctx.browserBinding)) refused({ code: 'browser_mismatch' });
        if (!tx.requestId || tx.requestId !== verified.inResponseTo) refused({ code: 'in_response_to_mismatch' });
      }
      const fresh = await deps.replay.consume(replayScope(idp.entityId), verified.assertionId, verified.replayUntil, now);
      if (!fresh) refused({ code: 'assertion_replayed' });
    } catch (err) {
      throw asLoginError(err, consumed);
    }

    const finished: SamlFinishedLogin = { identity, initiatedBy: tx ? 'sp' : 'idp' };
    if (tx?.continuation !== undefined) finished.continuation = tx.continuation;
    return finished;
  }

  /** Logout messages verify against the newest copy the source holds (a maintenance-run refresh included). */
  const currentIdp = () => {
    apply(source.current);
    return idp;
  };
  const logout =
    sloUrl &&
    createSamlSingleLogout({ connectionId: id, spEntityId: config.sp_entity_id, url: sloUrl, idp: currentIdp, skew: config.clock_skew, sp, sign: signing !== undefined, replay: deps.replay, transactions: deps.transactions, clock: deps.clock });

  return {
    id,
    config,
    /** The binding of the metadata copy in use (a refresh may change what the IdP offers). */
    get ssoBinding() {
      return ssoBinding;
    },
    // The entity id is pinned: a refreshed copy must name the same IdP (metadata-source.ts).
    idpEntityId: idp.entityId,
    spMetadata: () => spMetadataXml,
    startLogin,
    consumeResponse,
    metadata: { refreshIfDue: (now) => source.refreshIfDue(now), status: (now) => source.status(now) },
    ...(logout ? { logout } : {}),
  };
}

export { replayScope as samlReplayScope };
