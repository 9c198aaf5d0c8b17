/** The client's token exchange: for an ID-JAG (pushed), or another requested type (the pulled section's reference). */
export function exchangeBody(info: { audience: string; resource: string }, token: string, requested = 'urn:ietf:params:oauth:token-type:id-jag'): string {
  return new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    requested_token_type: requested,
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    audience: info.audience,
    resource: info.resource,
    scope: 'todos.read todos.write',
    client_id: 'bench-agent',
    client_secret: 'bench-secret',
  }).toString();
}
