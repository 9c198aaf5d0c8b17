import { hmac, sameString } from '../provider/crypto.js';
import type { BrowserSession } from '../provider/index.js';

/**
 * The console's defences (docs/console.md). Every state-changing request is a same-origin POST
 * (Origin, else Sec-Fetch-Site) that carries a token only the signed-in browser can produce. Pages
 * are never cached, never framed, load nothing but the broker's own stylesheet and run no script.
 */

const CSRF_PURPOSE = 'approval-console';

/**
 * The CSRF token of one decision form: HMAC keyed by the session cookie's secret (256 random bits
 * that only this browser holds; the store keeps only its hash) over the task it decides. Valid
 * for as long as the session, for that task only; another session's token never matches.
 */
export function csrfToken(session: BrowserSession, taskId: string): Promise<string> {
  return hmac(session.secret, `${CSRF_PURPOSE}\n${taskId}`);
}

/** Constant-time comparison with the token this session would produce for this task. */
export async function checkCsrfToken(presented: string | undefined, session: BrowserSession, taskId: string): Promise<boolean> {
  if (presented === undefined || !/^[A-Za-z0-9_-]{43}$/.test(presented)) return false;
  return sameString(presented, await csrfToken(session, taskId));
}

/**
 * A POST from the broker's own pages: its Origin is the broker's origin; a browser that sends no
 * Origin must say `Sec-Fetch-Site: same-origin`. Neither header: refused (fail closed). The pages
 * send `Referrer-Policy: same-origin`, under which browsers send the real Origin on a same-origin
 * form POST (under `no-referrer` they would send `null`).
 */
export function sameOriginPost(headers: Headers, brokerOrigin: string): boolean {
  const origin = headers.get('origin');
  const site = headers.get('sec-fetch-site');
  if (site !== null && site !== 'same-origin') return false;
  if (origin !== null) return origin === brokerOrigin;
  return site === 'same-origin';
}

/** A strict policy: the broker's own stylesheet, forms posting to the broker, nothing else. */
export const CONSOLE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export const CONSOLE_PAGE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;
