import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { checkStartup } from '../../src/runtime/check.js';
import { loadConfigFromDisk } from '../../src/runtime/config-files.js';
import { startNodeBroker } from '../../src/runtime/node.js';
import { idpMetadata, NOW, testKeys, type KeyPair } from '../upstream/saml/helpers.js';

/**
 * Issue 10 item 5: `npm run check` runs every validation start-up runs on a SAML connection (but
 * fetches nothing), and refuses exactly what start refuses, with the same message. Item 6 (config
 * part): a plain-http single sign-on URL on a public host is refused; a relative
 * `idp_metadata_file` is read beside the configuration file, not in the working directory.
 */

const root = join(import.meta.dirname, '../..');
const FIXTURES = join(root, 'test/fixtures/saml/idp');
const silent = { info() {}, warn() {}, error() {} };

let keys: Awaited<ReturnType<typeof testKeys>>;
let short: KeyPair;
beforeAll(async () => {
  keys = await testKeys();
  const g = await selfsigned.generate([{ name: 'commonName', value: 'RSA 1024' }], { keySize: 1024, algorithm: 'sha256', notBeforeDate: new Date((NOW - 86_400) * 1000), notAfterDate: new Date((NOW + 86_400 * 365) * 1000) });
  short = { key: g.private, cert: g.cert };
});

/** The demo configuration in a fresh directory, with one SAML connection `corp` and files beside it. */
function configDir(connection: Record<string, unknown>, files: Record<string, string> = {}): string {
  const doc = parseDocument(readFileSync(join(root, 'broker.config.yaml'), 'utf8'));
  doc.set('mappings_dir', join(root, 'mappings'));
  doc.set('policies_dir', join(root, 'policies'));
  doc.set('connections', [
    {
      type: 'saml',
      id: 'corp',
      display_name: 'Corp',
      sp_entity_id: 'https://broker.example.test/login/saml/corp/metadata',
      acs_url: 'https://broker.example.test/login/saml/corp/acs',
      ...connection,
    },
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'xaa-saml-check-'));
  writeFileSync(join(dir, 'broker.config.yaml'), String(doc));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** What `npm run check` finds (cli.ts: load the files, then checkStartup). */
async function check(dir: string) {
  const { config } = loadConfigFromDisk(join(dir, 'broker.config.yaml'));
  return checkStartup(config, 'broker.config.yaml');
}

/** Starts the Node broker on the configuration: undefined when it started (then stopped), else why not. */
async function start(dir: string): Promise<string | undefined> {
  try {
    const b = await startNodeBroker({ configPath: join(dir, 'broker.config.yaml'), port: 0, database: join(dir, 'broker.sqlite'), logger: silent });
    await b.stop();
    await new Promise((done) => b.server.close(done));
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Check refuses the connection with one problem; start refuses with the same message. Returns it. */
async function refusedByBoth(dir: string): Promise<string> {
  const { problems } = await check(dir);
  expect(problems).toHaveLength(1);
  expect(problems[0]!.at).toBe('connections[0]');
  expect(await start(dir)).toBe(problems[0]!.message);
  return problems[0]!.message;
}

const pair = (k: KeyPair) => ({ private_key: k.key, certificate: k.cert });
const certBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

describe('check refuses what start refuses', () => {
  it('an IdP that wants signed AuthnRequests (WantAuthnRequestsSigned) and no sp_signing', async () => {
    const dir = configDir({ idp_metadata_file: join(FIXTURES, 'keycloak-like.xml') });
    expect(await refusedByBoth(dir)).toBe('SAML connection corp: the IdP wants signed AuthnRequests: configure sp_signing');
  }, 30_000);

  it('an unparsable signing certificate in the IdP metadata', async () => {
    const xml = idpMetadata([keys.idp.cert]).replace(certBody(keys.idp.cert), 'MIIBAAAAnotacertificate0000');
    const dir = configDir({ idp_metadata_xml: xml });
    expect(await refusedByBoth(dir)).toBe('SAML connection corp: a signing certificate in the metadata cannot be parsed');
  }, 30_000);

  it('an unparsable SP certificate', async () => {
    const garbage = '-----BEGIN CERTIFICATE-----\nMIIBAAAAnotacertificate0000\n-----END CERTIFICATE-----\n';
    const dir = configDir({ idp_metadata_xml: idpMetadata([keys.idp.cert]), sp_signing: { private_key: keys.spSigning.key, certificate: garbage } });
    expect(await refusedByBoth(dir)).toBe('SAML connection corp: sp_signing: the private key or certificate cannot be parsed');
  }, 30_000);

  it('an aggregate (EntitiesDescriptor) without idp_entity_id', async () => {
    const dir = configDir({ idp_metadata_file: join(FIXTURES, 'federation-aggregate.xml') });
    expect(await refusedByBoth(dir)).toBe('SAML connection corp: expected one IdP entity, found 39 (set idp_entity_id)');
  }, 30_000);

  it('a 1024-bit RSA signing key in the IdP metadata', async () => {
    const dir = configDir({ idp_metadata_xml: idpMetadata([short.cert]) });
    expect(await refusedByBoth(dir)).toBe('SAML connection corp: an RSA signing key is shorter than 2048 bits');
  }, 30_000);

  it('a 1024-bit RSA SP signing key', async () => {
    const dir = configDir({ idp_metadata_xml: idpMetadata([keys.idp.cert]), sp_signing: pair(short) });
    expect(await refusedByBoth(dir)).toBe('SAML connection corp: sp_signing: the key is shorter than 2048 bits');
  }, 30_000);

  it('a missing metadata file', async () => {
    const dir = configDir({ idp_metadata_file: 'missing-idp.xml' });
    expect(await refusedByBoth(dir)).toBe(`SAML connection corp: metadata file cannot be read: ENOENT: no such file or directory, stat '${join(dir, 'missing-idp.xml')}'`);
  }, 30_000);

  it('an sso_binding the IdP does not offer (item 2)', async () => {
    const dir = configDir({ idp_metadata_file: join(FIXTURES, 'google-like.xml'), sso_binding: 'redirect' });
    expect(await refusedByBoth(dir)).toBe('SAML connection corp: sso_binding is redirect but the IdP metadata offers no HTTP-Redirect SingleSignOnService');
  }, 30_000);

  it('an SP key named by private_key_env: unset, both refuse naming the variable; set, both take it from the environment', async () => {
    const name = 'XAA_TEST_SAML_SIGNING_KEY';
    const dir = configDir({ idp_metadata_xml: idpMetadata([keys.idp.cert]), sp_signing: { private_key_env: name, certificate: keys.spSigning.cert } });
    delete process.env[name];
    expect(await refusedByBoth(dir)).toBe(`SAML connection corp: sp_signing.private_key_env: ${name} is not set`);
    process.env[name] = keys.spSigning.key;
    try {
      expect(await check(dir)).toEqual({ problems: [], notes: [] });
      expect(await start(dir)).toBeUndefined();
    } finally {
      delete process.env[name];
    }
  }, 30_000);

  it('a valid connection passes both; metadata at a URL is not fetched by check, and it says so', async () => {
    const ok = configDir({ idp_metadata_xml: idpMetadata([keys.idp.cert]), sp_signing: pair(keys.spSigning) });
    expect(await check(ok)).toEqual({ problems: [], notes: [] });
    expect(await start(ok)).toBeUndefined();
    const byUrl = await check(configDir({ idp_metadata_url: 'https://idp.example.test/metadata' }));
    expect(byUrl).toEqual({ problems: [], notes: ['connections[0] (corp): idp_metadata_url is not fetched by check; start fetches and validates it'] });
  }, 30_000);

  it('npm run check prints the problem and exits 1; a valid configuration exits 0', async () => {
    const run = (dir: string) =>
      new Promise<{ code: number; output: string }>((done) => {
        execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'check', '-c', join(dir, 'broker.config.yaml')], { cwd: root }, (err, stdout, stderr) => {
          done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
        });
      });
    const bad = await run(configDir({ idp_metadata_file: join(FIXTURES, 'keycloak-like.xml') }));
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('configuration is invalid:');
    expect(bad.output).toMatch(/broker\.config\.yaml at connections\[0\]: SAML connection corp: the IdP wants signed AuthnRequests: configure sp_signing/);
    const good = await run(configDir({ idp_metadata_file: join(FIXTURES, 'keycloak-like.xml'), sp_signing: pair(keys.spSigning) }));
    expect(good.output).toContain('configuration is valid');
    expect(good.code).toBe(0);
  }, 60_000);
});

describe('single sign-on URLs in the IdP metadata follow the https rule (item 6)', () => {
  const withSso = (location: string) =>
    idpMetadata([keys.idp.cert]).replace(/Location="https:\/\/idp\.example\.test\/sso\/redirect"/, `Location="${location}"`);

  it('plain http on a public host is refused by check and start', async () => {
    const dir = configDir({ idp_metadata_xml: withSso('http://idp.corp.example/sso/redirect') });
    expect(await refusedByBoth(dir)).toBe("SAML connection corp: the IdP's HTTP-Redirect SingleSignOnService Location http://idp.corp.example/sso/redirect must be https");
  }, 30_000);

  it('http on loopback needs allow_insecure_http_for_loopback, as every other URL', async () => {
    const refused = configDir({ idp_metadata_xml: withSso('http://127.0.0.1:9000/sso/redirect') });
    expect(await refusedByBoth(refused)).toBe("SAML connection corp: the IdP's HTTP-Redirect SingleSignOnService Location http://127.0.0.1:9000/sso/redirect http requires allow_insecure_http_for_loopback");
    const allowed = configDir({ idp_metadata_xml: withSso('http://localhost:9000/sso/redirect'), allow_insecure_http_for_loopback: true });
    expect((await check(allowed)).problems).toEqual([]);
  }, 30_000);
});

describe('a relative idp_metadata_file is read beside the configuration file (item 6)', () => {
  it('check and start find it there, whatever the working directory', async () => {
    const dir = configDir({ idp_metadata_file: 'idp/okta.xml' });
    // Only beside the configuration: the working directory (the project root) has no idp/ folder.
    mkdirSync(join(dir, 'idp'));
    copyFileSync(join(FIXTURES, 'okta-like.xml'), join(dir, 'idp/okta.xml'));
    expect(process.cwd()).not.toBe(dir);
    expect(await check(dir)).toEqual({ problems: [], notes: [] });
    expect(await start(dir)).toBeUndefined();
    const { config } = loadConfigFromDisk(join(dir, 'broker.config.yaml'));
    expect(config.settings.connections[0]!.idp_metadata_file).toBe(join(dir, 'idp/okta.xml'));
  }, 30_000);
});
