import { describe, expect, it } from 'vitest';
import { destinationSchema, type DestinationConfig } from '../../src/config/schema.js';
import { indexDestinations, resolveTarget } from '../../src/exchange/destination.js';

const todo: DestinationConfig = destinationSchema.parse({
  id: 'todo',
  issuer: 'https://todo.test',
  aliases: ['todo', 'urn:todo'],
  resources: ['https://api.todo.test/', 'https://files.todo.test/'],
  namespace: 'todo-users',
});
const crm: DestinationConfig = destinationSchema.parse({
  id: 'crm',
  issuer: 'https://crm.test',
  resources: ['https://api.crm.test/'],
  namespace: 'crm-users',
});
const index = indexDestinations([todo, crm]);

describe('indexDestinations', () => {
  it('indexes every issuer and alias', () => {
    expect([...index.keys()].sort()).toEqual(['https://crm.test', 'https://todo.test', 'todo', 'urn:todo']);
    expect(index.get('urn:todo')).toBe(todo);
  });
});

describe('resolveTarget', () => {
  it('resolves the issuer as audience', () => {
    expect(resolveTarget(['https://todo.test'], [], index)).toEqual({ ok: true, destination: todo, resources: [] });
  });

  it('resolves an alias to the same destination', () => {
    const r = resolveTarget(['urn:todo'], ['https://api.todo.test/'], index);
    expect(r).toEqual({ ok: true, destination: todo, resources: ['https://api.todo.test/'] });
  });

  it('accepts several resources of the same destination, deduplicated in order', () => {
    const r = resolveTarget(['todo'], ['https://files.todo.test/', 'https://api.todo.test/', 'https://files.todo.test/'], index);
    expect(r.ok && r.resources).toEqual(['https://files.todo.test/', 'https://api.todo.test/']);
  });

  it('refuses no audience', () => {
    expect(resolveTarget([], [], index)).toMatchObject({ ok: false, reason: 'audience_ambiguous' });
  });

  it('refuses two audiences, even two names of one destination', () => {
    expect(resolveTarget(['https://todo.test', 'https://crm.test'], [], index)).toMatchObject({ ok: false, reason: 'audience_ambiguous', detail: '2 audiences' });
    expect(resolveTarget(['https://todo.test', 'todo'], [], index)).toMatchObject({ ok: false, reason: 'audience_ambiguous' });
  });

  it('refuses an unknown audience', () => {
    expect(resolveTarget(['https://evil.test'], [], index)).toEqual({ ok: false, reason: 'audience_unknown' });
  });

  it('matches audiences exactly: no trailing-slash or case folding', () => {
    expect(resolveTarget(['https://todo.test/'], [], index)).toMatchObject({ ok: false, reason: 'audience_unknown' });
    expect(resolveTarget(['TODO'], [], index)).toMatchObject({ ok: false, reason: 'audience_unknown' });
  });

  it('does not resolve prototype property names', () => {
    expect(resolveTarget(['constructor'], [], index)).toMatchObject({ ok: false, reason: 'audience_unknown' });
  });

  it('refuses a resource nobody serves', () => {
    expect(resolveTarget(['todo'], ['https://unknown.test/'], index)).toEqual({ ok: false, reason: 'resource_unknown' });
  });

  it('refuses a resource of another destination, saying whose it is in the detail', () => {
    const r = resolveTarget(['todo'], ['https://api.crm.test/'], index);
    expect(r).toMatchObject({ ok: false, reason: 'resource_audience_mismatch' });
    expect(r.ok ? '' : r.detail).toContain('crm');
  });

  it('refuses when any one of several resources is foreign', () => {
    expect(resolveTarget(['todo'], ['https://api.todo.test/', 'https://api.crm.test/'], index)).toMatchObject({ ok: false, reason: 'resource_audience_mismatch' });
  });

  it('matches resources exactly', () => {
    expect(resolveTarget(['todo'], ['https://api.todo.test'], index)).toMatchObject({ ok: false, reason: 'resource_unknown' });
  });
});
