/**
 * The configuration the new subject tokens read: a client's `saml_audiences` (which SAML
 * connections' assertions it may present, with which Audience) and a destination's `sub_id`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigFiles } from '../../src/config/load.js';
import type { BrokerConfigInput } from '../../src/config/schema.js';
import { testNamespaces, testSettings } from '../helpers/broker.js';

const root = join(import.meta.dirname, '../..');
const SP = 'https://broker.example.test/saml/sp';

async function files(mutate: (s: BrokerConfigInput) => void): Promise<ConfigFiles> {
  const settings = await testSettings((s) => {
    s.connections = [
      { type: 'saml', id: 'corp', sp_entity_id: SP, acs_url: 'https://broker.test/login/saml/corp/acs', idp_metadata_file: 'idp.xml' },
      { type: 'oidc', id: 'okta', issuer: 'https://okta.example.test', client_id: 'broker', client_secret: 'x', redirect_uri: 'https://broker.test/login/oidc/okta/callback' },
    ] as NonNullable<BrokerConfigInput['connections']>;
    mutate(s);
  });
  return {
    broker: { path: 'broker.config.yaml', text: stringify(settings) },
    mappings: testNamespaces.map((ns) => ({ path: `mappings/${ns.namespace}.yaml`, text: stringify(ns) })),
    policies: [{ path: 'policies/demo.cedar', text: readFileSync(join(root, 'policies/demo.cedar'), 'utf8') }],
  };
}

function problemsAt(f: ConfigFiles, at: string): string[] {
  try {
    loadConfig(f);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.filter((p) => p.at.startsWith(at)).map((p) => p.message);
  }
  return [];
}

const client = (s: BrokerConfigInput, id: string) => s.clients!.find((c) => c.client_id === id)!;

describe('saml_audiences', () => {
  it('maps a SAML connection to the Audience the IdP uses for this client', async () => {
    const f = await files((s) => void (client(s, 'wiki-agent').saml_audiences = { corp: 'https://wiki.example.test/saml/sp' }));
    expect(problemsAt(f, 'clients')).toEqual([]);
  });

  it('must name a configured connection', async () => {
    const f = await files((s) => void (client(s, 'wiki-agent').saml_audiences = { nowhere: 'https://wiki.example.test/saml/sp' }));
    expect(problemsAt(f, 'clients[0].saml_audiences.nowhere')).toEqual(['no SAML connection with id "nowhere"']);
  });

  it('must name a SAML connection, not an OIDC one', async () => {
    const f = await files((s) => void (client(s, 'wiki-agent').saml_audiences = { okta: 'https://wiki.example.test/saml/sp' }));
    expect(problemsAt(f, 'clients[0].saml_audiences.okta')).toEqual(['no SAML connection with id "okta"']);
  });

  it("must not be the broker's own SP entity id at that connection (login assertions are not the client's)", async () => {
    const f = await files((s) => void (client(s, 'wiki-agent').saml_audiences = { corp: SP }));
    expect(problemsAt(f, 'clients[0].saml_audiences.corp')).toHaveLength(1);
  });

  it('may not be claimed by two clients at one connection', async () => {
    const f = await files((s) => {
      client(s, 'wiki-agent').saml_audiences = { corp: 'https://shared.example.test/sp' };
      client(s, 'basic-agent').saml_audiences = { corp: 'https://shared.example.test/sp' };
    });
    expect(problemsAt(f, 'clients[1].saml_audiences.corp')).toEqual(['"https://shared.example.test/sp" at connection "corp" is also claimed by client "wiki-agent"']);
  });

  it('refuses whitespace in an Audience', async () => {
    const f = await files((s) => void (client(s, 'wiki-agent').saml_audiences = { corp: 'not an uri' }));
    expect(problemsAt(f, 'clients[0].saml_audiences')).not.toEqual([]);
  });
});

describe('destination sub_id', () => {
  it('accepts saml-nameid', async () => {
    const f = await files((s) => void (s.destinations![0]!.sub_id = 'saml-nameid'));
    expect(problemsAt(f, 'destinations')).toEqual([]);
    expect(loadConfig(f).settings.destinations[0]!.sub_id).toBe('saml-nameid');
  });

  it('refuses any other format', async () => {
    const f = await files((s) => void ((s.destinations![0] as Record<string, unknown>).sub_id = 'email'));
    expect(problemsAt(f, 'destinations[0].sub_id')).toHaveLength(1);
  });

  it('is absent by default', async () => {
    expect(loadConfig(await files(() => {})).settings.destinations[0]!.sub_id).toBeUndefined();
  });
});
