/**
 * `destinations[].backchannel_client` (resource-pulled profile): validated at load. It names an
 * existing, confidential client that is the back channel of that destination alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig, type ConfigFiles } from '../../src/config/load.js';
import type { BrokerConfigInput } from '../../src/config/schema.js';
import { problemsOf } from '../helpers/config.js';
import { testNamespaces } from '../helpers/broker.js';
import { pulledSettings } from '../exchange/pulled-helpers.js';

const root = join(import.meta.dirname, '../..');

async function files(mutate: (s: BrokerConfigInput) => void = () => {}): Promise<ConfigFiles> {
  return {
    broker: { path: 'broker.config.yaml', text: stringify(await pulledSettings(mutate)) },
    mappings: testNamespaces.map((ns) => ({ path: `mappings/${ns.namespace}.yaml`, text: stringify(ns) })),
    policies: [{ path: 'policies/demo.cedar', text: readFileSync(join(root, 'policies/demo.cedar'), 'utf8') }],
  };
}

const todo = (s: BrokerConfigInput) => s.destinations!.find((d) => d.id === 'todo')!;

describe('destinations[].backchannel_client', () => {
  it('is accepted when it names a confidential client serving that destination alone', async () => {
    expect(loadConfig(await files()).settings.destinations.find((d) => d.id === 'todo')!.backchannel_client).toBe('todo-as');
  });

  it.each([
    ['an unknown client', (s: BrokerConfigInput) => (todo(s).backchannel_client = 'nobody'), /no client "nobody"/],
    ['a public client', (s: BrokerConfigInput) => (todo(s).backchannel_client = 'spa'), /public/],
    ['a client already the back channel of another destination', (s: BrokerConfigInput) => (todo(s).backchannel_client = 'crm-as'), /already the back-channel client of destination/],
  ])('refuses %s', async (_name, mutate, message) => {
    const problems = problemsOf(await files(mutate));
    expect(problems).toContainEqual(expect.objectContaining({ file: 'broker.config.yaml', message: expect.stringMatching(message) }));
  });
});
