/**
 * subject_token_type refresh_token: a refresh token the broker's OpenID Provider issued to the app.
 * Bound to the client, unexpired, unrevoked, unrotated, its session active; the person re-assembled
 * from the current principal, the login facts from the session; never rotated or consumed by the
 * exchange. Every rule broken alone, through the token endpoint.
 */
import { decodeJwt } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { randomToken, sha256Base64url } from '../../src/provider/crypto.js';
import { REFRESH_TOKEN_REUSE_GRACE } from '../../src/provider/limits.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { codeFor, location, redeem, SECRET as PROVIDER_SECRET, startProvider, webApp, webAppRequest } from '../provider/harness.js';
import { exchange, exchangeBody, expectRefused, issueRefreshToken, login, minted, REFRESH_TOKEN_TYPE, snapshot, TODO } from './subject-token-helpers.js';

const write = { scope: 'todos.write' } as const;

describe('refresh_token as the subject token', () => {
  let b: TestBroker;
  beforeEach(async () => {
    b = await startTestBroker();
  });

  describe('what it mints', () => {
    it('an ID-JAG naming the person in the destination namespace, with the login facts of the session', async () => {
      const l = await login(b);
      const { token } = await issueRefreshToken(b, l);
      const body = await minted(await exchange(b, token, REFRESH_TOKEN_TYPE));
      const claims = decodeJwt(body.access_token);
      expect(claims).toMatchObject({ sub: 'todo-user-1001', aud: TODO, client_id: 'wiki-at-todo', scope: 'todos.read', auth_time: l.session.authTime, acr: 'urn:example:acr:mfa', amr: ['pwd', 'mfa'], email: 'alice@example.com' });
      const [record] = await b.services.store.audit.recent(1);
      expect(record).toMatchObject({ event: 'mint', principalId: l.principal.id, mapping: 'todo-users/table', jti: claims.jti });
      expect(JSON.stringify(record)).not.toContain(token);
    });

    it('re-assembles the person from the principal record as it is now, not as it was when the token was issued', async () => {
      const l = await login(b);
      const { token } = await issueRefreshToken(b, l);
      await b.services.store.principals.upsert({ ...l.principal, claims: { email: 'alice@new.example', email_verified: true }, updatedAt: b.clock.now + 1 });
      const body = await minted(await exchange(b, token, REFRESH_TOKEN_TYPE));
      expect(decodeJwt(body.access_token).email).toBe('alice@new.example');
    });

    it('asks policy with the session’s login facts: MFA in the session permits a write, a password-only session does not', async () => {
      const mfa = await login(b, { principal: { claims: { email: 'alice@example.com', groups: ['todo-writers'] } } });
      const withMfa = await issueRefreshToken(b, mfa);
      expect((await minted(await exchange(b, withMfa.token, REFRESH_TOKEN_TYPE, write))).scope).toBe('todos.write');

      const pwd = await login(b, { principal: { claims: { email: 'alice@example.com', groups: ['todo-writers'] } }, session: { amr: ['pwd'] } });
      const passwordOnly = await issueRefreshToken(b, pwd);
      await expectRefused(b, exchangeBody(passwordOnly.token, REFRESH_TOKEN_TYPE, write), { error: 'access_denied', reason: 'policy_denied' });
    });

    it('stays within the authorization it was granted for: a token granted only openid mints no Todo scope (issue 6 §2)', async () => {
      const l = await login(b, { principal: { claims: { email: 'alice@example.com', groups: ['todo-writers'] } } });
      const { token } = await issueRefreshToken(b, l, { scopes: ['openid'] });
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE, write), { error: 'invalid_scope', reason: 'scope_exceeds_subject_grant', detail: 'todos.write' });
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE), { error: 'invalid_scope', reason: 'scope_exceeds_subject_grant', detail: 'todos.read' });
      // Nor can the client's default scopes widen it: without `scope`, the defaults are bound the same way.
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE, { scope: undefined }), { error: 'invalid_scope', reason: 'scope_exceeds_subject_grant' });
    });

    it('a token granted todos.read mints todos.read, and not todos.write', async () => {
      const l = await login(b, { principal: { claims: { email: 'alice@example.com', groups: ['todo-writers'] } } });
      const { token } = await issueRefreshToken(b, l, { scopes: ['openid', 'offline_access', 'todos.read'] });
      expect((await minted(await exchange(b, token, REFRESH_TOKEN_TYPE))).scope).toBe('todos.read');
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE, { scope: 'todos.read todos.write' }), { error: 'invalid_scope', reason: 'scope_exceeds_subject_grant', detail: 'todos.write' });
    });

    it('is neither rotated nor consumed: it can be exchanged again, and its record is untouched', async () => {
      const l = await login(b);
      const { token, hash, record } = await issueRefreshToken(b, l);
      const before = b.db.prepare('SELECT * FROM refresh_tokens').all();
      await minted(await exchange(b, token, REFRESH_TOKEN_TYPE));
      await minted(await exchange(b, token, REFRESH_TOKEN_TYPE));
      expect(b.db.prepare('SELECT * FROM refresh_tokens').all()).toEqual(before);
      expect(await b.services.store.refreshTokens.active(hash, b.clock.now)).toEqual(record);
    });
  });

  describe('refusals (each breaks one rule)', () => {
    it('not a value the broker could have issued → invalid_grant (token_malformed)', async () => {
      await expectRefused(b, exchangeBody('not-a-refresh-token', REFRESH_TOKEN_TYPE), { error: 'invalid_grant', reason: 'token_malformed' });
    });

    it('never issued → invalid_grant (refresh_token_invalid)', async () => {
      await login(b);
      await expectRefused(b, exchangeBody(randomToken(), REFRESH_TOKEN_TYPE), { error: 'invalid_grant', reason: 'refresh_token_invalid' });
    });

    it('expired → invalid_grant (refresh_token_invalid)', async () => {
      const l = await login(b, { session: { expiresAt: b.clock.now + 7200 } });
      const { token } = await issueRefreshToken(b, l, { expiresAt: b.clock.now + 60 });
      b.clock.now += 60;
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE), { error: 'invalid_grant', reason: 'refresh_token_invalid' });
    });

    it('revoked → invalid_grant (refresh_token_invalid)', async () => {
      const l = await login(b);
      const { token, record } = await issueRefreshToken(b, l);
      await b.services.store.refreshTokens.revokeFamily(record.familyId, b.clock.now);
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE), { error: 'invalid_grant', reason: 'refresh_token_invalid' });
    });

    it('already rotated (longer ago than the reuse grace) → invalid_grant (refresh_token_reused), and its family is revoked as the refresh grant would', async () => {
      const l = await login(b);
      const { token, hash, record } = await issueRefreshToken(b, l);
      const successor = randomToken();
      const successorHash = await sha256Base64url(successor);
      expect((await b.services.store.refreshTokens.rotate(hash, { tokenHash: successorHash, token: { ...record, createdAt: b.clock.now } }, b.clock.now)).status).toBe('rotated');
      b.clock.now += REFRESH_TOKEN_REUSE_GRACE;
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE), { error: 'invalid_grant', reason: 'refresh_token_reused', storeMayChange: true });
      expect(await b.services.store.refreshTokens.active(successorHash, b.clock.now)).toBeUndefined();
    });

    it('issued to another client → invalid_grant (refresh_token_client_mismatch)', async () => {
      const l = await login(b);
      const { token } = await issueRefreshToken(b, l, { clientId: 'basic-agent' });
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE), { error: 'invalid_grant', reason: 'refresh_token_client_mismatch' });
    });

    it('its session has ended (the token itself still active) → invalid_grant (session_ended)', async () => {
      const l = await login(b);
      const { token } = await issueRefreshToken(b, l);
      await b.services.store.sessions.revoke(l.session.id, b.clock.now);
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE), { error: 'invalid_grant', reason: 'session_ended' });
    });

    it('no principal record behind the session → invalid_grant (principal_missing)', async () => {
      const l = await login(b);
      const orphan = { ...l, session: { ...l.session, id: randomToken(), principalId: 'p_nobody' } };
      await b.services.store.sessions.create(orphan.session);
      const { token } = await issueRefreshToken(b, { principal: { ...l.principal, id: 'p_nobody' }, session: orphan.session });
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE), { error: 'invalid_grant', reason: 'principal_missing' });
    });

    it('the token names another principal than its session → invalid_grant (principal_missing)', async () => {
      const l = await login(b);
      const { token } = await issueRefreshToken(b, l, { principalId: 'p_someone_else' });
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE), { error: 'invalid_grant', reason: 'principal_missing' });
    });

    it('a refresh token presented as an ID token → invalid_grant, and the token is not touched', async () => {
      const l = await login(b);
      const { token } = await issueRefreshToken(b, l);
      const before = snapshot(b).tables.refresh_tokens;
      await expectRefused(b, exchangeBody(token, 'urn:ietf:params:oauth:token-type:id_token'), { error: 'invalid_grant', reason: 'token_malformed' });
      expect(snapshot(b).tables.refresh_tokens).toEqual(before);
    });
  });
});

describe('refresh_token as the subject token, end to end through the broker as OpenID Provider', () => {
  it('the app logs in, exchanges its refresh token for an ID-JAG, and still refreshes with the same token afterwards', async () => {
    const p = await startProvider({ clients: [{ ...webApp, delegated_scopes: ['todos.read'] }] });
    const params = await codeFor(p.browser(), webAppRequest({ scope: 'openid email offline_access todos.read' }));
    const tokens = (await (await redeem(p, params.get('code')!)).json()) as Record<string, string>;
    expect(tokens.refresh_token).toBeDefined();

    const res = await p.token(exchangeBody(tokens.refresh_token!, REFRESH_TOKEN_TYPE));
    const body = await minted(res);
    expect(decodeJwt(body.access_token)).toMatchObject({ sub: 'todo-user-1001', aud: TODO, amr: ['pwd', 'mfa'] });

    const refreshed = await p.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: webApp.client_id, client_secret: PROVIDER_SECRET });
    expect(refreshed.status).toBe(200);
  });

  it('a refresh token from a login that delegated no Todo scope mints none (issue 6 §2)', async () => {
    const p = await startProvider({ clients: [{ ...webApp, delegated_scopes: ['todos.read'] }] });
    const params = await codeFor(p.browser(), webAppRequest({ scope: 'openid offline_access' }));
    const tokens = (await (await redeem(p, params.get('code')!)).json()) as Record<string, string>;
    const res = await p.token(exchangeBody(tokens.refresh_token!, REFRESH_TOKEN_TYPE));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_scope' });
    const [record] = await p.services.store.audit.recent(1);
    expect(record).toMatchObject({ reason: 'scope_exceeds_subject_grant', detail: 'todos.read' });
  });

  it('/authorize refuses a Todo scope the app may not ask to be delegated', async () => {
    const p = await startProvider();
    const res = await p.browser().get(webAppRequest({ scope: 'openid offline_access todos.write' }));
    expect(res.status).toBeGreaterThanOrEqual(300);
    expect(location(res).searchParams.get('error')).toBe('invalid_scope');
  });
});
