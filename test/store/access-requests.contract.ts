/**
 * The behaviour every adapter's access request store must have (governance, docs/access-requests.md).
 * Run against SQLite in test/store and against D1 inside workerd in test/workers. D1 storage is
 * shared by the tests of a file, so every test makes its own ids and looks at its own rows.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { ACCESS_REQUEST_RETAIN_AFTER } from '../../src/constants.js';
import type { AccessRequestDecision, AccessRequestRecord, AuditRecord, BrokerStore } from '../../src/store/ports.js';

const NOW = 1_800_000_000;
const HOUR = 3_600;
const DAY = 86_400;

export function accessRequestStoreContract(name: string, makeStore: () => Promise<BrokerStore>) {
  describe(`${name} access request store`, () => {
    let store: BrokerStore;
    let u: string;
    let n = 0;
    const task = (over: Partial<AccessRequestRecord> = {}): AccessRequestRecord => {
      const k = `${u}-${++n}`;
      return {
        id: `task-${k}`,
        denialId: `denial-${k}`,
        requester: `agent-${u}`,
        clientId: `agent-${u}`,
        principalId: `p-${u}`,
        upstreamIssuer: 'https://idp.test',
        subjectLabel: 'alice@example.com',
        destination: 'todo',
        resources: ['https://todo.test/'],
        scopes: ['todos.write'],
        policies: ['writers-need-approval'],
        justification: 'quarter close',
        requestedDuration: 8 * HOUR,
        createdAt: NOW,
        expiresAt: NOW + HOUR,
        status: 'pending',
        ...over,
      };
    };
    const audit = (t: AccessRequestRecord, action: string): AuditRecord => ({ at: NOW, event: 'access_request', requestId: `req-${t.id}-${action}-${++n}`, accessRequest: t.id, action });
    const auditFor = async (id: string) => (await store.audit.since(0, 0, 1_000_000)).map((r) => r.record).filter((r) => r.accessRequest === id);
    const approve = (at: number, until: number): AccessRequestDecision => ({
      status: 'approved',
      decidedAt: at,
      decidedBy: `approver-${u}`,
      decidedByLabel: 'Bob',
      approval: { id: `approval-${u}-${++n}`, approvedAt: at, approvedUntil: until },
    });

    beforeEach(async () => {
      store = await makeStore();
      u = crypto.randomUUID();
    });

    it('submits a task with its audit record, and reads it back by id and by denial', async () => {
      const t = task({ idempotencyKey: `key-${u}`, bodyHash: 'h1' });
      const a = audit(t, 'submitted');
      expect(await store.accessRequests.submit(t, a)).toEqual({ status: 'created' });
      expect(await store.accessRequests.get(t.id)).toEqual(t);
      expect(await store.accessRequests.forDenial(t.denialId)).toEqual(t);
      expect(await auditFor(t.id)).toEqual([a]);
      expect(await store.accessRequests.get(`task-${u}-none`)).toBeUndefined();
      expect(await store.accessRequests.forDenial(`denial-${u}-none`)).toBeUndefined();
    });

    it('a second task for the same denial is not written (clash: denial), nor its audit record', async () => {
      const first = task();
      await store.accessRequests.submit(first, audit(first, 'submitted'));
      const second = task({ denialId: first.denialId, justification: 'other' });
      const a = audit(second, 'submitted');
      expect(await store.accessRequests.submit(second, a)).toEqual({ status: 'exists', clash: 'denial', task: first });
      expect(await store.accessRequests.get(second.id)).toBeUndefined();
      expect(await auditFor(second.id)).toEqual([]);
    });

    it('a task under the same (requester, Idempotency-Key) is not written (clash: idempotency_key)', async () => {
      const first = task({ idempotencyKey: `key-${u}`, bodyHash: 'h1' });
      await store.accessRequests.submit(first, audit(first, 'submitted'));
      const second = task({ idempotencyKey: `key-${u}`, bodyHash: 'h2' });
      expect(await store.accessRequests.submit(second, audit(second, 'submitted'))).toEqual({ status: 'exists', clash: 'idempotency_key', task: first });
      expect(await store.accessRequests.get(second.id)).toBeUndefined();
      expect(await store.accessRequests.forDenial(second.denialId)).toBeUndefined();
      expect(await auditFor(second.id)).toEqual([]);
    });

    it('the same Idempotency-Key from another requester, and tasks without a key, never clash', async () => {
      const first = task({ idempotencyKey: `key-${u}` });
      const other = task({ idempotencyKey: `key-${u}`, requester: `other-${u}` });
      const keyless1 = task();
      const keyless2 = task();
      for (const t of [first, other, keyless1, keyless2]) expect(await store.accessRequests.submit(t, audit(t, 'submitted'))).toEqual({ status: 'created' });
    });

    it('resubmitting the very same task object writes nothing the second time', async () => {
      const t = task();
      await store.accessRequests.submit(t, audit(t, 'submitted'));
      expect(await store.accessRequests.submit(t, audit(t, 'submitted'))).toEqual({ status: 'exists', clash: 'denial', task: t });
      expect(await auditFor(t.id)).toHaveLength(1);
    });

    it('of concurrent submissions for one denial exactly one is created, with one audit record', async () => {
      const denialId = `denial-${u}-race`;
      const tasks = Array.from({ length: 6 }, () => task({ denialId }));
      const outcomes = await Promise.all(tasks.map((t) => store.accessRequests.submit(t, audit(t, 'submitted'))));
      expect(outcomes.filter((o) => o.status === 'created')).toHaveLength(1);
      const winner = tasks[outcomes.findIndex((o) => o.status === 'created')]!;
      for (const o of outcomes.filter((o) => o.status === 'exists')) expect(o).toEqual({ status: 'exists', clash: 'denial', task: winner });
      const audited = (await Promise.all(tasks.map((t) => auditFor(t.id)))).flat();
      expect(audited.map((r) => r.accessRequest)).toEqual([winner.id]);
    });

    it('lists pending, unexpired tasks oldest first, at most `limit`', async () => {
      const newer = task({ createdAt: NOW - 10, expiresAt: NOW + HOUR });
      const older = task({ createdAt: NOW - 20, expiresAt: NOW + HOUR });
      const expired = task({ createdAt: NOW - 30, expiresAt: NOW });
      const decided = task({ createdAt: NOW - 40 });
      for (const t of [newer, older, expired, decided]) await store.accessRequests.submit(t, audit(t, 'submitted'));
      await store.accessRequests.transition(decided.id, { status: 'denied', decidedAt: NOW - 5, reason: 'no' }, audit(decided, 'denied'), NOW - 5);

      const all = await store.accessRequests.pending(NOW, 1_000);
      const mine = all.filter((t) => t.requester === `agent-${u}`);
      expect(mine.map((t) => t.id)).toEqual([older.id, newer.id]);
      expect(all.every((t) => t.status === 'pending' && t.expiresAt > NOW)).toBe(true);
      expect(all.map((t) => t.createdAt)).toEqual([...all.map((t) => t.createdAt)].sort((a, b) => a - b));
      expect(await store.accessRequests.pending(NOW, 1)).toEqual(all.slice(0, 1));
      // One second earlier the expired task was still pending.
      expect((await store.accessRequests.pending(NOW - 1, 1_000)).map((t) => t.id)).toContain(expired.id);
    });

    it('a transition of a pending task is done once; later ones conflict and write nothing', async () => {
      const t = task();
      await store.accessRequests.submit(t, audit(t, 'submitted'));
      const decision = approve(NOW + 10, NOW + 10 + 8 * HOUR);
      const approved = audit(t, 'approved');
      const done = await store.accessRequests.transition(t.id, decision, approved, NOW + 10);
      const expected: AccessRequestRecord = { ...t, ...decision };
      expect(done).toEqual({ status: 'done', task: expected });
      expect(await store.accessRequests.get(t.id)).toEqual(expected);

      const cancel = audit(t, 'cancelled');
      expect(await store.accessRequests.transition(t.id, { status: 'cancelled', decidedAt: NOW + 20, decidedBy: t.principalId }, cancel, NOW + 20)).toEqual({
        status: 'conflict',
        task: expected,
      });
      expect((await auditFor(t.id)).map((r) => r.action)).toEqual(['submitted', 'approved']);
      expect(await store.accessRequests.pending(NOW + 10, 1_000)).not.toContainEqual(expect.objectContaining({ id: t.id }));
    });

    it('a denial or a cancellation stores the decision and its reason', async () => {
      const denied = task();
      const cancelled = task();
      for (const t of [denied, cancelled]) await store.accessRequests.submit(t, audit(t, 'submitted'));
      const deny: AccessRequestDecision = { status: 'denied', decidedAt: NOW + 1, decidedBy: 'approver', decidedByLabel: 'Bob', reason: 'not this quarter' };
      expect(await store.accessRequests.transition(denied.id, deny, audit(denied, 'denied'), NOW + 1)).toEqual({ status: 'done', task: { ...denied, ...deny } });
      const cancel: AccessRequestDecision = { status: 'cancelled', decidedAt: NOW + 2, decidedBy: cancelled.principalId };
      expect(await store.accessRequests.transition(cancelled.id, cancel, audit(cancelled, 'cancelled'), NOW + 2)).toEqual({ status: 'done', task: { ...cancelled, ...cancel } });
    });

    it('a task expired at `now` cannot be transitioned', async () => {
      const t = task({ expiresAt: NOW + 100 });
      await store.accessRequests.submit(t, audit(t, 'submitted'));
      const late = audit(t, 'approved');
      expect(await store.accessRequests.transition(t.id, approve(NOW + 100, NOW + 200), late, NOW + 100)).toEqual({ status: 'conflict', task: t });
      expect(await store.accessRequests.transition(t.id, approve(NOW + 101, NOW + 200), late, NOW + 101)).toEqual({ status: 'conflict', task: t });
      expect(await store.accessRequests.get(t.id)).toEqual(t);
      expect((await auditFor(t.id)).map((r) => r.action)).toEqual(['submitted']);
    });

    it('a transition of an unknown task is unknown and writes no audit record', async () => {
      const id = `task-${u}-none`;
      expect(await store.accessRequests.transition(id, approve(NOW, NOW + HOUR), { at: NOW, event: 'access_request', requestId: `req-${u}`, accessRequest: id }, NOW)).toEqual({
        status: 'unknown',
      });
      expect(await auditFor(id)).toEqual([]);
    });

    it('of concurrent transitions exactly one is done, with exactly one audit record', async () => {
      const t = task();
      await store.accessRequests.submit(t, audit(t, 'submitted'));
      const decisions: AccessRequestDecision[] = [
        ...Array.from({ length: 3 }, () => approve(NOW + 5, NOW + HOUR)),
        { status: 'denied', decidedAt: NOW + 5, decidedBy: 'approver', reason: 'no' },
        { status: 'cancelled', decidedAt: NOW + 5, decidedBy: t.principalId },
        // Identical decisions (same second, same actor) must still produce one winner.
        { status: 'cancelled', decidedAt: NOW + 5, decidedBy: t.principalId },
      ];
      const outcomes = await Promise.all(decisions.map((d) => store.accessRequests.transition(t.id, d, audit(t, d.status), NOW + 5)));
      expect(outcomes.filter((o) => o.status === 'done')).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 'conflict')).toHaveLength(decisions.length - 1);
      const stored = await store.accessRequests.get(t.id);
      const winner = outcomes.find((o) => o.status === 'done') as { task: AccessRequestRecord };
      expect(stored).toEqual(winner.task);
      for (const o of outcomes) if (o.status === 'conflict') expect(o.task).toEqual(stored);
      expect((await auditFor(t.id)).map((r) => r.action)).toEqual(['submitted', stored!.status]);
    });

    it('finds approvals of (principal, client, destination) that are still valid at `now`', async () => {
      const match = task();
      const otherPrincipal = task({ principalId: `p2-${u}` });
      const otherClient = task({ clientId: `client2-${u}` });
      const otherDestination = task({ destination: 'calendar' });
      const shortLived = task();
      const pendingOnly = task();
      const denied = task();
      for (const t of [match, otherPrincipal, otherClient, otherDestination, shortLived, pendingOnly, denied]) await store.accessRequests.submit(t, audit(t, 'submitted'));
      for (const t of [match, otherPrincipal, otherClient, otherDestination]) await store.accessRequests.transition(t.id, approve(NOW + 1, NOW + 8 * HOUR), audit(t, 'approved'), NOW + 1);
      await store.accessRequests.transition(shortLived.id, approve(NOW + 1, NOW + 60), audit(shortLived, 'approved'), NOW + 1);
      await store.accessRequests.transition(denied.id, { status: 'denied', decidedAt: NOW + 1 }, audit(denied, 'denied'), NOW + 1);

      const at = async (now: number) => (await store.accessRequests.approvals(`p-${u}`, `agent-${u}`, 'todo', now)).map((t) => t.id).sort();
      expect(await at(NOW + 2)).toEqual([match.id, shortLived.id].sort());
      expect(await at(NOW + 60)).toEqual([match.id]);
      expect(await at(NOW + 8 * HOUR)).toEqual([]);
      const [found] = await store.accessRequests.approvals(`p-${u}`, `agent-${u}`, 'todo', NOW + 60);
      expect(found).toEqual(await store.accessRequests.get(match.id));
      expect(found!.approval!.approvedUntil).toBe(NOW + 8 * HOUR);
    });

    it('pruning removes a task ACCESS_REQUEST_RETAIN_AFTER after it is over (expiry, or approved_until if later), and keeps the rest', async () => {
      const expiredPending = task({ expiresAt: NOW + 10 });
      const deniedEarly = task({ expiresAt: NOW + 10 });
      const livePending = task({ expiresAt: NOW + 10 * DAY });
      const longApproval = task({ expiresAt: NOW + 10 });
      const tasks = [expiredPending, deniedEarly, livePending, longApproval];
      for (const t of tasks) await store.accessRequests.submit(t, audit(t, 'submitted'));
      await store.accessRequests.transition(longApproval.id, approve(NOW + 1, NOW + 9 * DAY), audit(longApproval, 'approved'), NOW + 1);
      await store.accessRequests.transition(deniedEarly.id, { status: 'denied', decidedAt: NOW + 1 }, audit(deniedEarly, 'denied'), NOW + 1);

      const left = async () => (await Promise.all(tasks.map((t) => store.accessRequests.get(t.id)))).filter((t) => t !== undefined).map((t) => t.id);
      const prune = (now: number) => store.retention.prune({ now, auditBefore: 0, auditMaxRows: 1_000_000_000 });
      // Over, but within the grace: the status endpoint still answers (`expired`, `denied`).
      await prune(NOW + 10 + ACCESS_REQUEST_RETAIN_AFTER);
      expect(await left()).toEqual(tasks.map((t) => t.id));
      const run = await prune(NOW + 11 + ACCESS_REQUEST_RETAIN_AFTER);
      expect(run.deleted.access_requests).toBeGreaterThanOrEqual(2);
      expect(await left()).toEqual([livePending.id, longApproval.id]);
      await prune(NOW + 9 * DAY + 1 + ACCESS_REQUEST_RETAIN_AFTER);
      expect(await left()).toEqual([livePending.id]);
      await prune(NOW + 10 * DAY + 1 + ACCESS_REQUEST_RETAIN_AFTER);
      expect(await left()).toEqual([]);
      // The audit records stay: they are history, pruned by age only.
      expect((await auditFor(longApproval.id)).map((r) => r.action)).toEqual(['submitted', 'approved']);
    });
  });
}
