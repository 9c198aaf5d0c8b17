import { describe, expect, it } from 'vitest';
import { createPolicyEngine, PolicyLoadError, toDecision } from '../../src/policy/cedar-engine.js';
import type { CedarModule } from '../../src/policy/types.js';
import { cedarModule as cedar, DEMO_POLICIES, question, SCHEMA } from './fixtures.js';

function loadError(policies: string, schema?: string): PolicyLoadError {
  try {
    createPolicyEngine(cedar, { policies, ...(schema !== undefined ? { schema } : {}) });
  } catch (err) {
    if (err instanceof PolicyLoadError) return err;
    throw err;
  }
  throw new Error('the policy set loaded');
}

const demo = () => createPolicyEngine(cedar, { policies: DEMO_POLICIES, schema: SCHEMA });

describe('loading', () => {
  it('reads a @step_up forbid\'s effect past comments and URLs in its annotations', () => {
    const policies = '// why: writes need a hardware key\n@id("hwk")\n// a comment between annotations\n@step_up("acr_values=https://refeds.org/profile/mfa&amr=hwk")\nforbid (principal, action, resource) unless { context.amr.contains("hwk") };\n@id("all") permit (principal, action, resource);';
    expect(createPolicyEngine(cedar, { policies }).policyIds).toEqual(['hwk', 'all']);
  });

  it('loads the demo policies against the schema, named by their @id', () => {
    const engine = demo();
    expect(engine.policyIds).toEqual(['employees-read-todos', 'writers-need-group', 'require-mfa-for-write', 'write-only-from-corporate-upstreams', 'employees-may-export', 'export-needs-approval']);
    expect(engine.warnings).toEqual([]);
  });

  it('refuses a syntax error, naming its line and column', () => {
    const err = loadError('permit(principal, action, resource);\n\npermit(principal, action, resource) when { x };');
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(/^line 3:44: .*invalid variable: x/);
  });

  it('counts positions in characters even when Cedar counts bytes', () => {
    const err = loadError('// één\npermit(principal, action, resource) when { x };');
    expect(err.problems[0]).toMatch(/^line 2:44: /);
  });

  it('refuses a policy that violates the schema, naming the policy and the attribute', () => {
    const typo = '\n@id("typo")\npermit(principal, action, resource) when { resource.nam == "todos.read" };';
    const text = DEMO_POLICIES + typo;
    const err = loadError(text, SCHEMA);
    expect(err.problems).toHaveLength(1);
    const line = text.split('\n').length;
    expect(err.problems[0]).toMatch(new RegExp(`^policy "typo" line ${line}:44: .*attribute \`nam\` on entity type \`Xaa::Scope\` not found`));
    expect(err.message).toContain('policy set refused');
  });

  describe('a set joined from several files', () => {
    const first = '@id("a")\npermit(principal, action, resource);\n';
    const load = (second: string, schema?: string) => {
      const policies = `${first}\n${second}`;
      const sources = [
        { path: 'policies/a.cedar', start: 0 },
        { path: 'policies/b.cedar', start: first.length + 1 },
      ];
      try {
        createPolicyEngine(cedar, { policies, sources, ...(schema !== undefined ? { schema } : {}) });
      } catch (err) {
        if (err instanceof PolicyLoadError) return err;
        throw err;
      }
      throw new Error('the policy set loaded');
    };

    it('names the file and the line in that file of a syntax error', () => {
      const err = load('// second file\n\npermit(principal, action, resource) when { x };');
      expect(err.problems).toEqual([expect.stringMatching(/^policies\/b\.cedar line 3:44: .*invalid variable: x/)]);
    });

    it('names the file and the line in that file of a validation error', () => {
      const err = load('\n@id("typo")\npermit(principal, action, resource) when { resource.nam == "todos.read" };', SCHEMA);
      expect(err.problems).toEqual([expect.stringMatching(/^policy "typo" policies\/b\.cedar line 3:44: .*attribute `nam`/)]);
    });
  });

  it('refuses reading an optional attribute without `has` (strict validation)', () => {
    const err = loadError('@id("by-email") permit(principal, action, resource) when { principal.email like "*@example.com" };', SCHEMA);
    expect(err.problems[0]).toMatch(/^policy "by-email" .*optional attribute `email`/);
  });

  it('refuses a schema that does not parse, naming its position', () => {
    const err = loadError(DEMO_POLICIES, 'namespace Xaa {\n  entity User = { groups: Strin };\n}');
    expect(err.problems[0]).toMatch(/^schema line 2:27: .*Strin/);
  });

  it('refuses two policies with the same @id', () => {
    const err = loadError('@id("a") permit(principal, action, resource);\n@id("a") forbid(principal, action, resource);');
    expect(err.problems).toEqual(['policy #2: id "a" is used by another policy']);
  });

  it('refuses an @id that cannot serve as an audit identifier', () => {
    const err = loadError('@id("two words") permit(principal, action, resource);');
    expect(err.problems[0]).toMatch(/^policy #1: @id\("two words"\) must be/);
  });

  it('refuses an @id that collides with the default name of an unannotated policy', () => {
    const err = loadError('permit(principal, action, resource);\n@id("policy0") forbid(principal, action, resource);');
    expect(err.problems).toEqual(['policy #2: id "policy0" is used by another policy']);
  });

  it('refuses templates: nothing links them, so they could only mislead', () => {
    const err = loadError('permit(principal == ?principal, action, resource);');
    expect(err.problems[0]).toMatch(/template/);
  });

  it('names unannotated policies policy<N> by position, as Cedar does', () => {
    const engine = createPolicyEngine(cedar, {
      policies: '@id("first") permit(principal, action, resource);\npermit(principal, action, resource) when { "a;b//c" == "x" };\nforbid(principal, action, resource) when { false };',
    });
    expect(engine.policyIds).toEqual(['first', 'policy1', 'policy2']);
  });

  it('keeps validator warnings without refusing', () => {
    const engine = createPolicyEngine(cedar, { policies: '@id("never") permit(principal is Xaa::Scope, action, resource);', schema: SCHEMA });
    expect(engine.warnings.length).toBeGreaterThan(0);
    expect(engine.warnings[0]).toMatch(/^policy "never" /);
  });
});

describe('version', () => {
  it('is the same for the same policies and schema', () => {
    expect(demo().version).toBe(demo().version);
    expect(demo().version).toMatch(/^[0-9a-f]{16}$/);
  });

  it('changes with the policy text, with the schema, and with having a schema at all', () => {
    const base = demo().version;
    expect(createPolicyEngine(cedar, { policies: `${DEMO_POLICIES}\n`, schema: SCHEMA }).version).not.toBe(base);
    expect(createPolicyEngine(cedar, { policies: DEMO_POLICIES, schema: `${SCHEMA}\n` }).version).not.toBe(base);
    expect(createPolicyEngine(cedar, { policies: DEMO_POLICIES }).version).not.toBe(base);
  });

  it('does not depend on the cache name', () => {
    expect(createPolicyEngine(cedar, { policies: DEMO_POLICIES, schema: SCHEMA, policySetId: 'other' }).version).toBe(demo().version);
  });
});

describe('evaluateMint', () => {
  it('answers once per scope, in order, with the determining policies', () => {
    const decisions = demo().evaluateMint(question({ scopes: ['todos.write', 'todos.read'], groups: ['todo-writers'], amr: ['pwd', 'mfa'] }));
    expect(decisions).toEqual([
      { scope: 'todos.write', allowed: true, policies: ['writers-need-group'], errors: [] },
      { scope: 'todos.read', allowed: true, policies: ['employees-read-todos'], errors: [] },
    ]);
  });

  it('permits one scope and denies another in the same question', () => {
    const [read, write] = demo().evaluateMint(question({ scopes: ['todos.read', 'todos.write'], groups: ['todo-writers'] }));
    expect(read).toMatchObject({ allowed: true, policies: ['employees-read-todos'] });
    expect(write).toEqual({ scope: 'todos.write', allowed: false, policies: ['require-mfa-for-write'], errors: [] });
  });

  it('denies by default when no permit matches, naming no policy', () => {
    const [write, unknown] = demo().evaluateMint(question({ scopes: ['todos.write', 'todos.delete'], amr: ['mfa'] }));
    expect(write).toEqual({ scope: 'todos.write', allowed: false, policies: [], errors: [] });
    expect(unknown).toEqual({ scope: 'todos.delete', allowed: false, policies: [], errors: [] });
  });

  it('denies everything with an empty policy set', () => {
    const engine = createPolicyEngine(cedar, { policies: '// nothing yet\n', schema: SCHEMA });
    expect(engine.evaluateMint(question())).toEqual([{ scope: 'todos.read', allowed: false, policies: [], errors: [] }]);
  });

  it('exposes the full entity model to policies', () => {
    const engine = createPolicyEngine(cedar, {
      schema: SCHEMA,
      policies: `@id("everything") permit(principal, action == Xaa::Action::"mint", resource in Xaa::Destination::"todo") when {
        principal.upstreamIssuer == "https://idp.example" && principal has email && principal.email == "alice@example.com" &&
        principal has tenant && principal.tenant == "acme" &&
        resource.destination.issuer == "http://localhost:9100" && resource has resource && resource.resource == "https://api.example/todos" &&
        context.client == Xaa::Client::"agent" && context has acr && context.acr == "urn:mfa" &&
        context has authTime && context.authTime < context.now && context has tenant && context.tenant == "acme"
      };`,
    });
    const q = question({ email: 'alice@example.com' });
    const full = {
      ...q,
      principal: { ...q.principal, tenant: 'acme' },
      resource: 'https://api.example/todos',
      context: { ...q.context, acr: 'urn:mfa', authTime: q.context.now - 60, tenant: 'acme' },
    };
    expect(engine.evaluateMint(full)[0]).toMatchObject({ allowed: true, policies: ['everything'] });
    expect(engine.evaluateMint(q)[0]).toMatchObject({ allowed: false });
  });

  it('denies when a policy errors, even where Cedar would allow by skipping it', () => {
    // No schema, so this forbid loads although it reads an attribute the principal may lack.
    const engine = createPolicyEngine(cedar, {
      policies: '@id("read") permit(principal, action, resource) when { resource.name == "todos.read" };\n@id("broken") forbid(principal, action, resource) when { principal.email like "*@evil.example" };',
    });
    const [decision] = engine.evaluateMint(question());
    expect(decision).toMatchObject({ scope: 'todos.read', allowed: false, policies: ['broken'] });
    expect(decision?.errors[0]).toMatch(/^broken: .*email/);
    expect(engine.evaluateMint(question({ email: 'alice@example.com' }))[0]).toMatchObject({ allowed: true, policies: ['read'] });
  });

  it('denies a request that does not fit the schema', () => {
    const [decision] = demo().evaluateMint(question({ now: 1.5 }));
    expect(decision?.allowed).toBe(false);
    expect(decision?.errors.length).toBeGreaterThan(0);
  });

  it('denies when the Cedar call throws', () => {
    const throwing: CedarModule = {
      ...cedar,
      statefulIsAuthorized: () => {
        throw new Error('wasm trap');
      },
    };
    const engine = createPolicyEngine(throwing, { policies: DEMO_POLICIES, schema: SCHEMA });
    expect(engine.evaluateMint(question())).toEqual([{ scope: 'todos.read', allowed: false, policies: [], errors: ['wasm trap'] }]);
  });

  it('keeps engines with the same cache name apart', () => {
    const allow = createPolicyEngine(cedar, { policies: 'permit(principal, action, resource);', policySetId: 'shared' });
    const deny = createPolicyEngine(cedar, { policies: 'forbid(principal, action, resource);', policySetId: 'shared' });
    expect(allow.evaluateMint(question())[0]?.allowed).toBe(true);
    expect(deny.evaluateMint(question())[0]?.allowed).toBe(false);
  });
});

describe('toDecision', () => {
  it('denies a Cedar failure answer, keeping its messages', () => {
    const failure = { type: 'failure' as const, errors: [{ message: 'bad entity', help: null, code: null, url: null, severity: null }], warnings: [] };
    expect(toDecision('s', failure)).toEqual({ scope: 's', allowed: false, policies: [], errors: ['bad entity'] });
  });
});
