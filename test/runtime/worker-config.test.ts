import { describe, expect, it } from 'vitest';
import { workerConfigFiles } from '../../scripts/build-worker-config.js';
import { ConfigError, formatProblem } from '../../src/config/load.js';
import { loadWorkerConfig } from '../../src/runtime/worker-config.js';

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** Issue 11 §3: "(issuer from ISSUER)" labels problems of the issuer only, never the rest of the file. */
describe('the Worker configuration with an ISSUER variable', () => {
  it('an invalid ISSUER is labelled as coming from ISSUER', () => {
    const problems = problemsOf(() => loadWorkerConfig(workerConfigFiles(), 'not a url'));
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.startsWith('broker.config.yaml (issuer from ISSUER) at issuer'))).toBe(true);
  });

  it('a problem elsewhere in the file keeps the plain file name', () => {
    const files = workerConfigFiles();
    const broken = { ...files, broker: { ...files.broker, text: files.broker.text.replace(/lifetime: 300/, 'lifetime: 9999') } };
    const problems = problemsOf(() => loadWorkerConfig(broken, 'https://xaa.example.com'));
    expect(problems.some((p) => p.includes('id_jag'))).toBe(true);
    expect(problems.filter((p) => p.includes('(issuer from ISSUER)'))).toEqual([]);
  });

  it('a cross-check that names the ISSUER value is labelled', () => {
    const files = workerConfigFiles();
    // The demo's upstream IdP as the broker's own issuer: the config then trusts itself.
    const problems = problemsOf(() => loadWorkerConfig(files, 'http://localhost:9000'));
    expect(problems.some((p) => p.includes('(issuer from ISSUER)'))).toBe(true);
  });
});

describe('what a Worker cannot do', () => {
  const withSaml = (connection: Record<string, unknown>) => {
    const files = workerConfigFiles();
    const saml = `connections:\n  - ${Object.entries({ type: 'saml', id: 'corp', sp_entity_id: 'https://broker.example/sp', acs_url: 'https://broker.example/login/saml/corp/acs', ...connection })
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
      .join('\n    ')}\n`;
    return { ...files, broker: { ...files.broker, text: `${files.broker.text.replace(/^connections: \[\]\s*$/m, '')}\n${saml}` } };
  };

  it('refuses a SAML connection reading its IdP metadata from a file, naming the field', () => {
    expect(problemsOf(() => loadWorkerConfig(withSaml({ idp_metadata_file: 'idp.xml' })))).toEqual([
      'broker.config.yaml at connections[0].idp_metadata_file: a Worker has no file system: use idp_metadata_url, or put the metadata itself in idp_metadata_xml',
    ]);
  });

  it('takes the same connection with its metadata inline or at a URL', () => {
    expect(loadWorkerConfig(withSaml({ idp_metadata_xml: '<md:EntityDescriptor/>' })).settings.connections).toHaveLength(1);
    expect(loadWorkerConfig(withSaml({ idp_metadata_url: 'https://idp.example/metadata' })).settings.connections).toHaveLength(1);
  });
});
