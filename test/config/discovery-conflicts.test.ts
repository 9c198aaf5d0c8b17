/**
 * IdP discovery must never have to guess: an email domain claimed by two connections, or more than
 * one `default` connection, is a load error naming the file and the path (src/upstream/discovery.ts
 * `discoveryConflicts`, enforced by the config loader).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigFiles } from '../../src/config/load.js';
import type { BrokerConfigInput } from '../../src/config/schema.js';
import { testNamespaces, testSettings } from '../helpers/broker.js';

const root = join(import.meta.dirname, '../..');

const oidc = (id: string, extra: Record<string, unknown>) => ({
  type: 'oidc',
  id,
  issuer: `https://${id}.example.test`,
  client_id: 'broker',
  client_secret: 'x',
  redirect_uri: `https://broker.test/login/oidc/${id}/callback`,
  ...extra,
});

async function files(connections: unknown[]): Promise<ConfigFiles> {
  const settings = await testSettings((s) => {
    s.connections = connections as NonNullable<BrokerConfigInput['connections']>;
  });
  return {
    broker: { path: 'broker.config.yaml', text: stringify(settings) },
    mappings: testNamespaces.map((ns) => ({ path: `mappings/${ns.namespace}.yaml`, text: stringify(ns) })),
    policies: [{ path: 'policies/demo.cedar', text: readFileSync(join(root, 'policies/demo.cedar'), 'utf8') }],
  };
}

function problems(f: ConfigFiles) {
  try {
    loadConfig(f);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('discovery conflicts are refused at load', () => {
  it('an email domain claimed by two connections (case-insensitively)', async () => {
    const f = await files([oidc('corp', { email_domains: ['corp.example'] }), oidc('partner', { email_domains: ['Corp.Example'] })]);
    expect(problems(f)).toContainEqual({ file: 'broker.config.yaml', at: 'connections[1].email_domains[0]', message: expect.stringMatching(/corp\.example.*corp.*partner/) });
  });

  it('more than one default connection', async () => {
    const f = await files([oidc('corp', { default: true }), oidc('partner', { default: true })]);
    expect(problems(f)).toContainEqual({ file: 'broker.config.yaml', at: 'connections[1].default', message: expect.stringMatching(/default.*corp/) });
  });

  it('distinct domains and one default load', async () => {
    const f = await files([oidc('corp', { email_domains: ['corp.example'], default: true }), oidc('partner', { email_domains: ['partner.example'] })]);
    expect(problems(f)).toEqual([]);
  });
});
