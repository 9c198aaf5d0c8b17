import { z } from 'zod';
import type { ConnectionConfig } from './schema.js';
import { insecureUrlProblem, webUrl } from './urls.js';
import { CLOCK_SKEW, SAML_MAX_CLOCK_SKEW } from '../constants.js';

/**
 * One upstream SAML 2.0 IdP the broker federates as a service provider. Unknown keys are mistakes,
 * not extensions. HTTP (not HTTPS) is accepted only for loopback hosts and only when the
 * connection says so, for tests and the demo.
 */

const PEM_CERT = /^\s*-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*$/;
const PEM_KEY = /^\s*-----BEGIN (RSA |EC )?PRIVATE KEY-----[A-Za-z0-9+/=\s]+-----END (RSA |EC )?PRIVATE KEY-----\s*$/;

/** An environment variable's (or Worker secret's) name. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * An SP key pair as PEM: an unencrypted PKCS#8 (or PKCS#1) private key and its certificate. The
 * private key is written in the file (`private_key`) or named (`private_key_env`): an environment
 * variable on Node, a secret (`wrangler secret put`) on Workers, read when the connection is built
 * (resolveSpKeySecrets), so that it is in neither the configuration nor, on Workers, the bundle.
 */
const keyPair = z
  .object({
    private_key: z.string().regex(PEM_KEY, 'expected an unencrypted PEM private key').optional(),
    private_key_env: z.string().regex(ENV_NAME, 'expected an environment variable name').optional(),
    certificate: z.string().regex(PEM_CERT, 'expected one PEM certificate'),
  })
  .strict()
  .refine((p) => (p.private_key === undefined) !== (p.private_key_env === undefined), { message: 'exactly one of private_key or private_key_env is required', path: ['private_key'] });

/** A key pair whose private key has been read (resolveSpKeySecrets). */
export interface ResolvedKeyPair {
  private_key: string;
  certificate: string;
}

/** Where a runtime reads a named secret: process.env on Node, the Worker's env on Workers. */
export type SecretSource = (name: string) => string | undefined;

/**
 * The connection as written, each `private_key_env` replaced by the PEM it names. Throws an Error
 * naming the field and the variable (never a value) when one is unset, empty or not a PEM key.
 */
export function resolveSpKeySecrets(input: SamlConnectionInput, secret: SecretSource): SamlConnectionInput {
  const out = { ...input };
  for (const field of ['sp_signing', 'sp_encryption'] as const) {
    const pair = input[field];
    if (!pair || pair.private_key_env === undefined) continue;
    const value = secret(pair.private_key_env);
    if (value === undefined || value.trim() === '') throw new Error(`${field}.private_key_env: ${pair.private_key_env} is not set`);
    if (!PEM_KEY.test(value)) throw new Error(`${field}.private_key_env: ${pair.private_key_env} is not an unencrypted PEM private key`);
    const { private_key_env: _name, ...rest } = pair;
    out[field] = { ...rest, private_key: value };
  }
  return out;
}

/** `nameid` (a persistent NameID) or `attribute:<Attribute Name>`. */
const principalKey = z
  .string()
  .regex(/^(nameid|attribute:\S.*)$/, 'expected "nameid" or "attribute:<Name>"')
  .transform((v): PrincipalKey => (v === 'nameid' ? { kind: 'nameid' } : { kind: 'attribute', name: v.slice('attribute:'.length) }));

export type PrincipalKey = { kind: 'nameid' } | { kind: 'attribute'; name: string };

export const samlConnectionSchema = z
  .object({
    /** Appears in the ACS path and the audit log. */
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'letters, digits, _ and -, at most 64'),
    /** The broker's entityID as this IdP knows it; every assertion's Audience must equal it. */
    sp_entity_id: z.string().min(1).max(1024).regex(/^\S+$/, 'no whitespace'),
    /** The broker's AssertionConsumerService (HTTP-POST) for this connection; Destination and Recipient must equal it. */
    acs_url: webUrl.refine((u) => !u.includes('?'), 'must not contain a query'),
    /**
     * The broker's SingleLogoutService (HTTP-Redirect and HTTP-POST) for this connection, advertised
     * in its SP metadata. Default: the ACS URL with its last segment `acs` made `slo`.
     */
    slo_url: webUrl.refine((u) => !u.includes('?'), 'must not contain a query').optional(),
    /** Exactly one source of the IdP metadata. */
    idp_metadata_file: z.string().min(1).optional(),
    idp_metadata_url: webUrl.optional(),
    idp_metadata_xml: z.string().min(1).optional(),
    /**
     * How the browser carries the AuthnRequest to the IdP. Unset: HTTP-Redirect when the IdP offers
     * it, else HTTP-POST. Set: that binding, and the connection refuses to load if the IdP does not offer it.
     */
    sso_binding: z.enum(['redirect', 'post']).optional(),
    /**
     * The certificate (or certificates, during the signer's own rollover) whose key must have
     * signed the metadata document at its root. Required for an aggregate (EntitiesDescriptor)
     * fetched from idp_metadata_url; when set, any metadata from any source must be signed by it.
     */
    metadata_signing_certificate: z.union([z.string().regex(PEM_CERT, 'expected one PEM certificate'), z.array(z.string().regex(PEM_CERT, 'expected one PEM certificate')).min(1).max(4)]).optional(),
    /** Picks the IdP out of a metadata aggregate; when set, the metadata's entityID must equal it. */
    idp_entity_id: z.string().min(1).max(1024).optional(),
    /** Which signatures are required: the Assertion's, the Response's, or both. At least one. */
    want_assertions_signed: z.boolean().default(true),
    want_response_signed: z.boolean().default(false),
    /** Accept unsolicited responses (no InResponseTo). Off: login CSRF is inherent to them. */
    allow_idp_initiated: z.boolean().default(false),
    /** Seconds of clock skew tolerated on every time check, bounded. */
    clock_skew: z.number().int().min(0).max(SAML_MAX_CLOCK_SKEW).default(CLOCK_SKEW),
    /** SP signing key (RSA: samlify signs redirect-binding requests with node-rsa). Published in SP metadata. */
    sp_signing: keyPair.optional(),
    /** SP encryption key: when set, it is published and encrypted assertions are accepted; when not, they are refused. */
    sp_encryption: keyPair.optional(),
    /** Sign AuthnRequests (needs sp_signing). Forced on when the IdP metadata says WantAuthnRequestsSigned. */
    authn_requests_signed: z.boolean().default(false),
    /** What the principal is keyed on. A transient or email NameID never is. */
    principal_key: principalKey.default({ kind: 'nameid' }),
    /** Requested (Comparison="exact") and then required: the AuthnContextClassRef must be one of these. */
    authn_context: z.array(z.string().min(1).regex(/^\S+$/)).min(1).optional(),
    /** Only for an ACS URL and metadata URL on localhost: tests and the demo. */
    allow_insecure_http_for_loopback: z.boolean().default(false),
  })
  .strict()
  .superRefine((c, ctx) => {
    const sources = [c.idp_metadata_file, c.idp_metadata_url, c.idp_metadata_xml].filter((s) => s !== undefined).length;
    if (sources !== 1) ctx.addIssue({ code: 'custom', path: ['idp_metadata_file'], message: 'exactly one of idp_metadata_file, idp_metadata_url or idp_metadata_xml is required' });
    if (!c.want_assertions_signed && !c.want_response_signed) {
      ctx.addIssue({ code: 'custom', path: ['want_assertions_signed'], message: 'at least one of want_assertions_signed or want_response_signed must be true' });
    }
    if (c.authn_requests_signed && !c.sp_signing) ctx.addIssue({ code: 'custom', path: ['authn_requests_signed'], message: 'requires sp_signing' });
    for (const key of ['acs_url', 'idp_metadata_url', 'slo_url'] as const) {
      const value = c[key];
      const problem = value === undefined ? undefined : insecureUrlProblem(value, c.allow_insecure_http_for_loopback);
      if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
    }
  });

/** The configuration as written (defaults optional). */
export type SamlConnectionInput = z.input<typeof samlConnectionSchema>;
/** The configuration after parsing (defaults applied). */
export type SamlConnectionConfig = z.output<typeof samlConnectionSchema>;

/** A SAML connection entry as its own schema reads it: without the broker's keys (type, name, authority, discovery). */
export function samlConnectionInputOf(entry: ConnectionConfig): SamlConnectionInput {
  const { type: _type, display_name: _name, authority: _authority, email_domains: _domains, default: _default, ...saml } = entry;
  return saml as unknown as SamlConnectionInput;
}
