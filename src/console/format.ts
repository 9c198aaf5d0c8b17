import { rfc3339 } from '../governance/escalation.js';
/** How the console writes times and durations for people. Pure. */

const UNITS: Array<[number, string]> = [
  [604_800, 'week'],
  [86_400, 'day'],
  [3_600, 'hour'],
  [60, 'minute'],
  [1, 'second'],
];

/** `P1DT12H` → "1 day 12 hours": the two largest units, enough to read at a glance. */
export function humanDuration(seconds: number): string {
  const parts: string[] = [];
  let rest = Math.max(0, Math.floor(seconds));
  for (const [size, name] of UNITS) {
    const n = Math.floor(rest / size);
    if (n === 0) continue;
    parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.length === 0 ? '0 seconds' : parts.join(' ');
}

/** How long ago, coarsely ("just now", "5 minutes ago", "2 days ago"). */
export function age(then: number, now: number): string {
  const elapsed = now - then;
  if (elapsed < 60) return 'just now';
  const [size, name] = UNITS.find(([s]) => elapsed >= s && s > 1)!;
  const n = Math.floor(elapsed / size);
  return `${n} ${name}${n === 1 ? '' : 's'} ago`;
}

/** Seconds since epoch → `2026-12-06 08:30 UTC` (and the ISO form for `<time datetime>`). */
export function utc(t: number): { text: string; iso: string } {
  const iso = rfc3339(t);
  return { text: `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`, iso };
}
