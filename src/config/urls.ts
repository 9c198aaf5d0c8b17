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
