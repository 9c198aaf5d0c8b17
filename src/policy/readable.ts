/**
 * What of a mint question the policy text can possibly read, by an over-approximation on the raw
 * text (comments and strings included, so a word that only appears in a comment still counts):
 * an attribute or context member matters when its name appears anywhere as a word; a person's id
 * matters when the text holds an entity literal of the user type (`User::"…"`), the only way a
 * policy validated against the schema can tell two people apart other than by their attributes.
 * Unknown is "reads it": the answer may only ever make the decision memo key larger. Pure.
 */
export interface ReadableInputs {
  principalId: boolean;
  attributes: {
    upstreamIssuer: boolean;
    email: boolean;
    groups: boolean;
    tenant: boolean;
    acr: boolean;
    amr: boolean;
    authTime: boolean;
    now: boolean;
    approved: boolean;
  };
}

const word = (text: string, name: string) => new RegExp(`\\b${name}\\b`).test(text);

export function readableInputs(policies: string): ReadableInputs {
  return {
    // `User::"id"`, with any namespace prefix and spacing; also an escaped form in a string would not
    // name an entity, so this is complete for entity literals.
    principalId: /\bUser\s*::\s*"/.test(policies),
    attributes: {
      upstreamIssuer: word(policies, 'upstreamIssuer'),
      email: word(policies, 'email'),
      groups: word(policies, 'groups'),
      tenant: word(policies, 'tenant'),
      acr: word(policies, 'acr'),
      amr: word(policies, 'amr'),
      authTime: word(policies, 'authTime'),
      now: word(policies, 'now'),
      approved: word(policies, 'approved'),
    },
  };
}
