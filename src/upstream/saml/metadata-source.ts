import { X509Certificate } from 'node:crypto';
import { SAML_METADATA_DEFAULT_REFRESH, SAML_METADATA_MAX_REFRESH, SAML_METADATA_MIN_REFRESH, SAML_METADATA_RETRY_AFTER } from '../../constants.js';
import type { Logger } from '../../logger.js';
import { boundedDetail, Refused, refused } from './errors.js';
import { loadMetadataText, MetadataError, parseIdpMetadata, signingKey, type IdpMetadata, type MetadataSource } from './metadata.js';
import { verifyEnvelopedSignature, type IdpSigningKey } from './signature.js';
import { attr, children, is, isoInstant, NS, parseInstant, parseStrict, refuseDoctype } from './xml.js';
import type { MetadataStatus } from './metadata-status.js';

export type { MetadataState, MetadataStatus } from './metadata-status.js';

/**
 * The lifecycle of a SAML connection's IdP metadata: which copy is in use, until when, and when
 * to fetch it again.
 *
 * - A copy is trusted only as read from what was verified: for signed metadata, the bytes the
 *   root's signature covers (xml-crypto's signed reference), never the document around them.
 * - Metadata from `idp_metadata_url` is fetched again after its `cacheDuration` (bounded), lazily
 *   when a login finds it due and from the broker's maintenance run. Time is the injected clock;
 *   no rule rests on a timer firing (Workers timers do not fire).
 * - A copy past its `validUntil` is not used: logins are refused (`metadata_expired`) until a
 *   fresh copy arrives. A refresh that fails (network, signature, expired, unparsable) leaves the
 *   last good copy in use, logged with the connection and the reason, and visible in `status()`.
 */

export interface MetadataSourceConfig extends MetadataSource {
  id: string;
  idp_entity_id?: string;
  metadata_signing_certificate?: string | string[];
}

export interface MetadataSourceDeps {
  /** Seconds since epoch. */
  clock: () => number;
  fetch?: typeof fetch;
  logger?: Logger;
  /**
   * The connection's own check of a refreshed copy (e.g. that it does not start requiring signed
   * AuthnRequests the connection cannot sign): throwing MetadataError fails the refresh.
   */
  accept?: (idp: IdpMetadata) => void;
}

/** One verified, parsed copy of the metadata. */
export interface MetadataCopy {
  /** Bumped each time a different document replaces the one in use. */
  version: number;
  /** The verified document (for signed metadata, exactly the signed bytes): what every reader parses. */
  xml: string;
  idp: IdpMetadata;
  fetchedAt: number;
  validUntil?: number;
  /** The effective cacheDuration (seconds), before bounding; absent when the document has none. */
  cacheDuration?: number;
}

/** xs:duration (`PnYnMnDTnHnMnS`), to seconds; a year is 365 days and a month 30. Undefined if malformed or negative. */
export function parseDuration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(value.trim());
  if (!m || value.trim() === 'P' || value.trim().endsWith('T')) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((v) => (v === undefined ? 0 : Number(v))) as [number, number, number, number, number, number];
  return y * 365 * 86_400 + mo * 30 * 86_400 + d * 86_400 + h * 3600 + mi * 60 + s;
}

/** How long after a fetch the next one is due: the cacheDuration, or the default, held within the bounds. */
export function refreshDelay(cacheDuration: number | undefined): number {
  return Math.min(SAML_METADATA_MAX_REFRESH, Math.max(SAML_METADATA_MIN_REFRESH, cacheDuration ?? SAML_METADATA_DEFAULT_REFRESH));
}

/** The elements from the root down to the IdP's EntityDescriptor (the entity included). */
function pathTo(el: Element, entityId: string): Element[] | undefined {
  if (is(el, NS.metadata, 'EntityDescriptor')) return attr(el, 'entityID') === entityId ? [el] : undefined;
  if (!is(el, NS.metadata, 'EntitiesDescriptor')) return undefined;
  for (const child of [...children(el, NS.metadata, 'EntityDescriptor'), ...children(el, NS.metadata, 'EntitiesDescriptor')]) {
    const below = pathTo(child, entityId);
    if (below) return [el, ...below];
  }
  return undefined;
}

/**
 * The IdP entity's validity (SAML metadata §2.3.1): the earliest validUntil and the shortest
 * cacheDuration on the entity and every EntitiesDescriptor around it. A validUntil that is not a
 * UTC xs:dateTime is refused (the copy's end cannot be known); a malformed cacheDuration is
 * ignored (the default applies: it only schedules the next fetch).
 */
export function metadataLifetime(root: Element, entityId: string): { validUntil?: number; cacheDuration?: number } {
  const path = pathTo(root, entityId);
  if (!path) throw new MetadataError(`IdP entity ${entityId} not found`);
  let validUntil: number | undefined;
  let cacheDuration: number | undefined;
  for (const el of path) {
    const until = attr(el, 'validUntil');
    if (until !== undefined) {
      const at = parseInstant(until.trim());
      if (at === undefined) throw new MetadataError(`validUntil "${boundedDetail(until)}" is not a UTC xs:dateTime`);
      validUntil = validUntil === undefined ? at : Math.min(validUntil, at);
    }
    const duration = parseDuration(attr(el, 'cacheDuration'));
    if (duration !== undefined) cacheDuration = cacheDuration === undefined ? duration : Math.min(cacheDuration, duration);
  }
  return { ...(validUntil !== undefined ? { validUntil } : {}), ...(cacheDuration !== undefined ? { cacheDuration } : {}) };
}

/** The configured metadata signer's keys, checked as the IdP's signing keys are (RSA ≥ 2048, allowed curves). */
export function metadataSigningKeys(pems: string | readonly string[]): IdpSigningKey[] {
  return (typeof pems === 'string' ? [pems] : pems).map((pem) => {
    let der: string;
    try {
      der = new X509Certificate(pem).raw.toString('base64');
    } catch {
      throw new MetadataError('metadata_signing_certificate cannot be parsed');
    }
    try {
      return signingKey(der);
    } catch (err) {
      throw new MetadataError(`metadata_signing_certificate: ${err instanceof Error ? err.message : 'unusable'}`);
    }
  });
}

function parseDocument(xml: string): Document {
  try {
    refuseDoctype(xml);
    return parseStrict(xml);
  } catch (err) {
    if (err instanceof Refused) throw new MetadataError(`metadata refused: ${err.reason.code}`);
    throw err;
  }
}

/**
 * Verifies the one enveloped signature on the document's root with the project's XML-DSig
 * verification (signature.ts: allow-listed algorithms, the reference must be `#` + the root's ID,
 * that ID held by exactly one element, keys only from configuration) and returns the signed bytes.
 * A signature anywhere else (a signed entity wrapped in an unsigned aggregate) does not count.
 */
export function verifiedMetadataXml(xml: string, keys: readonly IdpSigningKey[]): string {
  const doc = parseDocument(xml);
  const root = doc.documentElement;
  if (!is(root, NS.metadata, 'EntitiesDescriptor') && !is(root, NS.metadata, 'EntityDescriptor')) {
    throw new MetadataError('root element is neither md:EntityDescriptor nor md:EntitiesDescriptor');
  }
  const signatures = children(root, NS.dsig, 'Signature');
  if (signatures.length === 0) throw new MetadataError('the metadata is not signed at its root (metadata_signing_certificate is configured)');
  if (signatures.length > 1) throw new MetadataError('the metadata root carries more than one signature');
  try {
    return verifyEnvelopedSignature(xml, signatures[0]!, root, 'metadata', keys);
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    const { reason } = err;
    throw new MetadataError(`metadata signature refused: ${reason.code}${reason.detail ? ` (${reason.detail})` : ''}`);
  }
}

/** Everything a copy must pass before it is trusted: signature (where required), the IdP's entry, validity. */
export function trustedCopy(
  text: string,
  o: { fromUrl: boolean; keys?: readonly IdpSigningKey[]; entityId?: string; now: number },
): Omit<MetadataCopy, 'version' | 'fetchedAt'> {
  const root = parseDocument(text).documentElement;
  const aggregate = is(root, NS.metadata, 'EntitiesDescriptor');
  let xml = text;
  if (o.keys) xml = verifiedMetadataXml(text, o.keys);
  else if (aggregate && o.fromUrl) throw new MetadataError('a metadata aggregate (EntitiesDescriptor) from idp_metadata_url must be signed: configure metadata_signing_certificate');
  const idp = parseIdpMetadata(xml, o.entityId);
  const lifetime = metadataLifetime(parseDocument(xml).documentElement, idp.entityId);
  if (lifetime.validUntil !== undefined && lifetime.validUntil <= o.now) throw new MetadataError(`the metadata expired at ${isoInstant(lifetime.validUntil)} (validUntil)`);
  return { xml, idp, ...lifetime };
}

function message(err: unknown): string {
  return boundedDetail(err instanceof MetadataError ? err.message : err instanceof Error ? `${err.name}: ${err.message}` : 'unknown error');
}

/** A connection's IdP metadata over time. Build it with `load`, which throws MetadataError. */
export class IdpMetadataSource {
  private copy: MetadataCopy;
  private nextRefreshAt: number | undefined;
  private lastFailure: { at: number; reason: string } | undefined;
  private inflight: Promise<void> | undefined;

  private constructor(
    private readonly config: MetadataSourceConfig,
    private readonly deps: MetadataSourceDeps,
    private readonly keys: IdpSigningKey[] | undefined,
    first: MetadataCopy,
  ) {
    this.copy = first;
    this.nextRefreshAt = this.schedule(first, first.fetchedAt);
  }

  /** Loads and checks the first copy; an unusable or expired one stops the connection from being built. */
  static async load(config: MetadataSourceConfig, deps: MetadataSourceDeps): Promise<IdpMetadataSource> {
    const keys = config.metadata_signing_certificate === undefined ? undefined : metadataSigningKeys(config.metadata_signing_certificate);
    const now = deps.clock();
    const text = await loadMetadataText(config, deps.fetch);
    const checked = trustedCopy(text, { fromUrl: config.idp_metadata_url !== undefined, ...(keys ? { keys } : {}), ...(config.idp_entity_id !== undefined ? { entityId: config.idp_entity_id } : {}), now });
    deps.accept?.(checked.idp);
    return new IdpMetadataSource(config, deps, keys, { ...checked, version: 1, fetchedAt: now });
  }

  get current(): MetadataCopy {
    return this.copy;
  }

  /**
   * The copy a login may use now: refreshed first when due, refused (`metadata_expired`) when past
   * its validUntil.
   */
  async use(now: number): Promise<MetadataCopy> {
    await this.refreshIfDue(now);
    return this.valid(now);
  }

  /** Whether a fetch is due (`use` would fetch first). */
  isDue(now: number): boolean {
    return this.nextRefreshAt !== undefined && now >= this.nextRefreshAt;
  }

  /** The copy in use, without fetching: refused (`metadata_expired`) when past its validUntil. */
  valid(now: number): MetadataCopy {
    const { validUntil } = this.copy;
    if (validUntil !== undefined && validUntil <= now) {
      const failure = this.lastFailure ? `; last refresh failed: ${this.lastFailure.reason}` : '';
      refused({ code: 'metadata_expired', detail: `validUntil ${isoInstant(validUntil)} has passed${failure}` });
    }
    return this.copy;
  }

  /** Fetches again if due (URL sources only; one fetch at a time). Never throws: a failure is recorded. */
  async refreshIfDue(now: number): Promise<MetadataStatus> {
    if (this.isDue(now)) {
      this.inflight ??= this.refresh(now).finally(() => (this.inflight = undefined));
      await this.inflight;
    }
    return this.status(now);
  }

  status(now: number): MetadataStatus {
    const { config, copy } = this;
    const expired = copy.validUntil !== undefined && copy.validUntil <= now;
    return {
      connection: config.id,
      source: config.idp_metadata_url !== undefined ? 'url' : config.idp_metadata_file !== undefined ? 'file' : 'inline',
      state: expired ? 'expired' : this.lastFailure ? 'stale' : 'current',
      signed: this.keys !== undefined,
      signingKeys: copy.idp.signingKeys.length,
      fetchedAt: copy.fetchedAt,
      ...(copy.validUntil !== undefined ? { validUntil: copy.validUntil } : {}),
      ...(this.nextRefreshAt !== undefined ? { nextRefreshAt: this.nextRefreshAt } : {}),
      ...(this.lastFailure ? { lastFailure: this.lastFailure } : {}),
    };
  }

  /** URL sources only: the copy's cacheDuration (bounded) after the fetch, and no later than its validUntil. */
  private schedule(copy: MetadataCopy, now: number): number | undefined {
    if (this.config.idp_metadata_url === undefined) return undefined;
    const due = now + refreshDelay(copy.cacheDuration);
    return copy.validUntil === undefined ? due : Math.max(now + SAML_METADATA_RETRY_AFTER, Math.min(due, copy.validUntil));
  }

  private async refresh(now: number): Promise<void> {
    const { config, deps } = this;
    try {
      const text = await loadMetadataText(config, deps.fetch);
      // The IdP stays the one first loaded: an aggregate may not swap in another entity.
      const checked = trustedCopy(text, { fromUrl: true, ...(this.keys ? { keys: this.keys } : {}), entityId: config.idp_entity_id ?? this.copy.idp.entityId, now });
      deps.accept?.(checked.idp);
      const changed = checked.xml !== this.copy.xml;
      this.copy = { ...checked, version: changed ? this.copy.version + 1 : this.copy.version, fetchedAt: now };
      this.lastFailure = undefined;
      this.nextRefreshAt = this.schedule(this.copy, now);
      if (changed) {
        deps.logger?.info(
          { event: 'saml_metadata_refreshed', connection: config.id, signingKeys: checked.idp.signingKeys.length, ...(checked.validUntil !== undefined ? { validUntil: checked.validUntil } : {}) },
          'SAML IdP metadata refreshed',
        );
      }
    } catch (err) {
      const reason = message(err);
      this.lastFailure = { at: now, reason };
      this.nextRefreshAt = now + SAML_METADATA_RETRY_AFTER;
      const { validUntil } = this.copy;
      deps.logger?.warn(
        { event: 'saml_metadata_refresh_failed', connection: config.id, reason, ...(validUntil !== undefined ? { lastGoodValidUntil: validUntil } : {}) },
        validUntil !== undefined && validUntil <= now ? 'SAML IdP metadata refresh failed; the copy in use has expired: logins are refused' : 'SAML IdP metadata refresh failed; the last good copy stays in use',
      );
    }
  }
}
