import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

/**
 * Runs `npm run demo:oidc` (examples/demo-oidc.ts) as a subprocess. It uses other ports than
 * test/examples/demo.test.ts (8787/9000/9100) and test/e2e/demo-saml.test.ts (8788/9001/9101),
 * which vitest may run at the same time in other workers, and a database of its own instead of
 * data/demo-oidc.sqlite.
 */
const PORTS = { DEMO_BROKER_PORT: '8789', DEMO_IDP_PORT: '9002', DEMO_TODO_PORT: '9102' };
const BROKER = 'http://localhost:8789';
const OP = 'http://localhost:9002';
const dir = mkdtempSync(join(tmpdir(), 'xaa-demo-oidc-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The JSON printed under the heading that starts with `title`, up to the next heading. */
function section(stdout: string, title: string): unknown {
  const start = stdout.indexOf(`── ${title}`);
  expect(start, `no section "${title}"`).toBeGreaterThanOrEqual(0);
  const body = stdout.slice(stdout.indexOf('\n', start) + 1);
  const end = body.indexOf('\n── ');
  return JSON.parse(end < 0 ? body : body.slice(0, end));
}

describe('npm run demo:oidc', () => {
  it('logs in through the OpenID Provider, shows both ID tokens, then ID-JAG → access token → API call', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/demo-oidc.ts'], {
      cwd: join(import.meta.dirname, '../..'),
      env: { ...process.env, ...PORTS, DEMO_DATABASE: join(dir, 'demo-oidc.sqlite') },
      timeout: 60_000,
    });
    const opSub = '00u1a2b3c4d5e6f7g8h9';

    // The app's authorization request at the broker, and the broker's own at the OP.
    expect(stdout).toMatch(/GET http:\/\/localhost:8789\/authorize\n\{[\s\S]*"client_id": "wiki"[\s\S]*"code_challenge_method": "S256"/);
    expect(section(stdout, '2. The broker redirects to the OP')).toMatchObject({
      to: `${OP}/auth`,
      client_id: 'xaa-broker',
      redirect_uri: `${BROKER}/login/oidc/corp-sso/callback`,
      scope: 'openid email profile groups',
      code_challenge_method: 'S256',
      claims: { id_token: { sid: null } },
    });

    // The scripted login at the OP's form, and the way back to the broker with a code and iss.
    expect(stdout).toMatch(/3\. The OP's login page \(\/interaction\/[\w-]+\); the browser posts the form/);
    expect(section(stdout, '4. The OP signs alice in')).toMatchObject({ to: `${BROKER}/login/oidc/corp-sso/callback`, iss: OP });

    // The upstream ID token: the login only (the person's claims come from userinfo).
    const upstream = section(stdout, "5. What the broker received from the OP's token endpoint") as { payload: Record<string, unknown> };
    expect(upstream).toMatchObject({
      header: { alg: 'RS256' },
      payload: { iss: OP, aud: 'xaa-broker', sub: opSub, acr: 'urn:corp:loa:2fa', amr: ['pwd', 'otp', 'mfa'] },
    });
    expect(typeof upstream.payload.sid).toBe('string');
    expect(upstream.payload.email).toBeUndefined();
    expect(section(stdout, '   ... and its userinfo')).toMatchObject({ sub: opSub, email: 'alice@corp.example', groups: ['staff', 'todo-writers'] });
    expect(section(stdout, '6. The broker returns the browser to the app')).toMatchObject({ redirect_uri: 'http://localhost:3000/callback', iss: BROKER });

    // The broker's ID token: a pairwise sub in the wiki's namespace, its own sid, the OP's login facts.
    const idToken = section(stdout, "7. The broker's ID token for the wiki") as { payload: Record<string, unknown> };
    expect(idToken).toMatchObject({
      header: { alg: 'ES256', typ: 'JWT' },
      payload: { iss: BROKER, aud: 'wiki', email: 'alice@corp.example', name: 'Alice Liddell', acr: 'urn:corp:loa:2fa', amr: ['pwd', 'otp', 'mfa'], auth_time: upstream.payload.auth_time },
    });
    const { sub, sid } = idToken.payload;
    expect(sub).toMatch(/^[\w-]{43}$/);
    expect(sub).not.toBe(opSub);
    expect(sid).toMatch(/^[\w-]{43}$/);
    expect(sid).not.toBe(upstream.payload.sid);
    expect(stdout).toContain("= SHA-256 of the broker's session cookie");
    expect(section(stdout, '   /userinfo at the broker')).toEqual({ sub, email: 'alice@corp.example', email_verified: true, name: 'Alice Liddell', given_name: 'Alice', family_name: 'Liddell' });

    // The token exchange: an ID-JAG for alice as todo-user-1001; todos.write allowed (group + MFA).
    expect(section(stdout, '8. Token exchange response from the broker')).toMatchObject({ issued_token_type: 'urn:ietf:params:oauth:token-type:id-jag', scope: 'todos.read todos.write' });
    expect(section(stdout, '   The ID-JAG')).toMatchObject({
      header: { typ: 'oauth-id-jag+jwt', alg: 'ES256' },
      payload: { iss: BROKER, aud: 'http://localhost:9102', sub: 'todo-user-1001', client_id: 'wiki-at-todo', scope: 'todos.read todos.write', amr: ['pwd', 'otp', 'mfa'] },
    });
    expect(section(stdout, '9. Access token minted by the Todo AS')).toMatchObject({ access_token: { header: { typ: 'at+jwt' }, payload: { iss: 'http://localhost:9102', sub: 'todo-user-1001' } } });
    expect(stdout).toMatch(/10\. GET http:\/\/localhost:9102\/api\/todos → 200/);
    expect(stdout).toContain('Ship the OIDC-upstream demo');

    // The audit trail: an OIDC login, the wiki's token (pairwise), the mint (table) with the policy decisions.
    expect(stdout).toContain('"detail": "connection=corp-sso protocol=oidc');
    expect(stdout).toContain('"mapping": "wiki-users/pairwise@v1"');
    expect(stdout).toContain('"mapping": "todo-users/table"');
    expect(stdout).toContain('todos.write:permit[writers-need-group]');
  }, 60_000);
});
