import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSamlConnection, MemoryLoginTransactionStore, SamlConfigError } from '../../../src/upstream/saml/index.js';
import { ACS, IDP_ENTITY, idpMetadata, MemoryReplayStore, NOW, SP_ENTITY, testKeys } from './helpers.js';

/**
 * The part of connection.test.ts that needs Node itself: a metadata file on disk (a Worker has no
 * file system) and a 1024-bit certificate made on the spot. connection.test.ts runs on both runtimes.
 */

let keys: Awaited<ReturnType<typeof testKeys>>;
beforeAll(async () => {
  keys = await testKeys();
});

const deps = () => ({ replay: new MemoryReplayStore(), transactions: new MemoryLoginTransactionStore(), clock: () => NOW });

describe('configuration on Node', () => {
  it('reads metadata from a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'saml-md-'));
    try {
      const file = join(dir, 'idp.xml');
      await writeFile(file, idpMetadata([keys.idp.cert]));
      const conn = await createSamlConnection({ id: 'f', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_file: file }, deps());
      expect(conn.idpEntityId).toBe(IDP_ENTITY);
      await expect(createSamlConnection({ id: 'f', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_file: join(dir, 'missing.xml') }, deps())).rejects.toThrow(SamlConfigError);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('refuses metadata whose RSA signing key is shorter than 2048 bits', async () => {
    const weak = await selfsigned.generate([{ name: 'commonName', value: 'weak' }], { keySize: 1024, algorithm: 'sha256' });
    await expect(createSamlConnection({ id: 'm', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_xml: idpMetadata([weak.cert]) }, deps())).rejects.toThrow(/shorter than 2048/);
  });
});
