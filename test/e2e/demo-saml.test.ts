import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

/**
 * Runs `npm run demo:saml` (examples/demo-saml.ts) as a subprocess. It uses other ports than
 * test/examples/demo.test.ts (8787/9000/9100), which vitest may run at the same time in another
 * worker, and a database of its own instead of data/demo-saml.sqlite.
 */
const PORTS = { DEMO_BROKER_PORT: '8788', DEMO_IDP_PORT: '9001', DEMO_TODO_PORT: '9101' };
const dir = mkdtempSync(join(tmpdir(), 'xaa-demo-saml-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run demo:saml', () => {
  it('logs in through SAML, shows the assertion and the OIDC ID token, then ID-JAG → access token → API call', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/demo-saml.ts'], {
      cwd: join(import.meta.dirname, '../..'),
      env: { ...process.env, ...PORTS, DEMO_DATABASE: join(dir, 'demo-saml.sqlite') },
      timeout: 60_000,
    });
    const nameId = 'a7f3c9e2-5b1d-4e8a-9c6f-0d2e4b6a8c10';
    // The SAML leg: an AuthnRequest over HTTP-Redirect, a signed assertion back over HTTP-POST.
    expect(stdout).toMatch(/2\. The broker redirects to the IdP with an AuthnRequest[\s\S]*"AssertionConsumerServiceURL": "http:\/\/localhost:8788\/login\/saml\/corp-saml\/acs"/);
    expect(stdout).toMatch(/3\. The IdP's signed SAML Response[\s\S]*"SignatureMethod": "http:\/\/www\.w3\.org\/2001\/04\/xmldsig-more#rsa-sha256"/);
    expect(stdout).toContain('"Format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"');
    expect(stdout).toContain('"Audience": "http://localhost:8788/login/saml/corp-saml/metadata"');
    expect(stdout).toMatch(/4\. The broker returns the browser to the app \(303\)[\s\S]*"iss": "http:\/\/localhost:8788"/);
    // The OIDC ID token: the persistent NameID as sub, the attributes as claims.
    const idToken = /5\. The broker's OIDC ID token[^\n]*\n([\s\S]*?)\n── /.exec(stdout)?.[1];
    expect(idToken).toBeDefined();
    expect(JSON.parse(idToken!)).toMatchObject({
      header: { alg: 'ES256', typ: 'JWT' },
      payload: { iss: 'http://localhost:8788', aud: 'hr-portal', sub: nameId, email: 'alice@example.com', given_name: 'Alice', family_name: 'Liddell', name: 'Alice Liddell', acr: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport', amr: ['pwd'] },
    });
    // The ID-JAG names alice in the Todo AS's namespace; the write scope is refused by policy.
    expect(stdout).toContain('"typ": "oauth-id-jag+jwt"');
    expect(stdout).toContain('"sub": "todo-user-1001"');
    expect(stdout).toContain('"client_id": "hr-at-todo"');
    expect(stdout).toContain('"typ": "at+jwt"');
    expect(stdout).toMatch(/GET http:\/\/localhost:9101\/api\/todos → 200/);
    expect(stdout).toContain('Retire the legacy SAML SP');
    expect(stdout).toContain('"detail": "connection=corp-saml protocol=saml');
    expect(stdout).toContain('"mapping": "hr-users/saml_subject@v1"');
    expect(stdout).toContain('todos.write:deny[require-mfa-for-write]');
  }, 90_000);
});
