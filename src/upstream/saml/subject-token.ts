import { randomBytes } from 'node:crypto';
import type { ConnectionConfig } from '../../config/schema.js';
import type { SamlSubjectAssertion, SamlSubjectTokenCheck, SamlSubjectTokenVerifier } from '../../identity/saml-subject-token.js';
import { samlReplayScope } from './connection.js';
import { Refused, SamlConfigError, type SamlRefusal } from './errors.js';
import { translateSamlAttributes } from '../../migration/claims.js';
import { amrFor } from './identity.js';
import { SAML_MAX_RESPONSE_BASE64_CHARS } from './limits.js';
import { MetadataError } from './metadata.js';
import { IdpMetadataSource } from './metadata-source.js';
import type { Logger } from '../../logger.js';
import { systemClock } from '../../clock.js';
import { verifySamlResponse, type VerifyContext } from './response.js';
import { samlConnectionInputOf, samlConnectionSchema, type SamlConnectionConfig } from '../../config/saml-connection.js';
import { attr, children, escapeXml, firstChild, is, isoInstant, NS, parseStrict, refuseDoctype, refuseForbiddenCharacters, refuseForeignEncoding, simpleText } from './xml.js';

/**
 * A SAML assertion presented at the token endpoint as an RFC 8693 `saml2` subject token: an
 * assertion one of the broker's upstream SAML IdPs issued to an app (the client), not to the
 * broker. Every check of the ACS applies, through the very same code (verifySamlResponse): no
 * DOCTYPE, one assertion, signature wrapping defences, the IdP's metadata keys and the algorithm
 * allow-list, the schema, Issuer, time conditions, bearer confirmation, the connection's principal
 * key and required AuthnContext. Two things differ, because the assertion was issued to the app:
 *
 * - the Audience must be the one configured for the authenticated client at that connection
 *   (`saml_audiences`), never the broker's own SP entity id;
 * - the bearer confirmation's Recipient (and a Response's Destination) name the app's ACS, not the
 *   broker's: they must be present and agree with each other, but no particular value is required.
 *
 * A bare Assertion is checked inside a minimal unsigned Response built around its exact bytes, so
 * the ACS's structural checks run unchanged; its own signature is then required. Stateless:
 * replay (the assertion ID, single use until it expires, in the scope the ACS uses) is recorded by
 * the exchange when it mints. No decryption key is used: an assertion encrypted to the app cannot
 * be read by the broker and is refused.
 */

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

interface Connection {
  id: string;
  config: SamlConnectionConfig;
  /** The IdP metadata over time (refreshed, validUntil, rollover), as at the connection's ACS. */
  metadata: IdpMetadataSource;
}

/** Internal: a refusal of the token before the SAML checks proper. */
class NotAccepted extends Error {
  constructor(
    readonly code: string,
    readonly detail?: string,
  ) {
    super(code);
  }
}

function fail(code: string, detail?: string): never {
  throw new NotAccepted(code, detail);
}

function describe(reason: SamlRefusal): string | undefined {
  const parts = [
    'where' in reason ? reason.where : undefined,
    'algorithm' in reason ? reason.algorithm : undefined,
    'status' in reason ? reason.status : undefined,
    reason.detail,
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/** RFC 8693 §3: base64url (padding tolerated), UTF-8 XML. */
function decodeToken(token: string): string {
  if (token.length > SAML_MAX_RESPONSE_BASE64_CHARS) fail('token_too_large');
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(token)) fail('token_not_base64url');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(Buffer.from(token.replace(/=+$/, ''), 'base64url'));
  } catch {
    fail('token_not_utf8');
  }
}

/** The first bearer SubjectConfirmationData, read only to build the envelope; the checks then read the signed one. */
function bearerData(assertion: Element | undefined): Element | undefined {
  const subject = assertion && firstChild(assertion, NS.assertion, 'Subject');
  if (!subject) return undefined;
  const bearer = children(subject, NS.assertion, 'SubjectConfirmation').find((c) => attr(c, 'Method') === BEARER);
  return bearer && firstChild(bearer, NS.assertion, 'SubjectConfirmationData');
}

/**
 * The assertion's text exactly as received, without the XML declaration: the bytes its signature
 * covers stay the same bytes. Anything else outside the root element (a comment, a processing
 * instruction) is refused rather than carried into the envelope.
 */
function assertionText(xml: string): string {
  const body = xml.replace(/^\uFEFF?\s*(<\?xml\s[^>]*\?>)?\s*/, '').trimEnd();
  if (body.startsWith('<!') || body.startsWith('<?') || !body.endsWith('>') || /-->$|\?>$/.test(body)) fail('content_outside_assertion');
  return body;
}

/** A minimal unsigned Response around the assertion, agreeing with its (signed) confirmation on Recipient and InResponseTo. */
function envelope(assertionXml: string, data: Element | undefined, now: number): { xml: string; destination: string } {
  const destination = (data && attr(data, 'Recipient')) ?? '';
  const inResponseTo = data && attr(data, 'InResponseTo');
  const xml =
    `<samlp:Response xmlns:samlp="${NS.protocol}" ID="_x${randomBytes(20).toString('hex')}" Version="2.0" IssueInstant="${isoInstant(now)}"` +
    ` Destination="${escapeXml(destination)}"${inResponseTo !== undefined ? ` InResponseTo="${escapeXml(inResponseTo)}"` : ''}>` +
    `<samlp:Status><samlp:StatusCode Value="${SUCCESS}"/></samlp:Status>` +
    assertionXml +
    `</samlp:Response>`;
  return { xml, destination };
}

class Verifier implements SamlSubjectTokenVerifier {
  constructor(private readonly connections: readonly Connection[]) {}

  async verify(token: string, audiences: ReadonlyMap<string, string>, now: number): Promise<SamlSubjectTokenCheck> {
    try {
      return { ok: true, assertion: await this.check(token, audiences, now) };
    } catch (err) {
      if (err instanceof NotAccepted) return { ok: false, code: err.code, ...(err.detail !== undefined ? { detail: err.detail } : {}) };
      if (err instanceof Refused) {
        const detail = describe(err.reason);
        return { ok: false, code: err.reason.code, ...(detail !== undefined ? { detail } : {}) };
      }
      throw err;
    }
  }

  private async check(token: string, audiences: ReadonlyMap<string, string>, now: number): Promise<SamlSubjectAssertion> {
    const xml = decodeToken(token);
    refuseDoctype(xml);
    refuseForeignEncoding(xml);
    refuseForbiddenCharacters(xml);
    const root = parseStrict(xml).documentElement;
    const bare = is(root, NS.assertion, 'Assertion');
    if (!bare && !is(root, NS.protocol, 'Response')) fail('not_an_assertion', `${root.namespaceURI ?? ''} ${root.localName}`);
    const assertion = bare ? root : children(root, NS.assertion, 'Assertion')[0];

    // The Issuer picks the connection (and so the keys that must then verify this very Issuer).
    const issuerEl = (assertion && firstChild(assertion, NS.assertion, 'Issuer')) ?? firstChild(root, NS.assertion, 'Issuer');
    const issuer = issuerEl && simpleText(issuerEl);
    if (!issuer) fail('issuer_missing');
    // The entity id is pinned to the first copy's (metadata-source.ts): no fetch to pick the connection.
    const known = this.connections.filter((c) => c.metadata.current.idp.entityId === issuer);
    if (known.length === 0) fail('issuer_unknown', issuer);
    const usable = known.filter((c) => audiences.has(c.id));
    if (usable.length === 0) fail('audience_not_configured', `no saml_audiences entry for connection ${known.map((c) => c.id).join(', ')}`);
    if (usable.length > 1) fail('connection_ambiguous', `connections ${usable.map((c) => c.id).join(', ')} share IdP ${issuer}`);
    const connection = usable[0]!;
    const { config } = connection;
    // Refreshed first when due; refused (metadata_expired) past its validUntil.
    const { idp } = await connection.metadata.use(now);

    let response: string;
    let expectedDestination: string;
    if (bare) {
      const wrapped = envelope(assertionText(xml), bearerData(root), now);
      response = wrapped.xml;
      expectedDestination = wrapped.destination;
    } else {
      response = xml;
      const data = bearerData(assertion);
      expectedDestination = (data && attr(data, 'Recipient')) ?? '';
    }

    const ctx: VerifyContext = {
      spEntityId: audiences.get(connection.id)!,
      // Not the broker's ACS: the app's, as the assertion names it (and signs it).
      acsUrl: expectedDestination,
      idp,
      // A bare assertion has no other signature to stand on.
      wantAssertionsSigned: bare ? true : config.want_assertions_signed,
      wantResponseSigned: bare ? false : config.want_response_signed,
      principalKey: config.principal_key,
      ...(config.authn_context ? { authnContext: config.authn_context } : {}),
      skew: config.clock_skew,
      now,
    };
    const v = await verifySamlResponse(Buffer.from(response, 'utf8').toString('base64'), ctx);
    return {
      connectionId: connection.id,
      issuer: v.issuer,
      subject: v.subject,
      assertionId: v.assertionId,
      nameId: v.nameId,
      attributes: v.attributes,
      // The default claim table, exactly as a login through this connection translates them.
      claims: translateSamlAttributes(v.attributes).claims,
      authTime: v.authTime,
      ...(v.acr !== undefined ? { acr: v.acr } : {}),
      amr: amrFor(v.acr),
      replay: { scope: samlReplayScope(idp.entityId), until: v.replayUntil },
    };
  }
}

/**
 * The factory both runtimes supply as BrokerDeps.samlSubjectTokens: reads each SAML connection's
 * configuration and loads its IdP metadata at start-up, then keeps it as a login connection does
 * (metadata-source.ts: refreshed when due, refused past validUntil, signed where configured).
 * Broker-only fields (type, display name, discovery) are not the connection's.
 */
export async function createSamlSubjectTokenVerifier(
  connections: readonly ConnectionConfig[],
  deps: { fetch?: typeof fetch; clock?: () => number; logger?: Logger },
): Promise<SamlSubjectTokenVerifier> {
  const clock = deps.clock ?? systemClock;
  const built: Connection[] = [];
  for (const entry of connections.filter((c: ConnectionConfig) => c.type === 'saml')) {
    const config = samlConnectionSchema.parse(samlConnectionInputOf(entry));
    let metadata: IdpMetadataSource;
    try {
      metadata = await IdpMetadataSource.load(config, { clock, ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(deps.logger ? { logger: deps.logger } : {}) });
    } catch (err) {
      if (err instanceof MetadataError) throw new SamlConfigError(config.id, err.message);
      throw err;
    }
    built.push({ id: config.id, config, metadata });
  }
  return new Verifier(built);
}
