/**
 * Pure helpers over Cedar policy-set text: cutting it into single policies, naming them by
 * their `@id` annotation, and turning Cedar's byte offsets into line:column positions.
 *
 * Why: given one policy-set string, Cedar names policies `policy0`, `policy1`… and ignores
 * `@id`. Handing Cedar a map `{ id: text }` instead makes every decision, validation error and
 * audit record name the policy an operator wrote.
 */

/** One policy cut out of a policy set. `start` is its UTF-16 index in the set text. */
export interface PolicyPart {
  text: string;
  start: number;
}

export interface NamedPolicy extends PolicyPart {
  id: string;
}

/** Ids end up in audit records and logs: keep them printable and short. */
const POLICY_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/**
 * The text with every `//` comment blanked to spaces and every string literal's content masked
 * to `_`, same length and same offsets as the input. What remains is Cedar's token structure,
 * so `;` and `@` in it can be found by plain search; values are read back from the original.
 */
export function skeleton(text: string): string {
  let out = '';
  let state: 'code' | 'string' | 'comment' = 'code';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (state === 'code') {
      if (c === '/' && text[i + 1] === '/') state = 'comment';
      else if (c === '"') state = 'string';
      out += state === 'comment' ? ' ' : c;
    } else if (state === 'comment') {
      if (c === '\n') state = 'code';
      out += c === '\n' ? c : ' ';
    } else if (c === '"') {
      state = 'code';
      out += c;
    } else {
      // An escape's next character is part of the literal, even when it is a quote.
      const escaped = c === '\\' && i + 1 < text.length;
      out += escaped ? '__' : '_';
      if (escaped) i++;
    }
  }
  return out;
}

/**
 * Cuts policy-set text after every `;`: in Cedar's grammar a `;` outside strings and comments
 * only ever ends a policy. Comments and blank lines after the last policy are dropped; any other
 * trailing text is kept as a part so that Cedar, not this scanner, reports it.
 */
export function splitPolicies(text: string): PolicyPart[] {
  const bones = skeleton(text);
  const parts: PolicyPart[] = [];
  let start = 0;
  for (let end = bones.indexOf(';'); end !== -1; end = bones.indexOf(';', start)) {
    parts.push({ text: text.slice(start, end + 1), start });
    start = end + 1;
  }
  if (/\S/.test(bones.slice(start))) parts.push({ text: text.slice(start), start });
  return parts;
}

const LEADING_ANNOTATIONS = /^\s*(?:@\s*[A-Za-z_]\w*\s*(?:\(\s*"_*"\s*\))?\s*)*/;
const ANNOTATION = /@\s*([A-Za-z_]\w*)\s*(?:\(\s*"(_*)"\s*\))?/dg;

/** The raw value of the policy's `@id` annotation, if it has one (`@id` alone means "", as in Cedar). */
export function idAnnotation(policy: string): string | undefined {
  return annotationValue(policy, 'id');
}

/** The raw value of the policy's `@<name>` annotation, if it has one (`@name` alone means ""). */
export function annotationValue(policy: string, name: string): string | undefined {
  const head = LEADING_ANNOTATIONS.exec(skeleton(policy))?.[0] ?? '';
  for (const m of head.matchAll(ANNOTATION)) {
    if (m[1] !== name) continue;
    const value = m.indices?.[2];
    return value ? policy.slice(value[0], value[1]) : '';
  }
  return undefined;
}

/**
 * Names every policy: its `@id`, or `policy<N>` by position (Cedar's own default naming, so an
 * unannotated policy keeps the name Cedar tooling would give it). Problems are returned, not thrown.
 */
export function namePolicies(parts: PolicyPart[]): { policies: NamedPolicy[]; problems: string[] } {
  const problems: string[] = [];
  const seen = new Set<string>();
  const policies = parts.map((part, index) => {
    const annotated = idAnnotation(part.text);
    const id = annotated ?? `policy${index}`;
    if (annotated !== undefined && !POLICY_ID.test(annotated)) {
      problems.push(`policy #${index + 1}: @id(${JSON.stringify(annotated)}) must be 1-128 of A-Z a-z 0-9 . _ : / - and start with a letter or digit`);
    } else if (seen.has(id)) {
      problems.push(`policy #${index + 1}: id "${id}" is used by another policy`);
    }
    seen.add(id);
    return { id, ...part };
  });
  return { policies, problems };
}

/** Cedar reports source offsets in UTF-8 bytes; JS strings index UTF-16 units. */
export function indexOfByte(text: string, byteOffset: number): number {
  let bytes = 0;
  let i = 0;
  while (i < text.length && bytes < byteOffset) {
    const cp = text.codePointAt(i) ?? 0;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp > 0xffff ? 2 : 1;
  }
  return i;
}

/** "line L:C", 1-based, columns counted in code points. */
export function lineCol(text: string, index: number): string {
  const before = text.slice(0, index);
  const lineStart = before.lastIndexOf('\n') + 1;
  const line = before.split('\n').length;
  const col = [...before.slice(lineStart)].length + 1;
  return `line ${line}:${col}`;
}

/** Where one file's text begins in a policy set joined from several files. */
export interface PolicySource {
  path: string;
  /** UTF-16 index of the file's first character in the joined text. */
  start: number;
}

/**
 * "line L:C" for an index into the set text, or "<file> line L:C" counted from the start of the
 * file that holds it when the set was joined from files: an operator fixes a file, not the join.
 */
export function position(text: string, index: number, sources: readonly PolicySource[] = []): string {
  const source = sources.filter((s) => s.start <= index).at(-1);
  if (!source) return lineCol(text, index);
  return `${source.path} ${lineCol(text.slice(source.start), index - source.start)}`;
}
