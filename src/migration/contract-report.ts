import type { SamlAttribute, SamlNameId } from '../identity/types.js';
import { getClaim, PROTOCOL_CLAIMS, translateWithClaimMap, type ClaimMap } from './claims.js';
import { NAMEID_FORMAT, SUBJECT_ID_ATTRIBUTE, PAIRWISE_ID_ATTRIBUTE, subjectFromSaml, type SubjectRefusalReason, type SubjectSource } from './subject.js';

/**
 * The identity contract of a migrated app: what it receives over OIDC now, beside what the legacy
 * SAML assertion gave it, with every difference flagged. Pure (web standards only); the CLI reads
 * the legacy assertion (legacy-assertion.ts) and gets the OIDC side from the broker.
 */

export type AttributeStatus = 'same' | 'different' | 'missing_in_oidc' | 'new_in_oidc' | 'unmapped';

export interface ContractReportInput {
  /** What the SAML app used to receive (e.g. parseLegacyAssertion of a saved assertion). */
  legacy: { nameId?: SamlNameId; attributes: readonly SamlAttribute[] };
  /** What the app receives now: `sub` and the ID token / userinfo claims. */
  oidc: { sub: string; claims: Readonly<Record<string, unknown>> };
  /** The app's effective table (effectiveClaimMap of its overrides). */
  claimMap: ClaimMap;
  /** Which legacy identifier `sub` must equal: the app's subject source. Default: the NameID. */
  subjectSource?: SubjectSource;
}

export interface SubjectComparison {
  /** The identifier the app keyed users on, or null when the assertion does not carry it. */
  legacy: string | null;
  /** Where it was read: `NameID`, or `attribute <Name>`. */
  legacySource: string;
  legacyFormat?: string;
  oidc: string;
  /**
   * `refused`: the broker would refuse this subject source on such an assertion (an email or
   * transient NameID, say), so the app cannot keep this identifier whatever `sub` says: a change.
   */
  status: SubjectStatus;
  /** Why the broker refuses the source, when it does (subjectFromSaml's reason). */
  refusal?: { reason: SubjectRefusalReason; detail: string };
  notes: string[];
}

export type SubjectStatus = 'same' | 'different' | 'refused';

export interface ContractRow {
  status: AttributeStatus;
  /** The SAML attribute Name; null for a claim new in OIDC. */
  attribute: string | null;
  friendlyName?: string;
  /** The claim the attribute maps to; null when unmapped. */
  claim: string | null;
  /** The attribute's values in the legacy assertion; null for a claim new in OIDC. */
  legacy: string[] | null;
  /** The claim's value over OIDC; undefined when absent. */
  oidc: unknown;
  note?: string;
}

export interface ContractSummary {
  subject: SubjectStatus;
  same: number;
  different: number;
  missing_in_oidc: number;
  new_in_oidc: number;
  unmapped: number;
  /** The subject is the same and nothing the app received changed or disappeared. */
  unchanged: boolean;
  /** Unchanged, and nothing new either. */
  identical: boolean;
}

export interface ContractReport {
  subject: SubjectComparison;
  rows: ContractRow[];
  summary: ContractSummary;
}

export function contractReport(input: ContractReportInput): ContractReport {
  const subject = compareSubject(input);
  const { legacy, oidc, claimMap } = input;
  const translation = translateWithClaimMap(legacy.attributes, claimMap);
  const conflicts = new Map(translation.conflicts.map((c) => [c.claim, c]));
  const rows: ContractRow[] = [];
  const covered = new Set<string>();

  for (const attribute of legacy.attributes) {
    const rule = Object.hasOwn(claimMap, attribute.name) ? claimMap[attribute.name] : undefined;
    const base = { attribute: attribute.name, ...(attribute.friendlyName !== undefined ? { friendlyName: attribute.friendlyName } : {}), legacy: [...attribute.values] };
    if (!rule) {
      rows.push({ ...base, status: 'unmapped', claim: null, oidc: undefined, note: 'no claim carries this attribute: the app no longer receives it' });
      continue;
    }
    covered.add(rule.claim);
    const actual = getClaim(oidc.claims, rule.claim);
    const row = { ...base, claim: rule.claim, oidc: actual };
    const conflict = conflicts.get(rule.claim);
    if (conflict) {
      const why =
        conflict.sources.length > 1
          ? `${conflict.sources.length} attributes offer different values for the single-valued claim ${rule.claim}`
          : `${attribute.values.length} values for the single-valued claim ${rule.claim}`;
      rows.push({ ...row, status: actual === undefined ? 'missing_in_oidc' : 'different', note: `${why}: the app received them all over SAML, OIDC carries at most one` });
      continue;
    }
    const expected = getClaim(translation.claims, rule.claim);
    if (expected === undefined) {
      // The attribute was there with no value.
      rows.push({ ...row, status: actual === undefined ? 'same' : 'different', note: 'the legacy attribute had no value' });
      continue;
    }
    if (actual === undefined) {
      rows.push({ ...row, status: 'missing_in_oidc' });
      continue;
    }
    const difference = differs(expected, actual);
    rows.push(difference === undefined ? { ...row, status: 'same' } : { ...row, status: 'different', ...(difference ? { note: difference } : {}) });
  }

  const producedBy = new Map<string, string>();
  for (const [name, rule] of Object.entries(claimMap)) if (!producedBy.has(rule.claim)) producedBy.set(rule.claim, name);
  for (const [claim, value] of flatten(oidc.claims)) {
    if (PROTOCOL_CLAIMS.has(claim) || covered.has(claim)) continue;
    const source = producedBy.get(claim);
    rows.push({
      status: 'new_in_oidc',
      attribute: null,
      claim,
      legacy: null,
      oidc: value,
      note: source ? `the legacy assertion had no attribute for it (e.g. ${source})` : 'no attribute maps to this claim: the broker adds it',
    });
  }

  const count = (s: AttributeStatus) => rows.filter((r) => r.status === s).length;
  const summary: ContractSummary = {
    subject: subject.status,
    same: count('same'),
    different: count('different'),
    missing_in_oidc: count('missing_in_oidc'),
    new_in_oidc: count('new_in_oidc'),
    unmapped: count('unmapped'),
    unchanged: false,
    identical: false,
  };
  summary.unchanged = subject.status === 'same' && summary.different === 0 && summary.missing_in_oidc === 0 && summary.unmapped === 0;
  summary.identical = summary.unchanged && summary.new_in_oidc === 0;
  return { subject, rows, summary };
}

function compareSubject({ legacy, oidc, subjectSource }: ContractReportInput): SubjectComparison {
  const source = subjectSource ?? { kind: 'persistent_nameid' };
  const notes: string[] = [];
  let value: string | null = null;
  let legacySource = 'NameID';
  let legacyFormat: string | undefined;
  if (source.kind === 'persistent_nameid') {
    value = legacy.nameId?.value ?? null;
    legacyFormat = legacy.nameId?.format;
    if (legacyFormat === NAMEID_FORMAT.transient) {
      notes.push('the app received a transient NameID, a new value every login: it cannot have keyed users on it. Find the attribute it keys on and report with that subject source.');
    } else if (legacyFormat === NAMEID_FORMAT.email) {
      notes.push('the app keyed users on an email-address NameID: the broker never makes an email the sub. The app must re-key its users (docs/migration.md, "Apps keyed on email").');
    }
  } else {
    const name = source.kind === 'attribute' ? source.name : source.kind === 'subject_id' ? SUBJECT_ID_ATTRIBUTE : PAIRWISE_ID_ATTRIBUTE;
    legacySource = `attribute ${name}`;
    const found = legacy.attributes.filter((a) => a.name === name);
    if (found.length === 1 && found[0]!.values.length === 1) value = found[0]!.values[0]!;
    else notes.push(found.length === 0 ? `the legacy assertion has no attribute ${name}` : `attribute ${name} is not exactly one value in the legacy assertion`);
  }
  let refusal: SubjectComparison['refusal'];
  if (value !== null) {
    // Would the broker accept this source on an assertion like the legacy one?
    const nameId = legacy.nameId ?? { value: '' };
    const verdict = subjectFromSaml({ assertionId: 'legacy', nameId, attributes: [...legacy.attributes] }, source);
    if (!verdict.ok) {
      refusal = { reason: verdict.reason, detail: verdict.detail };
      notes.push(`the broker refuses this subject source on such an assertion: ${verdict.reason} (${verdict.detail})`);
    }
  }
  // A refused source is a changed contract even when `sub` happens to carry the same string: the
  // broker would never issue it from this source, so the app's key does not survive the move.
  const status: SubjectStatus = refusal ? 'refused' : value !== null && value === oidc.sub ? 'same' : 'different';
  if (status === 'different' && value !== null && value.toLowerCase() === oidc.sub.toLowerCase()) {
    notes.push('the values differ only in case: the sub is compared exactly; if the app compared case-sensitively, set preserve_case or re-key');
  }
  return { legacy: value, legacySource, ...(legacyFormat !== undefined ? { legacyFormat } : {}), oidc: oidc.sub, status, ...(refusal ? { refusal } : {}), notes };
}

/** undefined when equal; otherwise a note (possibly empty). Multi-valued claims compare as sets. */
function differs(expected: unknown, actual: unknown): string | undefined {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `the app received a list over SAML; OIDC gives ${typeof actual === 'string' ? 'a single string' : typeName(actual)}`;
    const a = new Set(expected);
    const b = new Set(actual);
    if (a.size === b.size && [...a].every((v) => b.has(v))) return undefined;
    const lost = [...a].filter((v) => !b.has(v));
    const gained = [...b].filter((v) => !a.has(v));
    return [lost.length ? `lost ${lost.length}` : '', gained.length ? `gained ${gained.length}` : ''].filter(Boolean).join(', ');
  }
  if (Array.isArray(actual)) return 'a single value over SAML; OIDC gives a list';
  if (typeof actual !== 'string') return `a string over SAML; OIDC gives ${typeName(actual)}`;
  if (expected === actual) return undefined;
  if (typeof expected === 'string' && expected.trim() === actual.trim()) return 'differs only in surrounding whitespace';
  if (typeof expected === 'string' && expected.toLowerCase() === actual.toLowerCase()) return 'differs only in case';
  return '';
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : `a ${typeof v}`;
}

/** Claims as the table names them: `address` members become `address.<member>`. */
function flatten(claims: Readonly<Record<string, unknown>>): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [name, value] of Object.entries(claims)) {
    if (name === 'address' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [member, v] of Object.entries(value)) out.push([`address.${member}`, v]);
    } else {
      out.push([name, value]);
    }
  }
  return out;
}

const LABEL: Record<AttributeStatus, string> = {
  same: 'same',
  different: 'DIFFERENT',
  missing_in_oidc: 'MISSING IN OIDC',
  new_in_oidc: 'new in oidc',
  unmapped: 'UNMAPPED',
};

const CELL_MAX = 48;

/** JSON, with control, bidi and invisible characters escaped: nothing from an assertion can steer the terminal. */
function printable(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.replace(/[\u007F-\u009F\u00AD\u061C\u200B-\u200F\u2028-\u202E\u2060-\u2069\uFEFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value for a cell: printable, cut at the right. */
function show(value: unknown): string {
  if (value === undefined) return '(absent)';
  const text = printable(value);
  return text.length > CELL_MAX ? `${text.slice(0, CELL_MAX - 1)}…` : text;
}

/** An attribute for a cell: FriendlyName (Name), the Name cut at the left (the tail of a URI is what tells them apart). */
function label(name: string | null, friendlyName?: string): string {
  if (name === null) return '—';
  const shown = printable(name).slice(1, -1);
  const short = shown.length > CELL_MAX ? `…${shown.slice(-(CELL_MAX - 1))}` : shown;
  if (friendlyName === undefined || friendlyName === name) return short;
  const friendly = printable(friendlyName).slice(1, -1);
  return `${friendly.length > 32 ? `${friendly.slice(0, 31)}…` : friendly} (${short})`;
}

/** A human-readable table of the report, for the CLI. */
export function formatContractReport(report: ContractReport): string {
  const lines: string[] = [];
  const s = report.subject;
  lines.push('Identity contract: legacy SAML assertion vs OIDC');
  lines.push('');
  lines.push(`Subject: ${s.status === 'same' ? 'same' : s.status === 'refused' ? `REFUSED by the broker (${s.refusal?.reason ?? 'refused'})` : 'DIFFERENT'}`);
  lines.push(`  legacy ${s.legacySource}${s.legacyFormat ? ` (${s.legacyFormat})` : ''}: ${s.legacy === null ? '(absent)' : show(s.legacy)}`);
  lines.push(`  OIDC sub: ${show(s.oidc)}`);
  for (const note of s.notes) lines.push(`  note: ${note}`);
  lines.push('');

  const header = ['STATUS', 'ATTRIBUTE', 'CLAIM', 'LEGACY (SAML)', 'OIDC'];
  const table = report.rows.map((r) => [LABEL[r.status], label(r.attribute, r.friendlyName), r.claim ?? '—', r.legacy === null ? '—' : show(r.legacy.length === 1 ? r.legacy[0] : r.legacy), show(r.oidc)]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const render = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  lines.push(render(header));
  lines.push(render(widths.map((w) => '-'.repeat(w))));
  report.rows.forEach((r, i) => {
    lines.push(render(table[i]!));
    if (r.note) lines.push(`    ↳ ${r.note}`);
  });
  if (report.rows.length === 0) lines.push('(no attributes and no claims)');
  lines.push('');
  const m = report.summary;
  lines.push(`Summary: subject ${m.subject}; ${m.same} same, ${m.different} different, ${m.missing_in_oidc} missing in OIDC, ${m.unmapped} unmapped, ${m.new_in_oidc} new in OIDC`);
  if (m.identical) lines.push('Contract UNCHANGED (identical).');
  else if (m.unchanged) lines.push('Contract UNCHANGED (the app receives more than before: see "new in oidc").');
  else if (m.subject === 'refused') lines.push('Contract CHANGED: the broker refuses this subject source, so the app cannot keep its user key; choose another subject source (docs/migration.md, "Subject sources") and fix every row above that is not "same" before cutting over.');
  else lines.push('Contract CHANGED: fix every row above that is not "same" before cutting over.');
  return lines.join('\n');
}
