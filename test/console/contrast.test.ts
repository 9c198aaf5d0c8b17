import { describe, expect, it } from 'vitest';
import { STYLESHEET } from '../../src/console/views.js';

/** WCAG 2.x contrast of the console's colour pairs, read from its stylesheet: text ≥ 4.5:1, focus ring ≥ 3:1. */

function variable(name: string): string {
  const m = new RegExp(`--${name}:(#[0-9a-f]{6})`, 'i').exec(STYLESHEET);
  expect(m, `--${name} in the stylesheet`).not.toBeNull();
  return m![1]!;
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

describe('console colours', () => {
  it('every text colour on its background is at least 4.5:1', () => {
    const pairs: Array<[string, string]> = [
      [variable('fg'), variable('bg')],
      [variable('muted'), variable('bg')],
      [variable('accent'), variable('bg')],
      ['#ffffff', variable('accent')],
      [variable('err-fg'), variable('bg')],
      [variable('ok-fg'), variable('ok-bg')],
      [variable('err-fg'), variable('err-bg')],
    ];
    for (const [fg, bg] of pairs) expect(contrast(fg, bg), `${fg} on ${bg}`).toBeGreaterThanOrEqual(4.5);
  });

  it('the focus ring stands out from the page (≥ 3:1) and every focusable control has it', () => {
    expect(contrast(variable('focus'), variable('bg'))).toBeGreaterThanOrEqual(3);
    for (const selector of ['a:focus-visible', 'button:focus-visible', 'input:focus-visible', 'textarea:focus-visible']) expect(STYLESHEET).toContain(selector);
  });
});
