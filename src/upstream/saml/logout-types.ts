import type { SamlNameId } from '../../identity/types.js';

/**
 * The Single Logout port as the provider sees it (logout.ts implements it). Kept free of Node
 * imports: the provider is runtime-neutral and type-checked for Workers too.
 */

export type SamlBinding = 'redirect' | 'post';
export type SamlLogoutStatus = 'success' | 'requester' | 'responder';

/** How the browser carries a message to the IdP: a redirect, or an auto-submitting form. */
export type SamlOutgoing = { redirectUrl: string } | { postForm: { action: string; fields: Record<string, string> } };

/** What arrived at the broker's SingleLogoutService: the raw query (HTTP-Redirect) or the form (HTTP-POST). */
export type SamlLogoutMessage = { binding: 'redirect'; query: string } | { binding: 'post'; form: { SAMLRequest?: string; SAMLResponse?: string; RelayState?: string } };

/** An IdP's LogoutRequest that passed every check; `answer` it once the sessions have ended. */
export interface VerifiedLogoutRequest {
  id: string;
  nameId: SamlNameId;
  /** Empty: every session of the NameID. */
  sessionIndexes: string[];
  relayState?: string;
}

export type SamlLogoutReceived =
  | { kind: 'request'; request: VerifiedLogoutRequest }
  /** The IdP confirmed a logout the broker started; `continuation` is what `start` was given. */
  | { kind: 'response'; continuation?: string };

/** Where a refused LogoutRequest that was authentic (signed by the IdP) is answered with a failure status. */
export interface SamlLogoutAnswerTo {
  requestId: string;
  relayState?: string;
}

export interface SamlSingleLogout {
  /** The broker's SingleLogoutService for this connection (both bindings). */
  readonly url: string;
  /** Whether the IdP offers Single Logout (a SingleLogoutService in its metadata). */
  readonly offered: boolean;
  start(input: { nameId: SamlNameId; sessionIndex?: string; browserBinding: string; continuation?: string }): Promise<SamlOutgoing>;
  /** Checks a LogoutRequest or LogoutResponse; throws SamlLogoutError. */
  receive(message: SamlLogoutMessage, ctx: { browserBinding?: string }): Promise<SamlLogoutReceived>;
  answer(to: SamlLogoutAnswerTo, status: SamlLogoutStatus): SamlOutgoing;
  /** Whether a verified LogoutRequest names a session whose login asserted this NameID and SessionIndex. */
  covers(asserted: { nameId: SamlNameId; sessionIndex?: string }, request: VerifiedLogoutRequest): boolean;
}

