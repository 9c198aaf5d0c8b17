import { z } from 'zod';

/** URL rules shared by every configuration schema. */

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '127.0.0.1' || hostname === '[::1]';
}

export function parsedUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** Runs a check on a parsed URL; an unparseable one passes here because the URL check reports it. */
export function urlCheck(value: string, check: (url: URL) => boolean): boolean {
  const url = parsedUrl(value);
  return url ? check(url) : true;
}

/** An absolute http(s) URL without a fragment. */
export const webUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
  .refine((u) => !u.includes('#'), 'must not contain a fragment');

/**
 * The rule for URLs the broker sends browsers or requests to: https, or http on a loopback host
 * when the connection allows it (tests and the demo). The problem with `value`, or undefined.
 */
export function insecureUrlProblem(value: string, allowLoopbackHttp: boolean): string | undefined {
  const url = parsedUrl(value);
  if (!url || url.protocol === 'https:') return undefined;
  if (url.protocol !== 'http:') return 'must be an http(s) URL';
  if (!isLoopback(url.hostname)) return 'must be https';
  return allowLoopbackHttp ? undefined : 'http requires allow_insecure_http_for_loopback';
}
