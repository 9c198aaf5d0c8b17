/**
 * subject_token_type saml2: a SAML assertion the upstream IdP (samlify, with keys made here) issued
 * to the app, presented base64url-encoded. The ACS's checks apply through the same code; the
 * Audience must be the one configured for the authenticated client at that connection; the
 * assertion ID is single use; the person is the principal a login through that connection yields.
 * Every rule broken alone, through the token endpoint.
 */
import { decodeJwt } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { principalIdOf } from '../../src/mapping/principal.js';
import { samlReplayScope } from '../../src/upstream/saml/index.js';
import type { TestBroker } from '../helpers/broker.js';
import { ALG, defaultSpec, harness, idpResponse, PPT, testKeys, TRANSIENT } from '../upstream/saml/helpers.js';
import {
  ALICE_NAMEID,
  ALICE_TODO_VIA_SAML,
  appAssertionToken,
  appResponseXml,
  appSpec,
  assertionOf,
  BASIC_SP,
  exchange,
  exchangeBody,
  expectRefused,
  IDP_ENTITY,
  minted,
  NOW,
  SAML2_TYPE,
  saml2Token,
  SP_ENTITY,
  startSubjectTokenBroker,
  TODO,
} from './subject-token-helpers.js';

const EMPLOYEE_NUMBER = 'urn:oid:2.16.840.1.113730.3.1.3';
const withEmployeeNumber = () => [...defaultSpec().attributes, { name: EMPLOYEE_NUMBER, values: ['E-1001'] }];

describe('saml2 as the subject token', () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startSubjectTokenBroker();
  });

  describe('what it mints', () => {
    it('an ID-JAG for the person the assertion names, with the login facts of its AuthnStatement', async () => {
      const spec = appSpec();
      const body = await minted(await exchange(b, await appAssertionToken(spec), SAML2_TYPE));
      const claims = decodeJwt(body.access_token);
      expect(claims).toMatchObject({ sub: ALICE_TODO_VIA_SAML, aud: TODO, client_id: 'wiki-at-todo', auth_time: spec.authnInstant, acr: PPT, amr: ['pwd'], email: 'alice@example.com' });
      expect(claims).not.toHaveProperty('sub_id');
      const [record] = await b.services.store.audit.recent(1);
      expect(record).toMatchObject({ event: 'mint', upstreamIssuer: IDP_ENTITY, principalId: await principalIdOf(IDP_ENTITY, ALICE_NAMEID), mapping: 'todo-users/table' });
    });

    it('accepts the Response the app received, as well as the bare Assertion', async () => {
      await minted(await exchange(b, saml2Token(await appResponseXml()), SAML2_TYPE));
    });

    it('records the assertion ID until the assertion expires, in the scope the ACS uses', async () => {
      const spec = appSpec();
      await minted(await exchange(b, await appAssertionToken(spec), SAML2_TYPE));
      const row = b.db.prepare('SELECT * FROM replay WHERE id = ?').get(spec.assertionId) as Record<string, unknown> | undefined;
      expect(row).toMatchObject({ scope: samlReplayScope(IDP_ENTITY) });
      expect(row!.expires_at).toBeGreaterThanOrEqual(spec.notOnOrAfter);
    });

    it('keys the person exactly as a login through the connection does (principal_key), so they are the same principal', async () => {
      const byAttribute = await startSubjectTokenBroker({ connection: { principal_key: `attribute:${EMPLOYEE_NUMBER}` } });
      const spec = appSpec({ attributes: withEmployeeNumber() });
      await minted(await exchange(byAttribute, await appAssertionToken(spec), SAML2_TYPE, { audience: 'https://crm.test', resource: 'https://api.crm.test/', scope: 'contacts.read' }));
      const [record] = await byAttribute.services.store.audit.recent(1);

      // The same person logging in through the same connection (its ACS, the SAML module's own path).
      const h = await harness({ principal_key: `attribute:${EMPLOYEE_NUMBER}`, allow_idp_initiated: true });
      const { identity } = await h.conn.consumeResponse({ SAMLResponse: await idpResponse(defaultSpec({ attributes: withEmployeeNumber() })) }, {});
      expect(identity.subject).toBe('E-1001');
      expect(record!.principalId).toBe(await principalIdOf(identity.issuer, identity.subject));
    });

    it('accepts a Response signed only at the Response level where the connection asks for exactly that', async () => {
      const responseSigned = await startSubjectTokenBroker({ connection: { want_assertions_signed: false, want_response_signed: true } });
      await minted(await exchange(responseSigned, saml2Token(await appResponseXml(appSpec(), { signAssertion: false, signResponse: true })), SAML2_TYPE));
    });
  });

  describe('refusals (each breaks one rule)', () => {
    it('no SAML verifier in this runtime (Workers) → unsupported_token_type', async () => {
      const worker = await startSubjectTokenBroker({ withoutSamlVerifier: true });
      await expectRefused(worker, exchangeBody(await appAssertionToken(), SAML2_TYPE), { error: 'unsupported_token_type', reason: 'unsupported_token_type' });
    });

    it('base64 rather than base64url (RFC 8693 §3) → invalid_grant (token_malformed)', async () => {
      const standard = Buffer.from(assertionOf(await appResponseXml())).toString('base64');
      expect(standard).toMatch(/[+/]/);
      await expectRefused(b, exchangeBody(standard, SAML2_TYPE), { error: 'invalid_grant', reason: 'token_malformed', detail: 'token_not_base64url' });
    });

    it('a DOCTYPE → invalid_grant (token_malformed)', async () => {
      const xml = `<!DOCTYPE saml:Assertion [<!ENTITY x "x">]>${assertionOf(await appResponseXml())}`;
      await expectRefused(b, exchangeBody(saml2Token(xml), SAML2_TYPE), { error: 'invalid_grant', reason: 'token_malformed', detail: 'doctype_present' });
    });

    it('a document that is neither an Assertion nor a Response → invalid_grant (token_malformed)', async () => {
      const xml = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"/>`;
      await expectRefused(b, exchangeBody(saml2Token(xml), SAML2_TYPE), { error: 'invalid_grant', reason: 'token_malformed', detail: 'not_an_assertion' });
    });

    it('content outside the assertion element → invalid_grant (token_malformed)', async () => {
      const xml = `<!-- hello -->${assertionOf(await appResponseXml())}`;
      await expectRefused(b, exchangeBody(saml2Token(xml), SAML2_TYPE), { error: 'invalid_grant', reason: 'token_malformed', detail: 'content_outside_assertion' });
    });

    it('two assertions in the Response → invalid_grant (multiple_assertions)', async () => {
      const response = await appResponseXml();
      const assertion = assertionOf(response);
      const second = assertion.replace(/ID="[^"]+"/, 'ID="_second"');
      const xml = response.replace(assertion, assertion + second);
      await expectRefused(b, exchangeBody(saml2Token(xml), SAML2_TYPE), { error: 'invalid_grant', reason: 'saml_assertion_invalid', detail: 'multiple_assertions' });
    });

    it('an assertion nested inside the bare assertion → invalid_grant (multiple_assertions)', async () => {
      const assertion = assertionOf(await appResponseXml());
      const inner = assertionOf(await appResponseXml());
      const xml = assertion.replace('</saml:Subject>', `</saml:Subject><saml:Advice>${inner}</saml:Advice>`);
      await expectRefused(b, exchangeBody(saml2Token(xml), SAML2_TYPE), { error: 'invalid_grant', reason: 'saml_assertion_invalid', detail: 'multiple_assertions' });
    });

    it('an unsigned assertion → invalid_grant (signature_invalid)', async () => {
      const xml = assertionOf(await appResponseXml(appSpec(), { signAssertion: false }));
      await expectRefused(b, exchangeBody(saml2Token(xml), SAML2_TYPE), { error: 'invalid_grant', reason: 'signature_invalid', detail: 'assertion_unsigned' });
    });

    it('a bare assertion without its own signature, even where the connection accepts Response-only signatures → invalid_grant', async () => {
      const responseSigned = await startSubjectTokenBroker({ connection: { want_assertions_signed: false, want_response_signed: true } });
      const xml = assertionOf(await appResponseXml(appSpec(), { signAssertion: false, signResponse: true }));
      await expectRefused(responseSigned, exchangeBody(saml2Token(xml), SAML2_TYPE), { error: 'invalid_grant', reason: 'signature_invalid', detail: 'assertion_unsigned' });
    });

    it('signed with a key the IdP metadata does not list (certificate in KeyInfo) → invalid_grant (signature_invalid)', async () => {
      const { attacker } = await testKeys();
      await expectRefused(b, exchangeBody(await appAssertionToken(appSpec(), { key: attacker }), SAML2_TYPE), { error: 'invalid_grant', reason: 'signature_invalid', detail: 'signature_untrusted' });
    });

    it('content changed after signing (another NameID) → invalid_grant (signature_invalid)', async () => {
      const xml = assertionOf(await appResponseXml()).replace(ALICE_NAMEID, 'mallory-persistent-id');
      await expectRefused(b, exchangeBody(saml2Token(xml), SAML2_TYPE), { error: 'invalid_grant', reason: 'signature_invalid' });
    });

    it('an RSA-SHA1 signature → invalid_grant (alg_not_allowed)', async () => {
      await expectRefused(b, exchangeBody(await appAssertionToken(appSpec(), { signatureAlgorithm: ALG.rsaSha1 }), SAML2_TYPE), { error: 'invalid_grant', reason: 'alg_not_allowed' });
    });

    it('an Issuer that is no SAML connection of the broker → invalid_grant (issuer_untrusted)', async () => {
      await expectRefused(b, exchangeBody(await appAssertionToken(appSpec({ issuer: 'https://other-idp.example.test/metadata' })), SAML2_TYPE), {
        error: 'invalid_grant',
        reason: 'issuer_untrusted',
        detail: 'issuer_unknown',
      });
    });

    it('the Audience is the broker’s own SP entity id (a login assertion) → invalid_grant (aud_mismatch)', async () => {
      await expectRefused(b, exchangeBody(await appAssertionToken(appSpec({ audience: SP_ENTITY })), SAML2_TYPE), { error: 'invalid_grant', reason: 'aud_mismatch', detail: 'audience_mismatch' });
    });

    it('the Audience of another client → invalid_grant (aud_mismatch)', async () => {
      await expectRefused(b, exchangeBody(await appAssertionToken(appSpec({ audience: BASIC_SP })), SAML2_TYPE), { error: 'invalid_grant', reason: 'aud_mismatch', detail: 'audience_mismatch' });
    });

    it('a client with no Audience configured at that connection → invalid_grant (aud_mismatch)', async () => {
      const unconfigured = await startSubjectTokenBroker({ settings: (s) => void (s.clients!.find((c) => c.client_id === 'wiki-agent')!.saml_audiences = {}) });
      await expectRefused(unconfigured, exchangeBody(await appAssertionToken(), SAML2_TYPE), { error: 'invalid_grant', reason: 'aud_mismatch', detail: 'audience_not_configured' });
    });

    it('expired (Conditions NotOnOrAfter passed) → invalid_grant (expired)', async () => {
      const token = await appAssertionToken(appSpec({ notOnOrAfter: NOW + 60, scdNotOnOrAfter: NOW + 600 }));
      const late = await startSubjectTokenBroker();
      late.clock.now = NOW + 60 + 180;
      await expectRefused(late, exchangeBody(token, SAML2_TYPE), { error: 'invalid_grant', reason: 'expired', detail: 'saml expired' });
    });

    it('the bearer confirmation expired (Conditions still valid) → invalid_grant (expired)', async () => {
      const token = await appAssertionToken(appSpec({ notOnOrAfter: NOW + 600, scdNotOnOrAfter: NOW - 300 }));
      await expectRefused(b, exchangeBody(token, SAML2_TYPE), { error: 'invalid_grant', reason: 'expired', detail: 'confirmation_expired' });
    });

    it('not yet valid (Conditions NotBefore ahead) → invalid_grant (not_yet_valid)', async () => {
      await expectRefused(b, exchangeBody(await appAssertionToken(appSpec({ notBefore: NOW + 600 })), SAML2_TYPE), { error: 'invalid_grant', reason: 'not_yet_valid' });
    });

    it('a Response whose Destination is not where its assertion was addressed → invalid_grant (destination_mismatch)', async () => {
      const xml = await appResponseXml(appSpec({ destination: 'https://elsewhere.example.test/acs' }), { signAssertion: true, signResponse: true });
      await expectRefused(b, exchangeBody(saml2Token(xml), SAML2_TYPE), { error: 'invalid_grant', reason: 'saml_assertion_invalid', detail: 'destination_mismatch' });
    });

    it('a transient NameID where the connection keys people on the persistent NameID → invalid_grant (principal_nameid_format)', async () => {
      await expectRefused(b, exchangeBody(await appAssertionToken(appSpec({ nameIdFormat: TRANSIENT, nameId: '_transient-7' })), SAML2_TYPE), {
        error: 'invalid_grant',
        reason: 'saml_assertion_invalid',
        detail: 'principal_nameid_format',
      });
    });

    it('an AuthnContext the connection does not accept → invalid_grant (authn_context_mismatch)', async () => {
      const strict = await startSubjectTokenBroker({ connection: { authn_context: ['https://refeds.org/profile/mfa'] } });
      await expectRefused(strict, exchangeBody(await appAssertionToken(), SAML2_TYPE), { error: 'invalid_grant', reason: 'saml_assertion_invalid', detail: 'authn_context_mismatch' });
    });

    it('an assertion encrypted to the app (the broker cannot read it) → invalid_grant (encrypted_assertion_unexpected)', async () => {
      const xml = await appResponseXml(appSpec(), { encrypt: true, signResponse: true });
      await expectRefused(b, exchangeBody(saml2Token(xml), SAML2_TYPE), { error: 'invalid_grant', reason: 'saml_assertion_invalid', detail: 'encrypted_assertion_unexpected' });
    });
  });

  describe('single use', () => {
    it('a replayed assertion → invalid_grant (subject_token_replayed)', async () => {
      const token = await appAssertionToken();
      await minted(await exchange(b, token, SAML2_TYPE));
      await expectRefused(b, exchangeBody(token, SAML2_TYPE), { error: 'invalid_grant', reason: 'subject_token_replayed' });
    });

    it('an assertion already used for a login at the broker’s ACS (same replay scope) → invalid_grant (subject_token_replayed)', async () => {
      const spec = appSpec();
      expect(await b.services.store.replay.consume(samlReplayScope(IDP_ENTITY), spec.assertionId, NOW + 600, b.clock.now)).toBe(true);
      await expectRefused(b, exchangeBody(await appAssertionToken(spec), SAML2_TYPE), { error: 'invalid_grant', reason: 'subject_token_replayed' });
    });

    it('a refused exchange does not burn the assertion: the same one then mints', async () => {
      const token = await appAssertionToken();
      await expectRefused(b, exchangeBody(token, SAML2_TYPE, { scope: 'no.such.scope' }), { error: 'invalid_scope', reason: 'scope_untranslatable' });
      await minted(await exchange(b, token, SAML2_TYPE));
    });

    it('of two concurrent exchanges of one assertion, exactly one mints', async () => {
      const token = await appAssertionToken();
      const results = await Promise.all([exchange(b, token, SAML2_TYPE), exchange(b, token, SAML2_TYPE)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    });
  });
});
