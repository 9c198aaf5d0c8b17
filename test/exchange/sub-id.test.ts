/**
 * sub_id (RFC 9493) for a destination that keys users on SAML NameIDs: the person's persistent
 * NameID with its issuer, Format and qualifiers, in exactly the shape the destination kit accepts;
 * refused when the person has no such evidence. Through the token endpoint, then the kit.
 */
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createIdJagVerifier, MemoryReplayStore, validateIdJagClaims } from '../../src/destination/index.js';
import type { TestBroker } from '../helpers/broker.js';
import { exchangeParams, postToken } from '../helpers/broker.js';
import { EMAIL, PERSISTENT, TRANSIENT } from '../upstream/saml/helpers.js';
import {
  ALICE_NAMEID,
  appAssertionToken,
  appSpec,
  BROKER,
  exchange,
  exchangeBody,
  expectRefused,
  IDP_ENTITY,
  issueRefreshToken,
  legacy,
  LEGACY,
  login,
  minted,
  REFRESH_TOKEN_TYPE,
  SAML2_TYPE,
  startSubjectTokenBroker,
  WIKI_SP,
} from './subject-token-helpers.js';

const CRM = { audience: 'https://crm.test', resource: 'https://api.crm.test/', scope: 'contacts.read' } as const;

/** SAML evidence of a login, as the principal record keeps it. */
function samlEvidence(nameId: { value: string; format?: string; nameQualifier?: string; spNameQualifier?: string }) {
  return { assertionId: '_login-assertion', nameId, attributes: [] };
}

describe('sub_id: saml-nameid', () => {
  let b: TestBroker;
  beforeAll(async () => {
    // crm (claim namespace: email) also asks for sub_id here, so that people without SAML
    // evidence can be named there and only the sub_id rule decides.
    b = await startSubjectTokenBroker({ settings: (s) => void (s.destinations!.find((d) => d.id === 'crm')!.sub_id = 'saml-nameid') });
  });

  it('carries the NameID of the presented assertion, with its issuer, Format and qualifiers; sub stays the namespace subject', async () => {
    const body = await minted(await exchange(b, await appAssertionToken(), SAML2_TYPE, legacy));
    const claims = decodeJwt(body.access_token);
    expect(claims.sub).toBe(ALICE_NAMEID);
    expect(claims.sub_id).toEqual({ format: 'saml-nameid', issuer: IDP_ENTITY, nameid: ALICE_NAMEID, nameid_format: PERSISTENT, name_qualifier: IDP_ENTITY, sp_name_qualifier: WIKI_SP });
  });

  it('is what the destination kit accepts and hands back unchanged', async () => {
    const body = await minted(await exchange(b, await appAssertionToken(), SAML2_TYPE, legacy));
    const sent = decodeJwt(body.access_token).sub_id;
    const verify = createIdJagVerifier({ audience: LEGACY, trustedIssuers: [{ issuer: BROKER, jwks: b.services.keys.jwks() as never }], replayStore: new MemoryReplayStore(), now: () => new Date(b.clock.now * 1000) });
    const claims = await verify(body.access_token, { clientId: 'wiki-at-legacy' });
    expect(claims.sub_id).toEqual(sent);
    const { payload, protectedHeader } = await jwtVerify(body.access_token, createLocalJWKSet(b.services.keys.jwks() as never));
    expect(validateIdJagClaims(protectedHeader, payload, { audience: LEGACY, clientId: 'wiki-at-legacy', issuers: [BROKER] }, new Date(b.clock.now * 1000))).toMatchObject({ ok: true });
  });

  it('omits qualifiers the NameID does not have', async () => {
    const spec = appSpec();
    delete spec.nameQualifier;
    delete spec.spNameQualifier;
    const body = await minted(await exchange(b, await appAssertionToken(spec), SAML2_TYPE, legacy));
    expect(decodeJwt(body.access_token).sub_id).toEqual({ format: 'saml-nameid', issuer: IDP_ENTITY, nameid: ALICE_NAMEID, nameid_format: PERSISTENT });
  });

  it('comes from the principal’s SAML login evidence for a refresh token (or a broker ID token)', async () => {
    const l = await login(b, {
      principal: { upstreamIssuer: IDP_ENTITY, upstreamSubject: ALICE_NAMEID, saml: samlEvidence({ value: ALICE_NAMEID, format: PERSISTENT, nameQualifier: IDP_ENTITY, spNameQualifier: 'https://broker.example.test/saml/sp' }) },
    });
    const { token } = await issueRefreshToken(b, l);
    const body = await minted(await exchange(b, token, REFRESH_TOKEN_TYPE, legacy));
    expect(decodeJwt(body.access_token).sub_id).toEqual({
      format: 'saml-nameid',
      issuer: IDP_ENTITY,
      nameid: ALICE_NAMEID,
      nameid_format: PERSISTENT,
      name_qualifier: IDP_ENTITY,
      sp_name_qualifier: 'https://broker.example.test/saml/sp',
    });
  });

  it('is not emitted for a destination that does not ask for it, SAML evidence or not', async () => {
    const body = await minted(await exchange(b, await appAssertionToken(), SAML2_TYPE));
    expect(decodeJwt(body.access_token)).not.toHaveProperty('sub_id');
  });

  describe('refusals (each breaks one rule)', () => {
    it('a person with no SAML evidence (an OIDC upstream login) → invalid_grant (sub_id_evidence_missing)', async () => {
      await expectRefused(b, (await exchangeParams(b, { ...CRM })) as Record<string, string>, { error: 'invalid_grant', reason: 'sub_id_evidence_missing' });
      // The same exchange without sub_id at crm would mint: the namespace names the person.
      const plain = await startSubjectTokenBroker();
      expect((await postToken(plain, await exchangeParams(plain, { ...CRM }))).status).toBe(200);
    });

    it('a transient NameID → invalid_grant (sub_id_nameid_not_persistent)', async () => {
      const l = await login(b, { principal: { upstreamIssuer: IDP_ENTITY, upstreamSubject: 'E-7', saml: samlEvidence({ value: '_t-9', format: TRANSIENT }) } });
      const { token } = await issueRefreshToken(b, l);
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE, CRM), { error: 'invalid_grant', reason: 'sub_id_nameid_not_persistent', detail: TRANSIENT });
    });

    it('an email NameID → invalid_grant (sub_id_nameid_not_persistent)', async () => {
      const l = await login(b, { principal: { upstreamIssuer: IDP_ENTITY, upstreamSubject: 'E-8', saml: samlEvidence({ value: 'alice@example.com', format: EMAIL }) } });
      const { token } = await issueRefreshToken(b, l);
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE, CRM), { error: 'invalid_grant', reason: 'sub_id_nameid_not_persistent', detail: EMAIL });
    });

    it('a NameID without a Format → invalid_grant (sub_id_nameid_not_persistent)', async () => {
      const l = await login(b, { principal: { upstreamIssuer: IDP_ENTITY, upstreamSubject: 'E-9', saml: samlEvidence({ value: 'opaque-9' }) } });
      const { token } = await issueRefreshToken(b, l);
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE, CRM), { error: 'invalid_grant', reason: 'sub_id_nameid_not_persistent' });
    });

    it('a "persistent" NameID longer than SAML allows (256) → invalid_grant (sub_id_nameid_not_persistent)', async () => {
      const l = await login(b, { principal: { upstreamIssuer: IDP_ENTITY, upstreamSubject: 'E-10', saml: samlEvidence({ value: 'x'.repeat(257), format: PERSISTENT }) } });
      const { token } = await issueRefreshToken(b, l);
      await expectRefused(b, exchangeBody(token, REFRESH_TOKEN_TYPE, CRM), { error: 'invalid_grant', reason: 'sub_id_nameid_not_persistent' });
    });
  });
});
