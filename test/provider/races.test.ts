import { describe, expect, it } from 'vitest';
import { REFRESH_TOKEN_REUSE_GRACE } from '../../src/provider/limits.js';
import { codeFor, lastAudit, redeem, SECRET, startProvider, webApp, webAppRequest, type ProviderBroker } from './harness.js';

const REFRESH_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:refresh_token';
const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

function refresh(b: ProviderBroker, refreshToken: string) {
  return b.token({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: webApp.client_id, client_secret: SECRET });
}

/** The web app exchanges its refresh token for an ID-JAG at the analytics destination (its own namespace). */
function exchange(b: ProviderBroker, refreshToken: string) {
  return b.token({
    grant_type: TOKEN_EXCHANGE,
    requested_token_type: ID_JAG_TYPE,
    subject_token: refreshToken,
    subject_token_type: REFRESH_TOKEN_TYPE,
    audience: 'https://analytics.test',
    scope: 'stats.read',
    client_id: webApp.client_id,
    client_secret: SECRET,
  });
}

function liveRefreshTokens(b: ProviderBroker): number {
  return b.db.prepare('SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND rotated_at IS NULL AND expires_at > ?').pluck().get(b.clock.now) as number;
}

/** The web app, allowed to delegate stats.read to the refresh tokens its logins get (issue 6 §2). */
const delegatingWebApp = { ...webApp, delegated_scopes: ['stats.read'] };

async function signedIn(b: ProviderBroker) {
  const scope = b.deps.clients.get(webApp.client_id)?.delegated_scopes?.length ? 'openid email offline_access stats.read' : 'openid email offline_access';
  const params = await codeFor(b.browser(), webAppRequest({ scope }));
  return (await (await redeem(b, params.get('code')!)).json()) as Record<string, string>;
}

describe('an authorization code replayed while its first redemption is in flight', () => {
  it('revokes the refresh token issued to the winner, whichever lands first (replay between consume and issue)', async () => {
    const b = await startProvider();
    const params = await codeFor(b.browser(), webAppRequest());
    const code = params.get('code')!;
    // Deterministic interleaving: the replay runs to completion after the winner consumed the code
    // and before the winner stores its refresh token.
    const refreshTokens = b.services.store.refreshTokens;
    const issue = refreshTokens.issue.bind(refreshTokens);
    let replay: Response | undefined;
    refreshTokens.issue = async (hash, token) => {
      replay ??= await redeem(b, code);
      return issue(hash, token);
    };
    const first = await redeem(b, code);
    refreshTokens.issue = issue;

    expect(replay!.status).toBe(400);
    const winner = (await first.json()) as Record<string, string>;
    // The winner's refresh token must not survive the replay (RFC 6749 §4.1.2, RFC 9700 §4.14).
    if (winner.refresh_token !== undefined) {
      const res = await refresh(b, winner.refresh_token);
      expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    }
    expect(liveRefreshTokens(b)).toBe(0);
  });

  it('holds on every trial of truly concurrent redemptions', async () => {
    const b = await startProvider();
    for (let trial = 0; trial < 15; trial++) {
      const params = await codeFor(b.browser(), webAppRequest());
      const code = params.get('code')!;
      const responses = await Promise.all([redeem(b, code), redeem(b, code)]);
      const bodies = (await Promise.all(responses.map((r) => r.json()))) as Array<Record<string, string>>;
      // The replay is refused; the winner is too when the replay revoked the family before its issue.
      expect(bodies.filter((x) => x.error === 'invalid_grant').length).toBeGreaterThanOrEqual(1);
      expect(liveRefreshTokens(b)).toBe(0);
    }
  });
});

describe("a client's own concurrent uses of one refresh token", () => {
  it('a token exchange racing the refresh grant (exchange lands after the rotation) does not revoke the grant', async () => {
    const b = await startProvider({ clients: [delegatingWebApp] });
    const tokens = await signedIn(b);
    const rotated = await refresh(b, tokens.refresh_token!);
    expect(rotated.status).toBe(200);
    const successor = ((await rotated.json()) as Record<string, string>).refresh_token!;

    // Still within the grace window: the just-rotated token is accepted as a subject token.
    b.clock.now += REFRESH_TOKEN_REUSE_GRACE - 1;
    const exchanged = await exchange(b, tokens.refresh_token!);
    expect(exchanged.status).toBe(200);
    expect((await refresh(b, successor)).status).toBe(200);
  });

  it('truly concurrent refresh and exchange: the grant survives on every trial', async () => {
    const b = await startProvider({ clients: [delegatingWebApp] });
    let current = (await signedIn(b)).refresh_token!;
    for (let trial = 0; trial < 10; trial++) {
      const [r, x] = await Promise.all([refresh(b, current), exchange(b, current)]);
      expect(r.status).toBe(200);
      expect(x.status).toBe(200);
      current = ((await r.json()) as Record<string, string>).refresh_token!;
    }
    expect((await refresh(b, current)).status).toBe(200);
  });

  it('a concurrent duplicate refresh is refused without revoking the family', async () => {
    const b = await startProvider({ clients: [delegatingWebApp] });
    const tokens = await signedIn(b);
    const [one, two] = await Promise.all([refresh(b, tokens.refresh_token!), refresh(b, tokens.refresh_token!)]);
    const bodies = (await Promise.all([one.json(), two.json()])) as Array<Record<string, string>>;
    const won = bodies.filter((x) => x.refresh_token !== undefined);
    expect(won).toHaveLength(1);
    expect(bodies.filter((x) => x.error === 'invalid_grant')).toHaveLength(1);
    const reasons = (await b.services.store.audit.recent(5)).map((r) => r.reason);
    expect(reasons).toContain('refresh_token_superseded');
    expect(reasons).not.toContain('refresh_token_reused');
    expect((await refresh(b, won[0]!.refresh_token!)).status).toBe(200);
  });

  it('after the grace window a reuse of the rotated token still revokes the family (refresh and exchange alike)', async () => {
    for (const reuse of [refresh, exchange]) {
      const b = await startProvider({ clients: [delegatingWebApp] });
      const tokens = await signedIn(b);
      const successor = ((await (await refresh(b, tokens.refresh_token!)).json()) as Record<string, string>).refresh_token!;
      b.clock.now += REFRESH_TOKEN_REUSE_GRACE;
      const replay = await reuse(b, tokens.refresh_token!);
      expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
      expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'refresh_token_reused' });
      expect(await (await refresh(b, successor)).json()).toMatchObject({ error: 'invalid_grant' });
      expect(liveRefreshTokens(b)).toBe(0);
    }
  });
});

describe("a client's revocation racing its own refresh", () => {
  it('a refresh token rotated by a concurrent refresh just before /revoke looks it up still takes its family with it', async () => {
    const b = await startProvider();
    const tokens = await signedIn(b);
    // Deterministic interleaving: the revocation's lookup runs after the client's own refresh rotated the token.
    const refreshTokens = b.services.store.refreshTokens;
    const active = refreshTokens.active.bind(refreshTokens);
    let successor: string | undefined;
    let racing = false;
    refreshTokens.active = async (hash, now, rotatedAfter) => {
      if (racing) {
        racing = false;
        successor = ((await (await refresh(b, tokens.refresh_token!)).json()) as Record<string, string>).refresh_token;
      }
      return active(hash, now, rotatedAfter);
    };
    racing = true;
    const revoked = await b.fetch('/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.refresh_token!, token_type_hint: 'refresh_token', client_id: webApp.client_id, client_secret: SECRET }),
    });
    refreshTokens.active = active;

    expect(revoked.status).toBe(200);
    expect(successor).toEqual(expect.any(String));
    // The grant the client revoked is gone, the successor its own refresh got meanwhile included.
    expect(await (await refresh(b, successor!)).json()).toMatchObject({ error: 'invalid_grant' });
    expect(liveRefreshTokens(b)).toBe(0);
  });
});
