/**
 * A small SAML 2.0 identity provider for the SAML demo and the end-to-end tests, built with
 * samlify: its own RSA key and self-signed certificate (generated at start), IdP metadata, and a
 * SingleSignOnService on HTTP-Redirect that answers each AuthnRequest with a signed Response,
 * delivered to the service provider's ACS by an auto-submitting HTTP-POST form.
 *
 * It has no login page: `signIn()` says who is signed in at the IdP (as if they had logged in
 * earlier). Never run it anywhere but on localhost.
 */
import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { Hono } from 'hono';
import * as samlify from 'samlify';
import selfsigned from 'selfsigned';
import { registerSamlifyValidator } from '../src/runtime/node-saml-schema.js';

const BINDING_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const NS_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const NS_ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
export const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
export const PASSWORD_PROTECTED_TRANSPORT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
const URI_FORMAT = 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri';

/** Attribute names the IdP releases (OASIS / eduPerson URIs, as most workforce IdPs send them). */
export const ATTRIBUTE = {
  mail: 'urn:oid:0.9.2342.19200300.100.1.3',
  givenName: 'urn:oid:2.5.4.42',
  sn: 'urn:oid:2.5.4.4',
  displayName: 'urn:oid:2.16.840.1.113730.3.1.241',
  eduPersonAffiliation: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.1',
} as const;

export interface SamlIdpUser {
  /** The persistent NameID this IdP gives the user (at every SP, in this demo). */
  nameId: string;
  email: string;
  givenName: string;
  familyName: string;
  displayName: string;
  affiliation?: string[];
}

export interface SamlIdpOptions {
  /** Where the IdP is served, e.g. `http://localhost:9000`; its entityID is `<baseUrl>/metadata`. */
  baseUrl: string;
  /** The AuthnContextClassRef of every login (default PasswordProtectedTransport). */
  classRef?: string;
  /** Seconds since epoch (default: the system clock). */
  clock?: () => number;
}

/** The parts of one AuthnRequest and the Response that answered it, for demos and tests to show. */
export interface SamlExchange {
  request: { id: string; issuer: string; acsUrl: string; relayState: string };
  response: { id: string; assertionId: string; nameId: string; issueInstant: number; notOnOrAfter: number };
}

export interface SamlIdp {
  entityId: string;
  ssoUrl: string;
  /** The IdP's metadata (entityID, signing certificate, SingleSignOnService). */
  metadata: string;
  certificate: string;
  app: Hono;
  /** Registers a service provider from its metadata (entityID, ACS, WantAssertionsSigned). */
  trustSp(spMetadataXml: string): void;
  /** Who is signed in at the IdP from now on; `authnInstant` defaults to now. */
  signIn(user: SamlIdpUser, authnInstant?: number): void;
  /** Every AuthnRequest answered so far, oldest first. */
  readonly exchanges: readonly SamlExchange[];
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const newId = () => `_${randomBytes(20).toString('hex')}`;

function attributeXml(name: string, values: readonly string[]): string {
  return `<saml:Attribute Name="${esc(name)}" NameFormat="${URI_FORMAT}">${values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`;
}

interface ResponseFields {
  responseId: string;
  assertionId: string;
  inResponseTo: string;
  issuer: string;
  spEntityId: string;
  acsUrl: string;
  now: number;
  notOnOrAfter: number;
  authnInstant: number;
  sessionIndex: string;
  classRef: string;
  user: SamlIdpUser;
}

/** The unsigned Response (samlify's template shape, every field filled in); samlify signs the assertion. */
function responseXml(f: ResponseFields): string {
  const { user } = f;
  const attributes = [
    attributeXml(ATTRIBUTE.mail, [user.email]),
    attributeXml(ATTRIBUTE.givenName, [user.givenName]),
    attributeXml(ATTRIBUTE.sn, [user.familyName]),
    attributeXml(ATTRIBUTE.displayName, [user.displayName]),
    ...(user.affiliation?.length ? [attributeXml(ATTRIBUTE.eduPersonAffiliation, user.affiliation)] : []),
  ].join('');
  const assertion =
    `<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:saml="${NS_ASSERTION}" ID="${f.assertionId}" Version="2.0" IssueInstant="${iso(f.now)}">` +
    `<saml:Issuer>${esc(f.issuer)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="${PERSISTENT}" NameQualifier="${esc(f.issuer)}" SPNameQualifier="${esc(f.spEntityId)}">${esc(user.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${iso(f.notOnOrAfter)}" Recipient="${esc(f.acsUrl)}" InResponseTo="${esc(f.inResponseTo)}"/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${iso(f.now - 5)}" NotOnOrAfter="${iso(f.notOnOrAfter)}"><saml:AudienceRestriction><saml:Audience>${esc(f.spEntityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${iso(f.authnInstant)}" SessionIndex="${esc(f.sessionIndex)}"><saml:AuthnContext><saml:AuthnContextClassRef>${esc(f.classRef)}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` +
    `</saml:Assertion>`;
  return (
    `<samlp:Response xmlns:samlp="${NS_PROTOCOL}" xmlns:saml="${NS_ASSERTION}" ID="${f.responseId}" Version="2.0" IssueInstant="${iso(f.now)}" Destination="${esc(f.acsUrl)}" InResponseTo="${esc(f.inResponseTo)}">` +
    `<saml:Issuer>${esc(f.issuer)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    assertion +
    `</samlp:Response>`
  );
}

/** The HTTP-POST binding's auto-submitting form (SAML bindings §3.5.4). */
function autoPostPage(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${esc(name)}" value="${esc(value)}">`)
    .join('');
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>Signing you in</title></head>` +
    `<body onload="document.forms[0].submit()"><form method="post" action="${esc(action)}">${inputs}` +
    `<noscript><button type="submit">Continue</button></noscript></form></body></html>`
  );
}

function page(status: 400 | 401 | 403, message: string): Response {
  return new Response(`<!doctype html><title>Demo IdP</title><p>${esc(message)}</p>`, { status, headers: { 'Content-Type': 'text/html; charset=utf-8' } });
}

export async function createSamlIdp(options: SamlIdpOptions): Promise<SamlIdp> {
  // samlify will not parse a message without a schema validator: the broker's (xmllint-wasm).
  registerSamlifyValidator();
  const clock = options.clock ?? (() => Math.floor(Date.now() / 1000));
  const base = options.baseUrl.replace(/\/$/, '');
  const entityId = `${base}/metadata`;
  const ssoUrl = `${base}/sso`;
  const now = clock();
  const keys = await selfsigned.generate([{ name: 'commonName', value: 'xaa-broker demo SAML IdP' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date((now - 86_400) * 1000),
    notAfterDate: new Date((now + 365 * 86_400) * 1000),
  });
  const idp = samlify.IdentityProvider({
    entityID: entityId,
    privateKey: keys.private,
    signingCert: keys.cert,
    requestSignatureAlgorithm: RSA_SHA256,
    wantAuthnRequestsSigned: false,
    nameIDFormat: [PERSISTENT],
    singleSignOnService: [{ Binding: BINDING_REDIRECT, Location: ssoUrl }],
    singleLogoutService: [{ Binding: BINDING_REDIRECT, Location: `${base}/slo` }],
  });
  const metadata = idp.getMetadata();

  const sps = new Map<string, ReturnType<typeof samlify.ServiceProvider>>();
  let session: { user: SamlIdpUser; authnInstant: number; sessionIndex: string } | undefined;
  const exchanges: SamlExchange[] = [];

  const app = new Hono();
  // SP-initiated Single Logout, HTTP-Redirect binding: the demo session ends and the SP gets a
  // LogoutResponse, signed (the broker refuses an unsigned one) and built by samlify.
  app.get('/slo', async (c) => {
    const query = c.req.query();
    const issuer = requestIssuer(query.SAMLRequest);
    const sp = issuer === undefined ? undefined : sps.get(issuer);
    if (!sp) return page(403, 'This service provider is not registered at the demo IdP.');
    let parsed: Awaited<ReturnType<typeof idp.parseLogoutRequest>>;
    try {
      parsed = await idp.parseLogoutRequest(sp, 'redirect', { query });
    } catch (err) {
      return page(400, `The LogoutRequest was refused: ${err instanceof Error ? err.message : String(err)}`);
    }
    session = undefined;
    const built = idp.createLogoutResponse(sp, parsed as never, 'redirect', query.RelayState ?? '');
    return c.redirect(built.context, 302);
  });
  app.get('/metadata', (c) => c.body(metadata, 200, { 'Content-Type': 'application/samlmetadata+xml; charset=utf-8' }));

  // SP-initiated SSO, HTTP-Redirect binding (the broker's AuthnRequest arrives in the query).
  app.get('/sso', async (c) => {
    const query = c.req.query();
    const relayState = query.RelayState ?? '';
    const issuer = requestIssuer(query.SAMLRequest);
    const sp = issuer === undefined ? undefined : sps.get(issuer);
    if (!sp) return page(403, 'This service provider is not registered at the demo IdP.');
    let parsed: { extract: { request?: { id?: string; assertionConsumerServiceUrl?: string }; issuer?: string } };
    try {
      parsed = (await idp.parseLoginRequest(sp, 'redirect', { query })) as typeof parsed;
    } catch (err) {
      return page(400, `The AuthnRequest was refused: ${err instanceof Error ? err.message : String(err)}`);
    }
    const requestId = parsed.extract.request?.id;
    const acsUrl = sp.entityMeta.getAssertionConsumerService('post') as string | undefined;
    const askedAcs = parsed.extract.request?.assertionConsumerServiceUrl;
    if (!requestId) return page(400, 'The AuthnRequest has no ID.');
    if (!acsUrl) return page(400, 'The SP metadata lists no HTTP-POST AssertionConsumerService.');
    if (askedAcs !== undefined && askedAcs !== acsUrl) return page(400, 'The AuthnRequest asks for an ACS the SP metadata does not list.');
    if (!session) return page(401, 'Nobody is signed in at the demo IdP.');

    const spEntityId = sp.entityMeta.getEntityID();
    const t = clock();
    const fields: ResponseFields = {
      responseId: newId(),
      assertionId: newId(),
      inResponseTo: requestId,
      issuer: entityId,
      spEntityId,
      acsUrl,
      now: t,
      notOnOrAfter: t + 300,
      authnInstant: session.authnInstant,
      sessionIndex: session.sessionIndex,
      classRef: options.classRef ?? PASSWORD_PROTECTED_TRANSPORT,
      user: session.user,
    };
    const xml = responseXml(fields);
    // samlify signs what the SP's metadata asks for (WantAssertionsSigned) with the IdP's key.
    const signed = await idp.createLoginResponse(sp, { extract: { request: { id: requestId } } }, 'post', {}, {
      customTagReplacement: () => ({ id: fields.responseId, context: xml }),
    });
    exchanges.push({
      request: { id: requestId, issuer: spEntityId, acsUrl, relayState },
      response: { id: fields.responseId, assertionId: fields.assertionId, nameId: session.user.nameId, issueInstant: t, notOnOrAfter: fields.notOnOrAfter },
    });
    return c.html(autoPostPage(acsUrl, { SAMLResponse: signed.context, ...(relayState ? { RelayState: relayState } : {}) }));
  });

  return {
    entityId,
    ssoUrl,
    metadata,
    certificate: keys.cert,
    app,
    trustSp(spMetadataXml) {
      const sp = samlify.ServiceProvider({ metadata: spMetadataXml, wantLogoutResponseSigned: true });
      sps.set(sp.entityMeta.getEntityID(), sp);
    },
    signIn(user, authnInstant) {
      session = { user, authnInstant: authnInstant ?? clock(), sessionIndex: newId() };
    },
    get exchanges() {
      return exchanges;
    },
  };
}

/** The Issuer of the redirect binding's SAMLRequest (DEFLATE, base64): which SP is asking. */
function requestIssuer(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const xml = inflateRawSync(Buffer.from(value, 'base64')).toString('utf8');
    const request = new DOMParser().parseFromString(xml, 'text/xml').documentElement;
    const issuer = request?.getElementsByTagNameNS(NS_ASSERTION, 'Issuer').item(0)?.textContent?.trim();
    return issuer || undefined;
  } catch {
    return undefined;
  }
}
