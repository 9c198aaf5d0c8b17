import { beforeEach, describe, expect, it } from 'vitest';
import type { NamespaceConfig } from '../../src/config/schema.js';
import { principalIdOf } from '../../src/mapping/principal.js';
import { SubjectResolver, pairwise, type Identity, type Resolution } from '../../src/mapping/resolve.js';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';
import type { BrokerStore, SubjectBinding } from '../../src/store/ports.js';

const IDP = 'https://idp.test';
const NOW = 1_800_000_000;

const table: NamespaceConfig = { namespace: 'todo-users', strategy: 'table', rows: [] };
const claim: NamespaceConfig = { namespace: 'crm-users', strategy: 'claim', claim: 'email' };
const analytics: NamespaceConfig = { namespace: 'analytics-users', strategy: 'pairwise', sector: 'analytics.test' };
const billing: NamespaceConfig = { namespace: 'billing-users', strategy: 'pairwise', sector: 'billing.test' };
const noSector: NamespaceConfig = { namespace: 'reports-users', strategy: 'pairwise' };

/** A resolver as createBroker builds it: pairwise secrets created before any request. */
async function preparedResolver(store: ReturnType<typeof createSqliteStore>): Promise<SubjectResolver> {
  const r = new SubjectResolver(store.mappings, store.secrets);
  await r.prepare([table, claim, analytics, billing, noSector]);
  return r;
}

async function identity(sub: string, claims: Record<string, unknown> = {}, issuer = IDP): Promise<Identity> {
  return { principalId: await principalIdOf(issuer, sub), upstreamIssuer: issuer, upstreamSubject: sub, claims: { sub, ...claims } };
}

function ok(r: Resolution): Extract<Resolution, { ok: true }> {
  if (!r.ok) throw new Error(`expected a resolution, got ${r.reason}`);
  return r;
}

describe('SubjectResolver', () => {
  let store: BrokerStore;
  let resolver: SubjectResolver;

  /** What the token exchange does after a successful mint. */
  async function commit(ns: NamespaceConfig, who: Identity, r: Resolution, r2: SubjectResolver = resolver) {
    const res = ok(r);
    await store.commitMint({ ...(res.newBinding ? { binding: res.newBinding } : {}), audit: { at: NOW, event: 'mint', requestId: 'test' } });
    if (res.newBinding) r2.remember(ns, who, res.newBinding);
    return res;
  }

  const bindings = async (ns: string, principalId: string): Promise<SubjectBinding | undefined> => store.mappings.bindingOf(ns, principalId);

  beforeEach(async () => {
    store = createSqliteStore(openSqlite(':memory:'));
    resolver = await preparedResolver(store);
    await store.mappings.replaceTable(
      'todo-users',
      [
        { namespace: 'todo-users', upstreamIssuer: IDP, upstreamSubject: 'alice', subject: 'todo-user-1001' },
        { namespace: 'todo-users', upstreamIssuer: IDP, upstreamSubject: 'bob', subject: 'todo-user-1002' },
      ],
      { version: 1, hash: 'v1' },
    );
  });

  describe('table', () => {
    it('names the user by the table row, without writing a binding', async () => {
      const alice = await identity('alice');
      const r = ok(await resolver.resolve(table, alice, NOW));
      expect(r).toEqual({ ok: true, subject: 'todo-user-1001', decidedBy: 'todo-users/table' });
      expect(await bindings('todo-users', alice.principalId)).toBeUndefined();
    });

    it('refuses a user without a row (mapping_missing), never falling back', async () => {
      const r = await resolver.resolve(table, await identity('carol'), NOW);
      expect(r).toMatchObject({ ok: false, reason: 'mapping_missing' });
    });

    it('keys rows by issuer as well as subject', async () => {
      const r = await resolver.resolve(table, await identity('alice', {}, 'https://other-idp.test'), NOW);
      expect(r).toMatchObject({ ok: false, reason: 'mapping_missing' });
    });
  });

  describe('claim', () => {
    it('names the user by the claim and asks for a binding the first time', async () => {
      const alice = await identity('alice', { email: 'alice@example.com' });
      const r = ok(await resolver.resolve(claim, alice, NOW));
      expect(r.subject).toBe('alice@example.com');
      expect(r.newBinding).toEqual({ namespace: 'crm-users', principalId: alice.principalId, subject: 'alice@example.com', source: 'claim', version: 1, createdAt: NOW, upstreamIssuer: alice.upstreamIssuer });
      expect(r.decidedBy).toBe('crm-users/claim@v1');
    });

    it('does not write anything itself: the binding is the mint’s to commit', async () => {
      const alice = await identity('alice', { email: 'alice@example.com' });
      await resolver.resolve(claim, alice, NOW);
      expect(await bindings('crm-users', alice.principalId)).toBeUndefined();
      // Uncommitted, so it is asked for again.
      expect(ok(await resolver.resolve(claim, alice, NOW)).newBinding).toBeDefined();
    });

    it('after the binding is committed, resolves to it without a new binding', async () => {
      const alice = await identity('alice', { email: 'alice@example.com' });
      await commit(claim, alice, await resolver.resolve(claim, alice, NOW));
      const fresh = await preparedResolver(store);
      const r = ok(await fresh.resolve(claim, alice, NOW + 10));
      expect(r).toEqual({ ok: true, subject: 'alice@example.com', decidedBy: 'crm-users/claim@v1' });
    });

    it('refuses a missing claim (mapping_claim_missing)', async () => {
      expect(await resolver.resolve(claim, await identity('alice'), NOW)).toMatchObject({ ok: false, reason: 'mapping_claim_missing' });
    });

    it('refuses an empty, non-string or oversized claim', async () => {
      for (const email of ['', 42, { a: 1 }, 'x'.repeat(256)]) {
        expect(await resolver.resolve(claim, await identity('alice', { email }), NOW)).toMatchObject({ ok: false, reason: 'mapping_claim_missing' });
      }
    });

    it('refuses a claim with several values (mapping_ambiguous)', async () => {
      expect(await resolver.resolve(claim, await identity('alice', { email: ['a@example.com', 'b@example.com'] }), NOW)).toMatchObject({
        ok: false,
        reason: 'mapping_ambiguous',
      });
    });

    it('refuses a changed claim for a bound principal (mapping_changed), keeping the old binding', async () => {
      const alice = await identity('alice', { email: 'alice@example.com' });
      await commit(claim, alice, await resolver.resolve(claim, alice, NOW));
      const changed = await identity('alice', { email: 'alice.new@example.com' });
      const r = await (await preparedResolver(store)).resolve(claim, changed, NOW);
      expect(r).toMatchObject({ ok: false, reason: 'mapping_changed' });
      expect((await bindings('crm-users', alice.principalId))?.subject).toBe('alice@example.com');
    });

    it('the cache does not hide a changed claim', async () => {
      const alice = await identity('alice', { email: 'alice@example.com' });
      await commit(claim, alice, await resolver.resolve(claim, alice, NOW));
      // Warm: served from the cache now.
      expect(ok(await resolver.resolve(claim, alice, NOW)).subject).toBe('alice@example.com');
      const changed = await identity('alice', { email: 'alice.new@example.com' });
      expect(await resolver.resolve(claim, changed, NOW)).toMatchObject({ ok: false, reason: 'mapping_changed' });
      // And the old value still resolves.
      expect(ok(await resolver.resolve(claim, alice, NOW)).subject).toBe('alice@example.com');
    });

    it('the cache does not hide a claim that disappeared', async () => {
      const alice = await identity('alice', { email: 'alice@example.com' });
      await commit(claim, alice, await resolver.resolve(claim, alice, NOW));
      expect(await resolver.resolve(claim, await identity('alice'), NOW)).toMatchObject({ ok: false, reason: 'mapping_claim_missing' });
    });

    it('refuses a second principal claiming a bound value (mapping_ambiguous)', async () => {
      const alice = await identity('alice', { email: 'shared@example.com' });
      await commit(claim, alice, await resolver.resolve(claim, alice, NOW));
      const bob = await identity('bob', { email: 'shared@example.com' });
      expect(await resolver.resolve(claim, bob, NOW)).toMatchObject({ ok: false, reason: 'mapping_ambiguous' });
      expect(await bindings('crm-users', bob.principalId)).toBeUndefined();
      expect((await store.mappings.bindingOfSubject('crm-users', 'shared@example.com'))?.principalId).toBe(alice.principalId);
    });

    it('the same upstream subject at another issuer is another principal', async () => {
      const alice = await identity('alice', { email: 'alice@example.com' });
      await commit(claim, alice, await resolver.resolve(claim, alice, NOW));
      const impostor = await identity('alice', { email: 'alice@example.com' }, 'https://other-idp.test');
      expect(await resolver.resolve(claim, impostor, NOW)).toMatchObject({ ok: false, reason: 'mapping_ambiguous' });
    });

    it('an operator remap is honoured and versioned', async () => {
      const alice = await identity('alice', { email: 'alice@example.com' });
      await commit(claim, alice, await resolver.resolve(claim, alice, NOW));
      await store.mappings.remap({ namespace: 'crm-users', principalId: alice.principalId, subject: 'alice.new@example.com', source: 'operator' }, NOW + 1);
      const changed = await identity('alice', { email: 'alice.new@example.com' });
      const r = ok(await (await preparedResolver(store)).resolve(claim, changed, NOW + 2));
      expect(r).toEqual({ ok: true, subject: 'alice.new@example.com', decidedBy: 'crm-users/operator@v2' });
    });
  });

  describe('pairwise', () => {
    it('derives an opaque subject and binds it once', async () => {
      const alice = await identity('alice');
      const first = ok(await resolver.resolve(analytics, alice, NOW));
      expect(first.subject).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(first.subject).not.toContain('alice');
      expect(first.newBinding).toMatchObject({ namespace: 'analytics-users', source: 'pairwise', version: 1, subject: first.subject });
      await commit(analytics, alice, first);
      const again = ok(await (await preparedResolver(store)).resolve(analytics, alice, NOW + 5));
      expect(again).toEqual({ ok: true, subject: first.subject, decidedBy: 'analytics-users/pairwise@v1' });
    });

    it('is stable across calls before the binding is committed', async () => {
      const alice = await identity('alice');
      const a = ok(await resolver.resolve(analytics, alice, NOW));
      const b = ok(await (await preparedResolver(store)).resolve(analytics, alice, NOW + 1));
      expect(b.subject).toBe(a.subject);
    });

    it('differs across sectors and across principals', async () => {
      const alice = await identity('alice');
      const bob = await identity('bob');
      const inAnalytics = ok(await resolver.resolve(analytics, alice, NOW)).subject;
      const inBilling = ok(await resolver.resolve(billing, alice, NOW)).subject;
      const bobInAnalytics = ok(await resolver.resolve(analytics, bob, NOW)).subject;
      expect(inAnalytics).not.toBe(inBilling);
      expect(bobInAnalytics).not.toBe(inAnalytics);
    });

    it('uses the namespace as sector when none is given', async () => {
      const alice = await identity('alice');
      const r = ok(await resolver.resolve(noSector, alice, NOW));
      const secret = await store.secrets.getOrCreate('pairwise:reports-users', () => 'unused');
      expect(r.subject).toBe(await pairwise(secret, 'reports-users', alice.principalId));
    });

    it('keeps one secret per namespace in the store (first writer wins)', async () => {
      const alice = await identity('alice');
      await resolver.resolve(analytics, alice, NOW);
      const secret = await store.secrets.getOrCreate('pairwise:analytics-users', () => 'other');
      expect(secret).not.toBe('other');
      expect(ok(await resolver.resolve(analytics, alice, NOW)).subject).toBe(await pairwise(secret, 'analytics.test', alice.principalId));
    });

    it('a committed binding wins over the derivation', async () => {
      const alice = await identity('alice');
      await store.mappings.remap({ namespace: 'analytics-users', principalId: alice.principalId, subject: 'legacy-42', source: 'operator' }, NOW);
      expect(ok(await resolver.resolve(analytics, alice, NOW))).toEqual({ ok: true, subject: 'legacy-42', decidedBy: 'analytics-users/operator@v1' });
    });
  });

  describe('a first binding committed by another instance between the resolver\'s reads', () => {
    /**
     * A resolver whose store answers "no binding for this principal", and then, before the
     * subject index is read, sees another instance commit the same person's first binding.
     */
    async function racedResolver(ns: NamespaceConfig, who: Identity): Promise<SubjectResolver> {
      const other = await preparedResolver(store);
      const winner = ok(await other.resolve(ns, who, NOW));
      let raced = false;
      const mappings = {
        ...store.mappings,
        bindingOfSubject: async (namespace: string, subject: string) => {
          if (!raced) {
            raced = true;
            await commit(ns, who, winner, other);
          }
          return store.mappings.bindingOfSubject(namespace, subject);
        },
      };
      const r = new SubjectResolver(mappings, store.secrets);
      await r.prepare([ns]);
      return r;
    }

    it('pairwise: the same person\'s binding is theirs, not an ambiguity (nothing left to write)', async () => {
      const alice = await identity('alice');
      const r = ok(await (await racedResolver(analytics, alice)).resolve(analytics, alice, NOW));
      expect(r).toEqual({ ok: true, subject: (await bindings('analytics-users', alice.principalId))!.subject, decidedBy: 'analytics-users/pairwise@v1' });
    });

    it('claim: the same person\'s binding is theirs, not an ambiguity (nothing left to write)', async () => {
      const alice = await identity('alice', { email: 'alice@example.com' });
      const r = ok(await (await racedResolver(claim, alice)).resolve(claim, alice, NOW));
      expect(r).toEqual({ ok: true, subject: 'alice@example.com', decidedBy: 'crm-users/claim@v1' });
    });

    it('claim: another person\'s binding of the value is still refused (mapping_ambiguous)', async () => {
      const alice = await identity('alice', { email: 'shared@example.com' });
      const bob = await identity('bob', { email: 'shared@example.com' });
      const other = await preparedResolver(store);
      const winner = ok(await other.resolve(claim, alice, NOW));
      const mappings = {
        ...store.mappings,
        bindingOfSubject: async (namespace: string, subject: string) => {
          await commit(claim, alice, winner, other);
          return store.mappings.bindingOfSubject(namespace, subject);
        },
      };
      const r = new SubjectResolver(mappings, store.secrets);
      expect(await r.resolve(claim, bob, NOW)).toMatchObject({ ok: false, reason: 'mapping_ambiguous' });
    });
  });

  describe('a mapping write by another instance while a resolution is in flight', () => {
    const aliceRenamed = [{ namespace: 'todo-users', upstreamIssuer: IDP, upstreamSubject: 'alice', subject: 'todo-user-2001' }];

    it('a table row read before a table replacement is not cached past it (a concurrent request already saw the new generation)', async () => {
      const alice = await identity('alice');
      const bob = await identity('bob');
      let r!: SubjectResolver;
      let raced = false;
      const mappings = {
        ...store.mappings,
        tableRow: async (namespace: string, iss: string, sub: string) => {
          const row = await store.mappings.tableRow(namespace, iss, sub);
          if (!raced) {
            raced = true;
            // Another instance replaces the table; a concurrent request here then syncs to its generation.
            await store.mappings.replaceTable('todo-users', aliceRenamed, { version: 2, hash: 'v2' });
            await r.resolve(table, bob, NOW);
          }
          return row;
        },
      };
      r = new SubjectResolver(mappings, store.secrets);
      // The request in flight answers from what it read before the write: that much is a race it may lose.
      expect(ok(await r.resolve(table, alice, NOW)).subject).toBe('todo-user-1001');
      // The next request must not be answered from it.
      expect(ok(await r.resolve(table, alice, NOW + 1)).subject).toBe('todo-user-2001');
    });

    it('a new binding remembered after an operator remap that a concurrent request already saw is not cached', async () => {
      const alice = await identity('alice', { email: 'alice@example.com' });
      const bob = await identity('bob', { email: 'bob@example.com' });
      const first = ok(await resolver.resolve(claim, alice, NOW));
      await store.commitMint({ binding: first.newBinding!, audit: { at: NOW, event: 'mint', requestId: 'test' } });
      // Between the mint's commit and its remember(): an operator remap elsewhere, seen by a concurrent request here.
      await store.mappings.remap({ namespace: 'crm-users', principalId: alice.principalId, subject: 'alice.renamed@example.com', source: 'operator' }, NOW + 1);
      await resolver.resolve(claim, bob, NOW + 1);
      resolver.remember(claim, alice, first.newBinding!);
      // The upstream still says alice@example.com, the binding now differs: refused, never the old subject.
      expect(await resolver.resolve(claim, alice, NOW + 2)).toMatchObject({ ok: false, reason: 'mapping_changed' });
    });
  });

  it('pairwise() is HMAC-SHA256(secret, sector \\n principal) in base64url', async () => {
    const secret = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const a = await pairwise(secret, 's1', 'p');
    expect(a).toBe(await pairwise(secret, 's1', 'p'));
    expect(a).not.toBe(await pairwise(secret, 's2', 'p'));
    expect(a).not.toBe(await pairwise('BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 's1', 'p'));
  });
});

describe('SubjectResolver: saml_subject (migrated SAML apps)', () => {
  const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
  const TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
  const legacy: NamespaceConfig = { namespace: 'legacy-app', strategy: 'saml_subject', subject_source: { kind: 'persistent_nameid' } };
  const withSaml = async (sub: string, nameId: string, format = PERSISTENT) => ({
    ...(await identity(sub)),
    saml: { assertionId: `_a${Math.random()}`, nameId: { value: nameId, format }, attributes: [] },
  });
  let store: ReturnType<typeof createSqliteStore>;
  let resolver: SubjectResolver;
  beforeEach(async () => {
    store = createSqliteStore(openSqlite(':memory:'));
    resolver = await preparedResolver(store);
  });

  it('binds the persistent NameID the app used to receive as its sub', async () => {
    const r = ok(await resolver.resolve(legacy, await withSaml('alice', 'AbC123-persistent'), NOW));
    expect(r.subject).toBe('AbC123-persistent');
    expect(r.newBinding).toMatchObject({ source: 'saml_subject', subject: 'AbC123-persistent' });
  });

  it('never makes a transient NameID the sub', async () => {
    const r = await resolver.resolve(legacy, await withSaml('alice', '_3f9a2', TRANSIENT), NOW);
    expect(r).toMatchObject({ ok: false, reason: 'mapping_claim_missing' });
  });

  it('refuses a changed NameID for the same person until an operator remaps', async () => {
    const first = ok(await resolver.resolve(legacy, await withSaml('alice', 'old-id'), NOW));
    await store.commitMint({ binding: first.newBinding!, audit: { at: NOW, event: 'login', requestId: 'r' } });
    const r = await resolver.resolve(legacy, await withSaml('alice', 'new-id'), NOW + 1);
    expect(r).toMatchObject({ ok: false, reason: 'mapping_changed' });
  });

  it('answers from the binding when the request carries no SAML evidence, and refuses without one', async () => {
    const first = ok(await resolver.resolve(legacy, await withSaml('alice', 'kept-id'), NOW));
    await store.commitMint({ binding: first.newBinding!, audit: { at: NOW, event: 'login', requestId: 'r' } });
    expect(ok(await resolver.resolve(legacy, await identity('alice'), NOW + 1)).subject).toBe('kept-id');
    expect(await resolver.resolve(legacy, await identity('bob'), NOW + 1)).toMatchObject({ ok: false, reason: 'mapping_missing' });
  });
});
