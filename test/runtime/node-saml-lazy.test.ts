import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseDocument } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { IDP_ENTITY, idpMetadata, testKeys } from '../upstream/saml/helpers.js';

/**
 * The Node entry loads SAML (samlify, the XML libraries) only when a SAML connection is
 * configured. Observed from outside, in a process of its own: which CommonJS packages the
 * started broker has loaded (Node's require cache), and what it answers.
 */

const root = join(import.meta.dirname, '../..');
let metadataXml: string;
beforeAll(async () => {
  metadataXml = idpMetadata([(await testKeys()).idp.cert]);
});

/** The demo configuration, with the given connections; mappings and policies from the project. */
function configWith(connections: unknown[]): string {
  const doc = parseDocument(readFileSync(join(root, 'broker.config.yaml'), 'utf8'));
  doc.set('mappings_dir', join(root, 'mappings'));
  doc.set('policies_dir', join(root, 'policies'));
  if (connections.length > 0) doc.set('connections', connections);
  const dir = mkdtempSync(join(tmpdir(), 'xaa-lazy-'));
  writeFileSync(join(dir, 'broker.config.yaml'), String(doc));
  return dir;
}

/** Starts the broker in a child process; answers what it loaded and the status of `path`. */
function startAndInspect(dir: string, port: number, path: string): { samlify: boolean; status: number } {
  const script = `
    import { createRequire } from 'node:module';
    const { startNodeBroker } = await import(${JSON.stringify(pathToFileURL(join(root, 'src/runtime/node.ts')).href)});
    const silent = { info() {}, warn() {}, error() {} };
    const b = await startNodeBroker({ configPath: ${JSON.stringify(join(dir, 'broker.config.yaml'))}, port: ${port}, database: ${JSON.stringify(join(dir, 'b.sqlite'))}, logger: silent });
    const samlify = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/samlify/'));
    const status = (await fetch('http://127.0.0.1:${port}${path}')).status;
    console.log(JSON.stringify({ samlify, status }));
    process.exit(0);`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { samlify: boolean; status: number };
}

describe('SAML is loaded only when configured (Node entry)', () => {
  it('a broker without SAML connections starts without loading samlify', () => {
    const dir = configWith([]);
    expect(startAndInspect(dir, 18811, '/.well-known/oauth-authorization-server')).toEqual({ samlify: false, status: 200 });
  }, 40_000);

  it('a broker with a SAML connection loads it and serves its SP metadata', () => {
    const dir = configWith([
      {
        type: 'saml',
        id: 'corp',
        display_name: 'Corp',
        sp_entity_id: 'http://localhost:8787/login/saml/corp/metadata',
        acs_url: 'http://localhost:8787/login/saml/corp/acs',
        idp_entity_id: IDP_ENTITY,
        idp_metadata_xml: metadataXml,
        allow_insecure_http_for_loopback: true,
      },
    ]);
    expect(startAndInspect(dir, 18812, '/login/saml/corp/metadata')).toEqual({ samlify: true, status: 200 });
  }, 40_000);
});
