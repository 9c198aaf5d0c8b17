import { readFileSync } from 'node:fs';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { CedarModule, MintQuestion } from '../../src/policy/types.js';

export const cedarModule: CedarModule = cedar;

export const DEMO_POLICIES = readFileSync(new URL('../../policies/demo.cedar', import.meta.url), 'utf8');
export const SCHEMA = readFileSync(new URL('../../policies/xaa.cedarschema', import.meta.url), 'utf8');

/** A question for the demo `todo` destination; override what the test is about. */
export function question(overrides: {
  scopes?: string[];
  groups?: string[];
  amr?: string[];
  email?: string;
  /** The upstream's configured tenant; `corp` (the demo's corporate upstreams) unless given, none when null. */
  tenant?: string | null;
  now?: number;
} = {}): MintQuestion {
  return {
    principal: {
      id: 'alice@https://idp.example',
      upstreamIssuer: 'https://idp.example',
      groups: overrides.groups ?? [],
      ...(overrides.email !== undefined ? { email: overrides.email } : {}),
      ...(overrides.tenant !== null ? { tenant: overrides.tenant ?? 'corp' } : {}),
    },
    clientId: 'agent',
    destination: { id: 'todo', issuer: 'http://localhost:9100' },
    scopes: overrides.scopes ?? ['todos.read'],
    context: { amr: overrides.amr ?? ['pwd'], now: overrides.now ?? 1_700_000_000 },
  };
}
