/**
 * A SAML connection's IdP metadata status (metadata-source.ts keeps it), as plain data: the
 * upstream registry and the maintenance run report it on both runtimes, so nothing here may
 * import Node modules.
 */

/**
 * `current`: the copy in use is the latest and valid. `stale`: the last refresh failed, the last
 * good copy is still valid and in use. `expired`: the copy in use passed its validUntil; logins are
 * refused until a refresh succeeds.
 */
export type MetadataState = 'current' | 'stale' | 'expired';

export interface MetadataStatus {
  connection: string;
  source: 'url' | 'file' | 'inline';
  state: MetadataState;
  /** Whether the document's signature was verified against metadata_signing_certificate. */
  signed: boolean;
  signingKeys: number;
  fetchedAt: number;
  validUntil?: number;
  /** When the next fetch is due (URL sources only). */
  nextRefreshAt?: number;
  lastFailure?: { at: number; reason: string };
}
