import { MAX_STATE_CHARS } from './limits.js';

/** The parameters of an authorization response the broker reads before any network call. */
export interface CallbackParams {
  state: string;
  /** RFC 9207 `iss`, when the OP sent it. */
  iss?: string;
}

export type CallbackCheck = { ok: true; value: CallbackParams } | { ok: false; detail: string };

/**
 * Reads `state` and `iss` from the callback's query, refusing duplicates: a parameter given twice
 * is an attempt to make two parsers disagree. Pure.
 */
export function readCallbackParams(query: URLSearchParams): CallbackCheck {
  for (const name of ['state', 'iss', 'code', 'error']) {
    if (query.getAll(name).length > 1) return { ok: false, detail: `duplicate ${name}` };
  }
  const state = query.get('state');
  if (!state) return { ok: false, detail: 'state missing' };
  if (state.length > MAX_STATE_CHARS) return { ok: false, detail: 'state too long' };
  const iss = query.get('iss');
  return { ok: true, value: iss === null ? { state } : { state, iss } };
}

/**
 * The URL handed to openid-client: the configured redirect URI with the callback's query. The
 * broker's own view of its origin and path may differ behind a proxy; the token request must send
 * the redirect_uri registered at the OP, so it comes from configuration, not from the request.
 */
export function callbackAtRedirectUri(redirectUri: string, callbackUrl: URL): URL {
  const url = new URL(redirectUri);
  url.search = callbackUrl.search;
  return url;
}

/**
 * RFC 9207 mix-up defence: a response carrying another issuer's `iss` came from the wrong OP; an
 * OP that advertises the parameter must send it.
 */
export function checkIssParameter(iss: string | undefined, issuer: string, advertised: boolean): string | undefined {
  if (iss === undefined) return advertised ? 'iss parameter missing' : undefined;
  return iss === issuer ? undefined : 'iss parameter names another issuer';
}
