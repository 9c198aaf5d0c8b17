import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Imports only go down: the graph of src/'s top-level folders (and root files) must be acyclic,
 * so a newcomer can draw it as layers. Any cycle, of any length, fails with the cycle and the
 * imports that close it.
 */

const SRC = join(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The top-level folder (or root file, without extension) a path belongs to; undefined outside src/. */
function unitOf(path: string): string | undefined {
  const rel = relative(SRC, path);
  if (rel.startsWith('..')) return undefined;
  return rel.split(sep)[0]!.replace(/\.(ts|mts|js|mjs)$/, '');
}

/** unit → unit it imports → one example import, for the failure message. */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const from = unitOf(file)!;
    if (!graph.has(from)) graph.set(from, new Map());
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = normalize(join(dirname(file), m[1]!));
      const to = unitOf(target);
      if (to === undefined || to === from) continue;
      const edges = graph.get(from)!;
      if (!edges.has(to)) edges.set(to, `${relative(SRC, file)} imports ${relative(SRC, target)}`);
    }
  }
  return graph;
}

/**
 * The cycles closed by the back edges of a depth-first search, each rotated to start at its
 * smallest unit: empty exactly when the graph is acyclic (not every elementary cycle is listed).
 */
function findCycles(graph: Map<string, Map<string, string>>): string[][] {
  const cycles = new Map<string, string[]>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (unit: string) => {
    state.set(unit, 'open');
    stack.push(unit);
    for (const next of [...(graph.get(unit)?.keys() ?? [])].sort()) {
      if (state.get(next) === 'open') {
        const cycle = stack.slice(stack.indexOf(next));
        const start = cycle.indexOf([...cycle].sort()[0]!);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.set(rotated.join(' -> '), rotated);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(unit, 'done');
  };
  for (const unit of [...graph.keys()].sort()) if (!state.has(unit)) visit(unit);
  return [...cycles.values()];
}

describe('src/ folder graph', () => {
  it('finds a cycle when there is one (the check itself works)', () => {
    const graph = new Map([
      ['a', new Map([['b', 'a/x imports b/y']])],
      ['b', new Map([['c', 'b/y imports c/z']])],
      ['c', new Map([['a', 'c/z imports a/x']])],
      ['d', new Map([['a', 'd/w imports a/x']])],
    ]);
    expect(findCycles(graph)).toEqual([['a', 'b', 'c']]);
    expect(findCycles(new Map([['a', new Map([['b', '']])], ['b', new Map()]]))).toEqual([]);
  });

  it('has no cycle of any length between top-level folders: imports only go down', () => {
    const graph = folderGraph();
    expect(graph.size).toBeGreaterThan(10);
    const described = findCycles(graph).map((cycle) =>
      [...cycle, cycle[0]!].join(' -> ') + '\n' + cycle.map((u, i) => `    ${graph.get(u)!.get(cycle[(i + 1) % cycle.length]!)}`).join('\n'),
    );
    expect(described, `folder cycles:\n${described.join('\n')}`).toEqual([]);
  });
});
