/** What the demos share: how they print artifacts, and the ID token → ID-JAG → access token → API tail. */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import { hashSecret } from '../src/clients/secrets.js';
import type { BrokerConfigInput } from '../src/config/schema.js';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

export function show(title: string, value: unknown) {
  console.log(`\n${bold(`── ${title} `)}${'─'.repeat(Math.max(0, 70 - title.length))}`);
  console.log(typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

export const decoded = (jwt: string) => ({ header: decodeProtectedHeader(jwt), payload: decodeJwt(jwt) });

export const short = (s: string | null | undefined, n = 16) => (s && s.length > n ? `${s.slice(0, n)}…` : s);

/**
 * The app exchanges the broker's ID token for an ID-JAG (token exchange at the broker), redeems it
 * at the Todo AS (RFC 7523 jwt-bearer) and calls the Todo API, printing each artifact.
 */
export async function idJagToApi(o: {
  app: client.Configuration;
  idToken: string;
  todo: string;
  todoApi: string;
  atTodo: { client_id: string; client_secret: string };
  firstStep: number;
  exchangeLabel: string;
  idJagNote: string;
}): Promise<void> {
  const step = (n: number) => `${o.firstStep + n}.`;
  const exchange = await client.genericGrantRequest(o.app, 'urn:ietf:params:oauth:grant-type:token-exchange', {
    requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
    subject_token: o.idToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    audience: o.todo,
    resource: o.todoApi,
    scope: 'todos.read todos.write',
  });
  const { access_token: idJag, ...rest } = exchange;
  show(`${step(0)} ${o.exchangeLabel}`, { ...rest, access_token: '(the ID-JAG below)' });
  show(`   ${o.idJagNote}`, decoded(idJag));

  const grantRes = await fetch(`${o.todo}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${o.atTodo.client_id}:${o.atTodo.client_secret}`)}` },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: idJag }),
  });
  const grant = (await grantRes.json()) as Record<string, string>;
  if (grantRes.status !== 200) throw new Error(`jwt-bearer grant failed: ${JSON.stringify(grant)}`);
  show(`${step(1)} Access token minted by the Todo AS itself`, { ...grant, access_token: decoded(grant.access_token!) });

  const api = await fetch(`${o.todoApi}/todos`, { headers: { authorization: `Bearer ${grant.access_token}` } });
  show(`${step(2)} GET ${o.todoApi}/todos → ${api.status}`, await api.json());
}

/** The login demos' app: an OIDC client of the broker that may also ask for ID-JAGs at the Todo AS. */
export async function demoApp(o: {
  app: { client_id: string; client_secret: string; redirect_uri: string };
  atTodo: { client_id: string };
  name: string;
  subjectNamespace: string;
}): Promise<NonNullable<BrokerConfigInput['clients']>[number]> {
  return {
    client_id: o.app.client_id,
    name: o.name,
    token_endpoint_auth_method: 'client_secret_post',
    client_secret_hash: await hashSecret(o.app.client_secret),
    destinations: { todo: { client_id: o.atTodo.client_id, scopes: ['todos.read', 'todos.write'], default_scopes: ['todos.read'] } },
    oidc: { redirect_uris: [o.app.redirect_uri], subject_namespace: o.subjectNamespace, scopes: ['openid', 'email', 'profile'] },
  };
}

/** The Todo AS as a destination of the broker (examples/destination-as). */
export function todoDestination(issuer: string, api: string): NonNullable<BrokerConfigInput['destinations']>[number] {
  return {
    id: 'todo',
    issuer,
    aliases: ['todo'],
    resources: [api],
    namespace: 'todo-users',
    scope_translation: { 'todos.read': ['todos.read'], 'todos.write': ['todos.write'] },
    include_claims: ['acr', 'amr', 'auth_time', 'email'],
  };
}
