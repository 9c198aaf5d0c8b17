import { Document, isScalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { claimTargetProblem, DEFAULT_SAML_CLAIM_MAP, NOT_MAPPED_BY_DEFAULT } from './claims.js';
import { NAMEID_FORMAT, PAIRWISE_ID_ATTRIBUTE, SUBJECT_ID_ATTRIBUTE, type SubjectSource } from './subject.js';
import { attr, children, descendantsNamed, is, MigrationInputError, NS, parseXml, simpleText } from './xml.js';

/**
 * From a legacy SAML SP's metadata to a first draft of its OIDC client and subject mapping at the
 * broker (`import-sp-metadata`, CLI only). A draft: metadata says what the SP asked for, not what
 * it actually received or keys its users on; `contract-report` on a saved assertion says that.
 * Everything this cannot know is in `warnings`, and `toYaml` repeats them as comments.
 */

export interface ImportOptions {
  /** The client_id at the broker; default derived from the entityID. */
  clientId?: string;
  /** The subject namespace; default `<client_id>-users`. */
  subjectNamespace?: string;
  /** Picks one SP out of a metadata aggregate (EntitiesDescriptor). */
  entityId?: string;
}

export interface AcsEndpoint {
  binding: string;
  location: string;
  index?: number;
  isDefault?: boolean;
}

export interface RequestedClaim {
  attribute: string;
  nameFormat?: string;
  friendlyName?: string;
  /** RequestedAttribute isRequired="true". */
  required: boolean;
  /** The claim it becomes, or null when it will not be passed on. */
  claim: string | null;
  multi?: boolean;
  /** default: the default table maps it; suggested: an override this import proposes; none: not passed on. */
  origin: 'default' | 'suggested' | 'none';
}

/**
 * The proposed namespace file. `saml_subject` is the strategy the lead adds for migrated apps
 * (calls subjectFromSaml with `subject_source`, bind-once); `pairwise` is the existing one.
 */
export type ImportedNamespace =
  | { namespace: string; strategy: 'saml_subject'; subject_source: SubjectSource }
  | { namespace: string; strategy: 'pairwise'; sector: string };

/** The `oidc:` block of the client: the app as a relying party of the broker's OpenID Provider. */
export interface ImportedOidcApp {
  /** PLACEHOLDERS derived from the ACS origins: an ACS URL is not an OIDC redirect URI. */
  redirect_uris: string[];
  subject_namespace: string;
  /** The app receives the SAML attributes as claims (the default table and its overrides): what the draft promises. */
  saml_claims: true;
  /** Overrides of the default claim table this import proposes (attribute Name → claim, `{claim, multi}`, or null). */
  claim_overrides: Record<string, string | null | { claim: string; multi: boolean }>;
}

/** An entry for `clients:` in broker.config.yaml, in the shape the configuration schema takes. */
export interface ImportedClient {
  client_id: string;
  name: string;
  token_endpoint_auth_method: 'client_secret_basic';
  oidc: ImportedOidcApp;
}

export interface SpImport {
  /** What the metadata says, for reference. */
  legacy: {
    entity_id: string;
    acs: AcsEndpoint[];
    name_id_formats: string[];
    /** The SP's subject-id requirement (EntityAttributes urn:oasis:names:tc:SAML:profiles:subject-id:req), if declared. */
    subject_id_requirement?: string;
    single_logout_urls: string[];
  };
  client: ImportedClient;
  namespace: ImportedNamespace;
  requestedAttributes: RequestedClaim[];
  warnings: string[];
}

const SAML2_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const SUBJECT_ID_REQ = 'urn:oasis:names:tc:SAML:profiles:subject-id:req';
const EDUPERSON_UNIQUE_ID = 'urn:oid:1.3.6.1.4.1.5923.1.1.1.13';
const ENTRA_OBJECT_ID = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
const EPPN = 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6';
const CLIENT_ID_MAX = 64;

export function importSpMetadata(xml: string, options: ImportOptions = {}): SpImport {
  const root = parseXml(xml, 'SP metadata');
  const entity = pickEntity(root, options.entityId);
  const entityId = attr(entity, 'entityID') ?? '';
  if (entityId.length === 0 || entityId.length > 1024) throw new MigrationInputError('SP metadata: entityID missing or longer than 1024 characters');
  const sps = children(entity, NS.metadata, 'SPSSODescriptor').filter((sp) => (attr(sp, 'protocolSupportEnumeration') ?? '').split(/\s+/).includes(SAML2_PROTOCOL));
  if (sps.length === 0) throw new MigrationInputError(`SP metadata: ${entityId} has no SPSSODescriptor supporting SAML 2.0`);
  if (sps.length > 1) throw new MigrationInputError(`SP metadata: ${entityId} has ${sps.length} SAML 2.0 SPSSODescriptors`);
  const sp = sps[0]!;
  const warnings: string[] = [];

  const acs = children(sp, NS.metadata, 'AssertionConsumerService').map(endpointOf);
  if (acs.length === 0) throw new MigrationInputError(`SP metadata: ${entityId} has no AssertionConsumerService`);
  const nameIdFormats = children(sp, NS.metadata, 'NameIDFormat')
    .map((el) => (simpleText(el) ?? '').trim())
    .filter((f) => f.length > 0);
  const singleLogout = children(sp, NS.metadata, 'SingleLogoutService')
    .map((el) => attr(el, 'Location'))
    .filter((l): l is string => !!l);
  const requirement = subjectIdRequirement(entity);

  const clientId = options.clientId ?? clientIdFromEntityId(entityId);
  const clientIdProblem = checkClientId(clientId);
  if (clientIdProblem) throw new MigrationInputError(`client_id "${clientId}": ${clientIdProblem}`);
  const namespaceName = options.subjectNamespace ?? `${clientId}-users`;

  const name = clientName(entityId, sp, warnings);
  const redirectUris = suggestRedirectUris(acs, warnings);
  const requested = requestedAttributes(sp, warnings);
  const claimOverrides: ImportedOidcApp['claim_overrides'] = {};
  for (const r of requested) if (r.origin === 'suggested' && r.claim) claimOverrides[r.attribute] = r.multi ? { claim: r.claim, multi: true } : r.claim;

  const sector = sectorOf(acs);
  const namespace = suggestNamespace(namespaceName, sector, nameIdFormats, requirement, requested, warnings);

  if (singleLogout.length > 0) {
    warnings.push('the SP has SingleLogoutService endpoints: SAML logout does not carry over; configure OIDC RP-initiated logout (post_logout_redirect_uris) for the app separately');
  }

  return {
    legacy: {
      entity_id: entityId,
      acs,
      name_id_formats: nameIdFormats,
      ...(requirement !== undefined ? { subject_id_requirement: requirement } : {}),
      single_logout_urls: singleLogout,
    },
    client: {
      client_id: clientId,
      name,
      token_endpoint_auth_method: 'client_secret_basic',
      oidc: { redirect_uris: redirectUris, subject_namespace: namespace.namespace, saml_claims: true, claim_overrides: claimOverrides },
    },
    namespace,
    requestedAttributes: requested,
    warnings,
  };
}

function pickEntity(root: Element, entityId: string | undefined): Element {
  if (is(root, NS.metadata, 'EntityDescriptor')) {
    if (entityId !== undefined && attr(root, 'entityID') !== entityId) throw new MigrationInputError(`SP metadata: the entity is ${attr(root, 'entityID')}, not ${entityId}`);
    return root;
  }
  if (!is(root, NS.metadata, 'EntitiesDescriptor')) {
    if (root.localName === 'EntityDescriptor' || root.localName === 'EntitiesDescriptor') {
      throw new MigrationInputError(
        `SP metadata: the root element ${root.localName} is not in the SAML 2.0 metadata namespace (${NS.metadata}): it has ${root.namespaceURI ? `the namespace ${root.namespaceURI}` : 'no namespace'}. Metadata is read by namespace, not by element name, so the document is refused for that reason. Declare xmlns="${NS.metadata}" (or an md: prefix bound to it) if it is SAML 2.0 metadata.`,
      );
    }
    throw new MigrationInputError(`SP metadata: expected md:EntityDescriptor or md:EntitiesDescriptor, found ${root.localName}`);
  }
  const sps = descendantsNamed(root, NS.metadata, 'EntityDescriptor').filter((e) => children(e, NS.metadata, 'SPSSODescriptor').length > 0);
  if (entityId !== undefined) {
    const found = sps.filter((e) => attr(e, 'entityID') === entityId);
    if (found.length !== 1) throw new MigrationInputError(`SP metadata: ${found.length === 0 ? 'no' : 'more than one'} SP with entityID ${entityId}`);
    return found[0]!;
  }
  if (sps.length !== 1) throw new MigrationInputError(`SP metadata: the aggregate holds ${sps.length} SPs; name one with --entity-id`);
  return sps[0]!;
}

function endpointOf(el: Element): AcsEndpoint {
  const endpoint: AcsEndpoint = { binding: attr(el, 'Binding') ?? '', location: attr(el, 'Location') ?? '' };
  const index = attr(el, 'index');
  if (index !== undefined && /^\d+$/.test(index)) endpoint.index = Number(index);
  const isDefault = attr(el, 'isDefault');
  if (isDefault !== undefined) endpoint.isDefault = isDefault === 'true' || isDefault === '1';
  return endpoint;
}

function subjectIdRequirement(entity: Element): string | undefined {
  for (const extensions of children(entity, NS.metadata, 'Extensions')) {
    for (const entityAttributes of children(extensions, NS.mdattr, 'EntityAttributes')) {
      for (const a of children(entityAttributes, NS.assertion, 'Attribute')) {
        if (attr(a, 'Name') !== SUBJECT_ID_REQ) continue;
        const value = children(a, NS.assertion, 'AttributeValue').map((v) => (simpleText(v) ?? '').trim())[0];
        if (value) return value;
      }
    }
  }
  return undefined;
}

/** Trailing path segments that name the SAML software, not the app (`/saml/metadata`, `/shibboleth`). */
const GENERIC_SEGMENT = /^(saml2?|metadata(\.xml|\.php)?|sp|shibboleth|sso|acs|module\.php)$/i;

/**
 * A readable client_id from an entityID: scheme, query and generic trailing segments dropped, runs
 * of other characters as "-", lowercase, at most 64 (a truncated one ends in a hash of the whole).
 */
export function clientIdFromEntityId(entityId: string): string {
  let text = entityId.replace(/[?#].*$/, '');
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text);
  if (scheme) {
    const [host = '', ...path] = text.slice(scheme[0].length).split('/');
    while (path.length > 0 && (path.at(-1) === '' || GENERIC_SEGMENT.test(path.at(-1)!))) path.pop();
    text = [host, ...path].join('/');
  }
  let id = text
    .replace(/^urn:/i, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .toLowerCase();
  if (id.length === 0) id = 'saml-app';
  if (id.length > CLIENT_ID_MAX) id = `${id.slice(0, CLIENT_ID_MAX - 9).replace(/[-.]+$/, '')}-${fnv1a(entityId)}`;
  return id;
}

/** FNV-1a 32-bit, hex: only to keep truncated ids distinct, not for security. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** The broker's client_id rules (config schema): printable ASCII, no ":" (HTTP Basic). */
function checkClientId(id: string): string | undefined {
  if (id.length === 0) return 'empty';
  if (!/^[\x20-\x7E]+$/.test(id)) return 'printable ASCII only';
  if (id.includes(':')) return 'must not contain ":" (HTTP Basic)';
  return undefined;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '127.0.0.1' || hostname === '[::1]';
}

function suggestRedirectUris(acs: readonly AcsEndpoint[], warnings: string[]): string[] {
  const out: string[] = [];
  for (const endpoint of acs) {
    let url: URL;
    try {
      url = new URL(endpoint.location);
    } catch {
      warnings.push(`ACS Location "${endpoint.location}" is not a URL; ignored`);
      continue;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      warnings.push(`ACS Location ${endpoint.location} is not http(s); ignored`);
      continue;
    }
    if (url.protocol === 'http:' && !isLoopback(url.hostname)) warnings.push(`ACS ${endpoint.location} is plain http: an OIDC redirect URI must be https`);
    const suggestion = `${url.protocol === 'http:' && !isLoopback(url.hostname) ? 'https:' : url.protocol}//${url.host}/oidc/callback`;
    if (!out.includes(suggestion)) out.push(suggestion);
  }
  warnings.push(
    `redirect_uris are PLACEHOLDERS (${out.join(', ') || 'none'}): an ACS URL receives a SAML POST, not an OIDC authorization response. The app must add an OIDC callback and register that exact URL instead.`,
  );
  return out;
}

/** The host of the default ACS: the pairwise sector, as OIDC Core §8.1 takes the redirect URI's host. */
function sectorOf(acs: readonly AcsEndpoint[]): string {
  const chosen = acs.find((e) => e.isDefault === true) ?? acs.find((e) => e.isDefault !== false) ?? acs[0]!;
  try {
    return new URL(chosen.location).hostname;
  } catch {
    return chosen.location;
  }
}

/** ServiceNames that name the SAML software, a role or a default, not the app (compared without case and punctuation). */
const GENERIC_SERVICE_NAME = /^(default|default service|service|services|service provider|sp|saml|saml ?2|saml sp|saml service|saml service provider|shibboleth|shibboleth sp|sso|sso service|single sign ?on|web ?sso|app|application|attribute consuming service|attributes|login|portal)$/;

export function isGenericServiceName(name: string): boolean {
  return GENERIC_SERVICE_NAME.test(name.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim());
}

/**
 * The client's name, and where it came from: the English (else first) mdui:DisplayName, else a
 * ServiceName that names the app (not "Default Service", "SP", …; the default service's first),
 * else the entityID's host and path. Never the OrganizationDisplayName: an organization runs many SPs.
 */
function clientName(entityId: string, sp: Element, warnings: string[]): string {
  const pick = (els: Element[]) => {
    const texts = els.map((el) => ({ lang: el.getAttributeNS(NS.xml, 'lang') ?? '', text: (simpleText(el) ?? '').trim() })).filter((t) => t.text.length > 0);
    return (texts.find((t) => t.lang === 'en') ?? texts[0])?.text;
  };
  for (const extensions of children(sp, NS.metadata, 'Extensions')) {
    for (const ui of children(extensions, NS.mdui, 'UIInfo')) {
      const name = pick(children(ui, NS.mdui, 'DisplayName'));
      if (name) {
        warnings.push(`client name "${name}" taken from mdui:DisplayName`);
        return name;
      }
    }
  }
  const generic: string[] = [];
  const services = children(sp, NS.metadata, 'AttributeConsumingService');
  const preferred = defaultService(services);
  for (const service of preferred ? [preferred, ...services.filter((s) => s !== preferred)] : []) {
    const name = pick(children(service, NS.metadata, 'ServiceName'));
    if (!name) continue;
    if (isGenericServiceName(name)) {
      generic.push(name);
      continue;
    }
    warnings.push(`client name "${name}" taken from the ServiceName`);
    return name;
  }
  const name = nameFromEntityId(entityId);
  warnings.push(`client name "${name}" from the entityID${generic.length > 0 ? ` (the ServiceName "${generic[0]}" is generic)` : ' (no mdui:DisplayName or ServiceName)'}`);
  return name;
}

/** The entityID without scheme, query, fragment and generic trailing segments: `https://sp.example.org/shibboleth` → sp.example.org. */
function nameFromEntityId(entityId: string): string {
  const text = entityId.replace(/[?#].*$/, '');
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text);
  if (!scheme) return text.replace(/^urn:/i, '') || entityId;
  const [host = '', ...path] = text.slice(scheme[0].length).split('/');
  while (path.length > 0 && (path.at(-1) === '' || GENERIC_SEGMENT.test(path.at(-1)!))) path.pop();
  return [host, ...path].join('/') || entityId;
}

/** SAML metadata §2.4.4.1: the service with isDefault="true", else the first not marked false, else the first. */
function defaultService(services: Element[]): Element | undefined {
  return services.find((s) => attr(s, 'isDefault') === 'true' || attr(s, 'isDefault') === '1') ?? services.find((s) => attr(s, 'isDefault') !== 'false' && attr(s, 'isDefault') !== '0') ?? services[0];
}

/**
 * Words of an attribute name: separators split, then camel case with acronyms kept whole
 * (`HTTPSProxyURL` → HTTPS Proxy URL, `userGroupIDs` → user Group IDs). A single capital between a
 * word and the next belongs to the word before (`AuthNPolicyURI` → AuthN Policy URI: "AuthN" is one
 * abbreviation, as in AuthNRequest).
 */
export function nameWords(name: string): string[] {
  const words: string[] = [];
  for (const part of name.split(/[^A-Za-z0-9]+/).filter(Boolean)) {
    for (const token of part.match(/[A-Z]{2,}s(?![a-z])|[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+/g) ?? []) {
      const previous = words.at(-1);
      if (/^[A-Z]$/.test(token) && previous !== undefined && /[a-z0-9]$/.test(previous) && part.includes(previous + token)) words[words.length - 1] = previous + token;
      else words.push(token);
    }
  }
  return words;
}

/** A claim name suggested for an attribute the table does not know: its FriendlyName (or the tail of its Name) in snake_case. */
export function suggestClaimName(name: string, friendlyName?: string): string | undefined {
  const base = friendlyName && friendlyName.trim().length > 0 ? friendlyName : (name.split(/[:/#]/).filter(Boolean).pop() ?? '');
  const snake = nameWords(base)
    .join('_')
    .toLowerCase()
    .replace(/^_+|_+$/g, '')
    .slice(0, 64);
  if (!/^[a-z]/.test(snake)) return undefined;
  return claimTargetProblem(snake) === undefined ? snake : undefined;
}

/** Attributes known to carry several values, whatever their name says (AWS: one value per role the user may assume). */
const KNOWN_LIST_ATTRIBUTES: ReadonlySet<string> = new Set(['https://aws.amazon.com/SAML/Attributes/Role']);

/** Last words that make an attribute a list: roles, groups, entitlements, memberships, plural identifiers. */
const LIST_WORD = /^(roles?|groups?|entitlements?|memberof|members|memberships|permissions|teams|scopes|affiliations|licenses|tags|ids)$/i;

/** Whether an attribute the table does not know is proposed as a list, and why (undefined: single-valued). */
function listReason(name: string, friendlyName?: string): string | undefined {
  if (KNOWN_LIST_ATTRIBUTES.has(name)) return `${name} carries one value per role`;
  for (const candidate of [name.split(/[:/#]/).filter(Boolean).pop() ?? '', friendlyName ?? '']) {
    const last = nameWords(candidate).at(-1);
    if (last !== undefined && LIST_WORD.test(last)) return `its name ends in "${last}"`;
  }
  return undefined;
}

function requestedAttributes(sp: Element, warnings: string[]): RequestedClaim[] {
  const services = children(sp, NS.metadata, 'AttributeConsumingService');
  if (services.length === 0) {
    warnings.push('no AttributeConsumingService: the metadata does not say which attributes the app needs. Run contract-report on a saved assertion to see what it received.');
    return [];
  }
  const service = defaultService(services)!;
  if (services.length > 1) warnings.push(`${services.length} AttributeConsumingServices: only the default one (index ${attr(service, 'index') ?? '?'}) was imported`);
  const out: RequestedClaim[] = [];
  const suggestedClaims = new Set<string>(Object.values(DEFAULT_SAML_CLAIM_MAP).map((r) => r.claim));
  for (const el of children(service, NS.metadata, 'RequestedAttribute')) {
    const name = attr(el, 'Name') ?? '';
    if (name.length === 0) {
      warnings.push('a RequestedAttribute without a Name was ignored');
      continue;
    }
    if (out.some((r) => r.attribute === name)) {
      warnings.push(`RequestedAttribute ${name} is listed twice; imported once`);
      continue;
    }
    const base: Omit<RequestedClaim, 'claim' | 'origin'> = { attribute: name, required: attr(el, 'isRequired') === 'true' || attr(el, 'isRequired') === '1' };
    const nameFormat = attr(el, 'NameFormat');
    if (nameFormat !== undefined) base.nameFormat = nameFormat;
    const friendlyName = attr(el, 'FriendlyName');
    if (friendlyName !== undefined) base.friendlyName = friendlyName;
    if (children(el, NS.assertion, 'AttributeValue').length > 0) warnings.push(`RequestedAttribute ${name} asks for specific values; the broker passes whatever the IdP releases`);
    const rule = Object.hasOwn(DEFAULT_SAML_CLAIM_MAP, name) ? DEFAULT_SAML_CLAIM_MAP[name] : undefined;
    if (rule) {
      out.push({ ...base, claim: rule.claim, multi: rule.multi, origin: 'default' });
      continue;
    }
    const reason = NOT_MAPPED_BY_DEFAULT[name];
    if (reason !== undefined) {
      out.push({ ...base, claim: null, origin: 'none' });
      warnings.push(`${name} is not passed on as a claim: ${reason}`);
      continue;
    }
    const suggestion = suggestClaimName(name, friendlyName);
    if (suggestion && !suggestedClaims.has(suggestion)) {
      suggestedClaims.add(suggestion);
      const list = listReason(name, friendlyName);
      out.push({ ...base, claim: suggestion, multi: list !== undefined, origin: 'suggested' });
      warnings.push(
        list !== undefined
          ? `${name}${friendlyName ? ` (${friendlyName})` : ''} has no default claim: proposed override → ${suggestion} (non-standard, a list: ${list}; make it a plain claim name if it is one value)`
          : `${name}${friendlyName ? ` (${friendlyName})` : ''} has no default claim: proposed override → ${suggestion} (non-standard, single-valued; use {claim, multi: true} if it is a list)`,
      );
    } else {
      out.push({ ...base, claim: null, origin: 'none' });
      warnings.push(`${name}${friendlyName ? ` (${friendlyName})` : ''} has no default claim and no usable name could be derived: add an override or the app loses it`);
    }
  }
  return out;
}

function suggestNamespace(
  namespace: string,
  sector: string,
  formats: readonly string[],
  requirement: string | undefined,
  requested: readonly RequestedClaim[],
  warnings: string[],
): ImportedNamespace {
  const saml = (subject_source: SubjectSource): ImportedNamespace => ({ namespace, strategy: 'saml_subject', subject_source });
  const perSpValue = (what: string) =>
    `${what} is computed by the IdP for one SP entityID. The broker's upstream SAML connection is another SP: the values stay the same only if that connection uses this app's entityID, or the IdP is told to compute them for it. Check with contract-report on a test login before cutover.`;
  const requestedNames = new Set(requested.map((r) => r.attribute));

  if (requirement === 'subject-id') return saml({ kind: 'subject_id' });
  if (requirement === 'pairwise-id' || requirement === 'any') {
    if (requirement === 'any') warnings.push('the SP accepts subject-id or pairwise-id ("any"): pairwise-id proposed; use subject_id if that is what the IdP sent it');
    warnings.push(perSpValue('pairwise-id'));
    return saml({ kind: 'pairwise_id' });
  }
  if (requirement !== undefined && requirement !== 'none') warnings.push(`unknown subject-id requirement "${requirement}" ignored`);

  if (formats.includes(NAMEID_FORMAT.persistent)) {
    warnings.push(perSpValue('A persistent NameID'));
    return saml({ kind: 'persistent_nameid' });
  }
  if (requestedNames.has(SUBJECT_ID_ATTRIBUTE)) return saml({ kind: 'subject_id' });
  if (requestedNames.has(PAIRWISE_ID_ATTRIBUTE)) {
    warnings.push(perSpValue('pairwise-id'));
    return saml({ kind: 'pairwise_id' });
  }
  for (const name of [EDUPERSON_UNIQUE_ID, ENTRA_OBJECT_ID]) {
    if (requestedNames.has(name)) {
      warnings.push(`subject source proposed: attribute ${name} (a stable, non-reassigned identifier the SP requests); confirm the app keys its users on it`);
      return saml({ kind: 'attribute', name });
    }
  }

  if (formats.includes(NAMEID_FORMAT.email)) {
    warnings.push(
      'the SP asks for email-address NameIDs: an email address never becomes sub (it can be reassigned). Proposed: the broker\'s pairwise value; the app must re-key its users on it, or its user table must be imported into a table namespace.',
    );
  } else if (formats.includes(NAMEID_FORMAT.transient)) {
    warnings.push('the SP asks for transient NameIDs: it must key users on an attribute. Find which (contract-report on a saved assertion) and set subject_source {kind: attribute, name}. Proposed meanwhile: the broker\'s pairwise value.');
  } else if (formats.includes(NAMEID_FORMAT.unspecified)) {
    warnings.push('the SP asks for unspecified NameIDs: nothing promises they are stable or never reassigned, so they are refused as sub by default. Proposed: the broker\'s pairwise value (or persistent_nameid with accept_unspecified if the IdP guarantees both).');
  } else if (formats.length === 0) {
    warnings.push('the metadata lists no NameIDFormat: check a saved assertion with contract-report. Proposed: the broker\'s pairwise value.');
  } else {
    warnings.push(`NameIDFormat ${formats.join(', ')} cannot be a sub. Proposed: the broker's pairwise value.`);
  }
  if (requestedNames.has(EPPN)) warnings.push(`the SP requests eduPersonPrincipalName; if the app keys users on it, use subject_source {kind: attribute, name: ${EPPN}} (eduPerson allows it to be reassigned: check the IdP's policy)`);
  return { namespace, strategy: 'pairwise', sector };
}

/** What the operator adds to a draft: the hash of the client secret the CLI generated for it. */
export interface DraftSecret {
  /** `client_secret_hash` of a secret given to the app (hashSecret). */
  clientSecretHash: string;
}

/** Marks a line the operator must decide on; the draft loads without touching it. */
export const DECIDE = 'DECIDE:';

/**
 * Configuration snippets: the client (an entry for `clients:` in broker.config.yaml) and the
 * namespace file (mappings/<namespace>.yaml), as YAML documents that load as printed (a test
 * loads the draft of every fixture through the configuration loader and `check`), with the
 * warnings as comments and every operator decision marked `DECIDE:`.
 */
export function toYaml(result: SpImport, secret: DraftSecret): string {
  const header = [
    ` Generated by import-sp-metadata from the SAML metadata of ${result.legacy.entity_id}.`,
    ` A DRAFT that loads as printed: review every line, decide every line marked ${DECIDE}, then run contract-report before cutting over.`,
    '',
    ' Warnings:',
    ...result.warnings.map((w) => `  - ${w}`),
  ];
  const acs = result.legacy.acs.map((a) => `   ${a.location} (${a.binding.replace('urn:oasis:names:tc:SAML:2.0:bindings:', '')}${a.isDefault ? ', default' : ''})`);

  const { oidc, ...identity } = result.client;
  // claim_overrides is printed even when empty: it is where the operator corrects the table.
  const entry = { ...identity, client_secret_hash: secret.clientSecretHash, oidc };
  const clientDoc = new Document([entry]);
  clientDoc.commentBefore = [
    ...header,
    '',
    ' ── broker.config.yaml: append this entry under clients: ──',
    ' The legacy SP consumed assertions at:',
    ...acs,
  ].join('\n');
  const item = (clientDoc.contents as YAMLSeq).items[0] as YAMLMap;
  commentKey(item, 'client_secret_hash', ' The hash of the secret printed once when this draft was made (on stderr): give that secret to the app. Lost it? npm run cli -- hash-secret --generate');
  const oidcMap = item.get('oidc', true) as unknown as YAMLMap;
  commentKey(oidcMap, 'saml_claims', ' The SAML attributes reach the app as the claims listed at the end of this draft (default table + claim_overrides).');
  commentKey(
    oidcMap,
    'redirect_uris',
    ` ${DECIDE} placeholders. An ACS URL receives a SAML POST, not an OIDC authorization response: the app must add an OIDC callback, and that exact URL goes here.`,
  );

  const nsDoc = new Document(result.namespace);
  nsDoc.commentBefore = [` ── mappings/${result.namespace.namespace}.yaml ──`, ` ${DECIDE} the subject source: what the app keys its users on (docs/migration.md, "Subject sources").`].join('\n');
  if (result.namespace.strategy === 'saml_subject') {
    nsDoc.commentBefore += `\n ${DECIDE} add upstreams: [<the IdP's entity id>] so that only that IdP's values bind here (check warns until then).`;
  }

  const claims = result.requestedAttributes.map((r) => `   ${r.attribute}${r.friendlyName ? ` (${r.friendlyName})` : ''} → ${r.claim ?? 'not passed on'}${r.multi ? ' [list]' : ''}${r.required ? ', required' : ''}${r.origin === 'suggested' ? ', PROPOSED override' : ''}`);
  nsDoc.comment = claims.length > 0 ? [' Requested attributes and the claims they become:', ...claims].join('\n') : ' The SP metadata requests no attributes.';

  const opts = { lineWidth: 0 } as const;
  const text = `${clientDoc.toString(opts)}---\n${nsDoc.toString(opts)}`;
  return text.endsWith('\n') ? text : `${text}\n`;
}

function commentKey(map: YAMLMap, key: string, comment: string): void {
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  if (pair && isScalar(pair.key)) pair.key.commentBefore = comment;
}
