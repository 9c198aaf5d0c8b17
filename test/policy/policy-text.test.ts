import { describe, expect, it } from 'vitest';
import { idAnnotation, indexOfByte, lineCol, namePolicies, skeleton, splitPolicies } from '../../src/policy/policy-text.js';

describe('splitPolicies', () => {
  it('cuts at each policy-ending semicolon and keeps offsets', () => {
    const text = 'permit(principal, action, resource);\nforbid(principal, action, resource);';
    const parts = splitPolicies(text);
    expect(parts.map((p) => p.text.trim())).toEqual(['permit(principal, action, resource);', 'forbid(principal, action, resource);']);
    expect(parts.map((p) => p.start)).toEqual([0, 36]);
  });

  it('ignores semicolons in strings, escaped quotes and comments', () => {
    const text = [
      '// a comment; with a semicolon',
      'permit(principal, action, resource) when { resource.name == "a;\\";b" }; // trailing; comment',
      'forbid(principal, action, resource) when { resource.name like "//;*" };',
      '// done;',
    ].join('\n');
    const parts = splitPolicies(text);
    expect(parts).toHaveLength(2);
    expect(parts[0]?.text).toContain('"a;\\";b" };');
    expect(parts[1]?.text).toMatch(/^ \/\/ trailing; comment\nforbid.*"\/\/;\*" };$/);
  });

  it('keeps unterminated trailing text for Cedar to report', () => {
    expect(splitPolicies('permit(principal, action, resource);\npermit(').map((p) => p.text)).toEqual([
      'permit(principal, action, resource);',
      '\npermit(',
    ]);
  });
});

describe('skeleton', () => {
  it('keeps length and structure, masking strings and comments', () => {
    const text = '@id("x;y") permit // c;\n';
    expect(skeleton(text)).toBe('@id("___") permit      \n');
    expect(skeleton(text)).toHaveLength(text.length);
  });
});

describe('idAnnotation', () => {
  it('reads @id among other annotations, after comments and whitespace', () => {
    expect(idAnnotation('\n// why\n@approver("security")\n@ id ( "read-all" )\npermit(principal, action, resource);')).toBe('read-all');
  });

  it('ignores @id text in a comment or in the policy body', () => {
    expect(idAnnotation('// @id("fake")\npermit(principal, action, resource) when { resource.name == "@id(\\"x\\")" };')).toBeUndefined();
  });

  it('reads a bare @id as the empty string', () => {
    expect(idAnnotation('@id permit(principal, action, resource);')).toBe('');
  });
});

describe('namePolicies', () => {
  it('refuses an empty @id', () => {
    const { problems } = namePolicies([{ text: '@id permit(principal, action, resource);', start: 0 }]);
    expect(problems).toHaveLength(1);
  });
});

describe('positions', () => {
  it('maps UTF-8 byte offsets to string indices, astral characters included', () => {
    const text = 'aé😀b';
    expect(indexOfByte(text, 1)).toBe(1);
    expect(indexOfByte(text, 3)).toBe(2);
    expect(indexOfByte(text, 7)).toBe(4);
    expect(text[indexOfByte(text, 7)]).toBe('b');
  });

  it('reports 1-based line and code-point column', () => {
    expect(lineCol('ab\n😀cd', 5)).toBe('line 2:2');
  });
});
