import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('npm run demo', () => {
  it('shows both profiles: ID token → ID-JAG → access token → API call, a reference redeemed by the Todo AS, replays refused, an audit trail', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], { cwd: join(import.meta.dirname, '../..'), timeout: 60_000 });
    expect(stdout).toContain('1. ID token from the upstream IdP');
    expect(stdout).toContain('"typ": "oauth-id-jag+jwt"');
    expect(stdout).toContain('"sub": "todo-user-1001"');
    expect(stdout).toContain('"client_id": "wiki-at-todo"');
    expect(stdout).toContain('"typ": "at+jwt"');
    expect(stdout).toMatch(/GET http:\/\/localhost:9100\/api\/todos → 200/);
    expect(stdout).toMatch(/Replaying the ID-JAG at the Todo AS → 400[\s\S]*"invalid_grant"/);
    // Resource-pulled: an opaque reference, redeemed by the Todo AS over its back channel, once.
    expect(stdout).toMatch(/6\. Resource-pulled[\s\S]*"issued_token_type": "https:\/\/xaa-broker\.dev\/token-type\/id-jag-reference"[\s\S]*"expires_in": 60/);
    expect(stdout).toMatch(/7\. The Todo AS redeemed the reference[\s\S]*"issued_token_type": "urn:ietf:params:oauth:token-type:access_token"[\s\S]*"sub": "todo-user-1001"/);
    expect(stdout).toMatch(/8\. GET http:\/\/localhost:9100\/api\/todos with the pulled access token → 200/);
    expect(stdout).toMatch(/9\. Presenting the same reference again → 400[\s\S]*"invalid_grant"/);
    expect(stdout).toContain('"forClient": "wiki-agent"');
    expect(stdout).toContain('"reason": "reference_replayed"');
    expect(stdout).toMatch(/unknown audience → 400[\s\S]*"invalid_target"/);
    expect(stdout).toContain('"reason": "audience_unknown"');
    // Escalation: a requestable denial with deferred completion, an access request, an approval, the ID-JAG.
    expect(stdout).toMatch(/11\. todos\.export with deferred=true → 400[\s\S]*"error": "authorization_pending"[\s\S]*"requestable": true[\s\S]*"typ": "xaa-denial\+jwt"/);
    expect(stdout).toMatch(/12\. POST http:\/\/localhost:8787\/access\/v1\/requests[^\n]*→ 202[\s\S]*"status": "pending"/);
    expect(stdout).toMatch(/13\. Polling the token endpoint with the deferral code → 400[\s\S]*"error": "authorization_pending"/);
    expect(stdout).toMatch(/14\. bob \(todo-admins\) approves[\s\S]*"status": "approved"/);
    expect(stdout).toMatch(/15\. Polling again → 200[\s\S]*"scope": "todos.export"/);
    expect(stdout).toMatch(/16\. GET the task's status_endpoint → 200[\s\S]*"mode": "reevaluate"/);
  }, 90_000);
});
