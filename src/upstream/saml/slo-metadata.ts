import { attr, children, NS } from './xml.js';

/**
 * The IdP's SingleLogoutService endpoints, as its metadata lists them (SAML metadata §2.2.2):
 * HTTP-Redirect and HTTP-POST only, the first of each. A LogoutRequest goes to `location`; a
 * LogoutResponse to `responseLocation` when the IdP gives one, else to `location`.
 */

const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

export interface SingleLogoutEndpoint {
  location: string;
  responseLocation?: string;
}

export interface IdpSingleLogout {
  redirect?: SingleLogoutEndpoint;
  post?: SingleLogoutEndpoint;
}

/** Thrown (as the caller's MetadataError) for an endpoint that is not an http(s) URL. */
export function readSingleLogout(idpDescriptor: Element, fail: (message: string) => never): IdpSingleLogout {
  const out: IdpSingleLogout = {};
  for (const slo of children(idpDescriptor, NS.metadata, 'SingleLogoutService')) {
    const binding = attr(slo, 'Binding');
    const key = binding === REDIRECT ? 'redirect' : binding === POST ? 'post' : undefined;
    const location = attr(slo, 'Location');
    if (!key || !location || out[key]) continue;
    const responseLocation = attr(slo, 'ResponseLocation');
    for (const url of [location, responseLocation]) {
      if (url !== undefined && !/^https?:\/\//.test(url)) fail(`SingleLogoutService Location ${url} is not an http(s) URL`);
    }
    out[key] = { location, ...(responseLocation ? { responseLocation } : {}) };
  }
  return out;
}
