import { OidcLoginError } from '../../src/upstream/oidc/index.js';
import type { OidcUpstream, SamlUpstream, UpstreamConnection, UpstreamRegistry } from '../../src/upstream/registry.js';
import type { CompletedLogin, UpstreamIdentity } from '../../src/identity/types.js';

export const UPSTREAM_ISSUER = 'https://idp.test';
export const UPSTREAM_AUTHORIZE = 'https://idp.test/authorize';
export const SAML_IDP = 'https://saml-idp.test/metadata';
export const SAML_SSO = 'https://saml-idp.test/sso';

/** A refused login, shaped like the real connections' errors: a connection id and an internal reason. */
export class FakeLoginFailure extends Error {
  constructor(
    readonly connectionId: string,
    readonly reason: string,
  ) {
    super(`upstream login refused (${connectionId}): ${reason}`);
    this.name = 'FakeLoginFailure';
  }
}

export function aliceIdentity(connectionId: string, authTime: number): UpstreamIdentity {
  return {
    connectionId,
    protocol: 'oidc',
    issuer: UPSTREAM_ISSUER,
    subject: 'alice',
    claims: { sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Example', given_name: 'Alice', groups: ['staff'], secret_internal: 'x' },
    authTime,
    acr: 'urn:example:mfa',
    amr: ['pwd', 'mfa'],
    sessionIndex: 'upstream-sid-1',
  };
}

interface Transaction {
  browserBinding: string;
  continuation?: string;
}

/**
 * An upstream OIDC connection that skips the protocol: startLogin records a transaction bound to
 * the browser, finishLogin takes it back once (checking the binding, as the real one does) and
 * returns the identity the test set.
 */
export class FakeOidcUpstream implements OidcUpstream {
  readonly kind = 'oidc' as const;
  readonly displayName: string;
  readonly emailDomains: string[];
  readonly isDefault: boolean;
  readonly transactions = new Map<string, Transaction>();
  readonly started: Parameters<OidcUpstream['startLogin']>[0][] = [];
  /** Who logs in next; authTime undefined means "now" on the test clock. */
  identity: (now: number) => UpstreamIdentity;

  constructor(
    readonly id: string,
    private readonly clock: () => number,
    options: { displayName?: string; emailDomains?: string[]; isDefault?: boolean; identity?: (now: number) => UpstreamIdentity } = {},
  ) {
    this.displayName = options.displayName ?? `Login with ${id}`;
    this.emailDomains = options.emailDomains ?? [];
    this.isDefault = options.isDefault ?? false;
    this.identity = options.identity ?? ((now) => aliceIdentity(id, now));
  }

  async startLogin(input: Parameters<OidcUpstream['startLogin']>[0]) {
    this.started.push(input);
    const transactionId = crypto.randomUUID();
    this.transactions.set(transactionId, { browserBinding: input.browserBinding, ...(input.continuation !== undefined ? { continuation: input.continuation } : {}) });
    return { transactionId, redirectUrl: new URL(`${UPSTREAM_AUTHORIZE}?state=${transactionId}`) };
  }

  async finishLogin(callbackUrl: URL, ctx: { browserBinding: string }): Promise<CompletedLogin> {
    const state = callbackUrl.searchParams.get('state') ?? '';
    const tx = this.transactions.get(state);
    this.transactions.delete(state);
    if (!tx) throw new FakeLoginFailure(this.id, 'transaction_unknown');
    if (!ctx.browserBinding || tx.browserBinding !== ctx.browserBinding) throw new FakeLoginFailure(this.id, 'browser_mismatch');
    const upstreamError = callbackUrl.searchParams.get('error');
    if (upstreamError !== null) {
      // As the real connection refuses the upstream's own no: the pending request goes with it.
      const refused = new OidcLoginError(this.id, 'upstream_error', { upstreamError, transactionConsumed: true });
      if (tx.continuation !== undefined) refused.continuation = tx.continuation;
      throw refused;
    }
    const login: CompletedLogin = { identity: this.identity(this.clock()) };
    if (tx.continuation !== undefined) login.continuation = tx.continuation;
    return login;
  }
}

/** A SAML connection with the same shortcut: the ACS accepts `SAMLResponse=ok` with the RelayState it issued. */
export class FakeSamlUpstream implements SamlUpstream {
  readonly kind = 'saml' as const;
  readonly displayName: string;
  readonly emailDomains: string[];
  readonly isDefault = false;
  readonly transactions = new Map<string, Transaction>();
  /** Unsolicited (IdP-initiated) responses are accepted when true. */
  allowIdpInitiated = false;
  /** Answer startLogin with an HTTP-POST form instead of a redirect. */
  usePost = false;
  /** The AuthnStatement's SessionNotOnOrAfter (seconds) of the logins this connection completes, if any. */
  sessionNotOnOrAfter?: number;

  constructor(
    readonly id: string,
    private readonly clock: () => number,
    options: { displayName?: string; emailDomains?: string[] } = {},
  ) {
    this.displayName = options.displayName ?? `SAML ${id}`;
    this.emailDomains = options.emailDomains ?? [];
  }

  /** What the last startLogin was asked, for assertions. */
  lastStart?: Parameters<SamlUpstream['startLogin']>[0];

  async startLogin(input: Parameters<SamlUpstream['startLogin']>[0]) {
    this.lastStart = input;
    const transactionId = crypto.randomUUID();
    this.transactions.set(transactionId, { browserBinding: input.browserBinding, ...(input.continuation !== undefined ? { continuation: input.continuation } : {}) });
    if (this.usePost) return { transactionId, postForm: { action: SAML_SSO, fields: { SAMLRequest: 'PHNhbWxwOkF1dGhuUmVxdWVzdC8+', RelayState: transactionId } } };
    return { transactionId, redirectUrl: `${SAML_SSO}?SAMLRequest=fake&RelayState=${transactionId}` };
  }

  async consumeResponse(body: { SAMLResponse?: string; RelayState?: string }, ctx: { browserBinding?: string }): Promise<CompletedLogin> {
    if (body.SAMLResponse !== 'ok') throw Object.assign(new Error('refused'), { connectionId: this.id, reason: { code: 'signature_missing', detail: 'no signature' } });
    const identity: UpstreamIdentity = {
      ...aliceIdentity(this.id, this.clock()),
      protocol: 'saml',
      issuer: SAML_IDP,
      subject: 'alice-persistent-id',
      amr: ['pwd'],
      saml: { assertionId: '_a1', nameId: { value: 'alice-persistent-id', format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent' }, attributes: [] },
    };
    if (this.sessionNotOnOrAfter !== undefined) identity.sessionNotOnOrAfter = this.sessionNotOnOrAfter;
    if (body.RelayState === undefined) {
      if (!this.allowIdpInitiated) throw Object.assign(new Error('refused'), { connectionId: this.id, reason: { code: 'unsolicited' } });
      return { identity };
    }
    const tx = this.transactions.get(body.RelayState);
    this.transactions.delete(body.RelayState);
    if (!tx) throw Object.assign(new Error('refused'), { connectionId: this.id, reason: { code: 'transaction_unknown' } });
    if (tx.browserBinding !== ctx.browserBinding) throw Object.assign(new Error('refused'), { connectionId: this.id, reason: { code: 'browser_mismatch' } });
    return tx.continuation !== undefined ? { identity, continuation: tx.continuation } : { identity };
  }

  spMetadata(): string {
    return `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://broker.test/login/saml/${this.id}/metadata"/>`;
  }
}

export class FakeRegistry implements UpstreamRegistry {
  constructor(readonly connections: UpstreamConnection[]) {}

  list(): readonly UpstreamConnection[] {
    return this.connections;
  }

  get(id: string): UpstreamConnection | undefined {
    return this.connections.find((c) => c.id === id);
  }
}
