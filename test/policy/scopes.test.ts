import { describe, expect, it } from 'vitest';
import { intersectGrant, parseScope, scopesToEvaluate, translateScopes } from '../../src/policy/scopes.js';
import type { ScopeDecision } from '../../src/policy/types.js';

const MAX = 5;
const allow = (scope: string, policies = ['p']): ScopeDecision => ({ scope, allowed: true, policies, errors: [] });
const deny = (scope: string, policies: string[] = []): ScopeDecision => ({ scope, allowed: false, policies, errors: [] });

describe('parseScope', () => {
  it('accepts space-separated NQCHAR tokens, deduplicated in order', () => {
    expect(parseScope('todos.read openid todos.read urn:x:y/z!#[]~', MAX)).toEqual({ ok: true, scopes: ['todos.read', 'openid', 'urn:x:y/z!#[]~'] });
  });

  it('treats an absent or empty scope as no scope (RFC 6749 §3.1)', () => {
    expect(parseScope(undefined, MAX)).toEqual({ ok: true, scopes: [] });
    expect(parseScope('', MAX)).toEqual({ ok: true, scopes: [] });
  });

  it.each([
    ['a double quote', 'todos."read"'],
    ['a backslash', 'todos\\read'],
    ['a tab as separator', 'todos.read\ttodos.write'],
    ['a control character', 'todos.read\u0000'],
    ['a non-ASCII character', 'todós.read'],
  ])('refuses %s', (_, scope) => {
    expect(parseScope(scope, MAX)).toMatchObject({ ok: false, reason: 'invalid_parameter', detail: expect.stringContaining('NQCHAR') });
  });

  it.each([
    ['a double space', 'todos.read  todos.write'],
    ['a leading space', ' todos.read'],
    ['a trailing space', 'todos.read '],
    ['a lone space', ' '],
  ])('refuses an empty token from %s', (_, scope) => {
    expect(parseScope(scope, MAX)).toMatchObject({ ok: false, reason: 'invalid_parameter', detail: expect.stringContaining('empty scope token') });
  });

  it('refuses more tokens than the cap, and accepts exactly the cap', () => {
    expect(parseScope('a b c d e', MAX)).toMatchObject({ ok: true });
    expect(parseScope('a b c d e f', MAX)).toMatchObject({ ok: false, reason: 'invalid_parameter', detail: 'more than 5 scope tokens' });
  });

  it('counts repeated tokens against the cap', () => {
    expect(parseScope('a a a a a a', MAX)).toMatchObject({ ok: false, detail: 'more than 5 scope tokens' });
  });
});

describe('translateScopes', () => {
  const table = { 'tasks:read': ['todos.read'], 'tasks:all': ['todos.read', 'todos.write'], 'tasks:none': [] };

  it('maps through the table, one requested scope to one or several', () => {
    expect(translateScopes(['tasks:read', 'tasks:all'], table)).toEqual({
      translated: [
        { from: 'tasks:read', to: 'todos.read' },
        { from: 'tasks:all', to: 'todos.read' },
        { from: 'tasks:all', to: 'todos.write' },
      ],
      untranslatable: [],
    });
  });

  it('fails closed on a scope the table does not map, even one named like the destination scope', () => {
    expect(translateScopes(['tasks:read', 'todos.write'], table)).toEqual({
      translated: [{ from: 'tasks:read', to: 'todos.read' }],
      untranslatable: ['todos.write'],
    });
  });

  it('treats a scope mapped to nothing as untranslatable', () => {
    expect(translateScopes(['tasks:none'], table).untranslatable).toEqual(['tasks:none']);
  });

  it('never matches inherited object properties', () => {
    expect(translateScopes(['constructor', '__proto__', 'toString'], table)).toEqual({ translated: [], untranslatable: ['constructor', '__proto__', 'toString'] });
  });
});

describe('intersectGrant', () => {
  const translated = [
    { from: 'tasks:all', to: 'todos.read' },
    { from: 'tasks:all', to: 'todos.write' },
  ];

  it('grants what is translated, allowed to the client and permitted by policy', () => {
    expect(intersectGrant({ translated, clientAllowed: ['todos.read', 'todos.write'], decisions: [allow('todos.read'), allow('todos.write')] })).toEqual({
      granted: ['todos.read', 'todos.write'],
      refused: [],
    });
  });

  it('refuses a scope the client may not hold at the destination, even if policy permits it', () => {
    expect(intersectGrant({ translated, clientAllowed: ['todos.read'], decisions: [allow('todos.read'), allow('todos.write')] })).toEqual({
      granted: ['todos.read'],
      refused: [{ scope: 'todos.write', why: 'scope_not_permitted_for_client' }],
    });
  });

  it('refuses a scope policy denied', () => {
    expect(intersectGrant({ translated, clientAllowed: ['todos.read', 'todos.write'], decisions: [allow('todos.read'), deny('todos.write', ['require-mfa-for-write'])] })).toEqual({
      granted: ['todos.read'],
      refused: [{ scope: 'todos.write', why: 'policy_denied' }],
    });
  });

  it('refuses a scope policy was never asked about', () => {
    expect(intersectGrant({ translated, clientAllowed: ['todos.read', 'todos.write'], decisions: [allow('todos.read')] }).refused).toEqual([
      { scope: 'todos.write', why: 'policy_denied' },
    ]);
  });

  it('refuses a scope with any denying or erroring decision', () => {
    const erroring: ScopeDecision = { scope: 'todos.read', allowed: true, policies: ['p'], errors: ['boom'] };
    const grant = intersectGrant({ translated, clientAllowed: ['todos.read', 'todos.write'], decisions: [erroring, allow('todos.write'), deny('todos.write')] });
    expect(grant.granted).toEqual([]);
  });

  it('never grants a client-allowed, policy-permitted scope that was not requested', () => {
    expect(intersectGrant({ translated: [translated[0]!], clientAllowed: ['todos.read', 'todos.write'], decisions: [allow('todos.read'), allow('todos.write')] })).toEqual({
      granted: ['todos.read'],
      refused: [],
    });
  });

  it('grants a scope reached from two requested scopes once', () => {
    const twice = [...translated, { from: 'tasks:read', to: 'todos.read' }];
    expect(intersectGrant({ translated: twice, clientAllowed: ['todos.read'], decisions: [allow('todos.read')] }).granted).toEqual(['todos.read']);
  });
});

describe('scopesToEvaluate', () => {
  it('asks policy only about translated, client-allowed scopes, once each', () => {
    const translated = [
      { from: 'a', to: 'x' },
      { from: 'b', to: 'x' },
      { from: 'b', to: 'y' },
    ];
    expect(scopesToEvaluate(translated, ['x', 'z'])).toEqual(['x']);
  });
});
