import { describe, expect, it } from 'vitest';
import { inThreadVerifier } from '../../../src/upstream/saml/verifier.js';
import { IDP_ENTITY, NOW, harness, newId, testKeys } from './helpers.js';
import adfsStyle from '../../fixtures/saml/slo/adfs-style.xml?raw';
import keycloakStyle from '../../fixtures/saml/slo/keycloak-style.xml?raw';
import shibbolethStyle from '../../fixtures/saml/slo/shibboleth-style.xml?raw';
import { BOTH_BINDINGS, postLogoutRequest, redirectLogoutRequest, sloIdpMetadata } from './slo-helpers.js';

/**
 * LogoutRequests in the shapes common IdPs send (test/fixtures/saml/slo, written for the project):
 * each is accepted by HTTP-POST and HTTP-Redirect once signed, and read to the same NameID and
 * SessionIndex values.
 */

const SLO = 'https://broker.example.test/saml/slo/corp';
const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

// Imported as text (not read from disk) so this file runs on workerd too (vitest.workers.config.ts).
const FIXTURES: Record<string, string> = { 'adfs-style.xml': adfsStyle, 'shibboleth-style.xml': shibbolethStyle, 'keycloak-style.xml': keycloakStyle };

function fixture(name: string, id: string): string {
  return FIXTURES[name]!
    .trim()
    .replaceAll('{ID}', id)
    .replaceAll('{ISSUE_INSTANT}', iso(NOW - 1))
    .replaceAll('{NOT_ON_OR_AFTER}', iso(NOW + 60))
    .replaceAll('{DESTINATION}', SLO)
    .replaceAll('{ISSUER}', IDP_ENTITY);
}

const SHAPES = [
  { file: 'adfs-style.xml', nameId: { value: 'alice@corp.example', format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' }, sessionIndexes: ['_7c1f0a3e-adfs-session'] },
  {
    file: 'shibboleth-style.xml',
    nameId: { value: 'AAdzZWNyZXQxGnl0ZXN0LXRyYW5zaWVudA==', format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient', nameQualifier: IDP_ENTITY, spNameQualifier: 'https://broker.example.test/saml/sp' },
    sessionIndexes: ['_b8f2e6a1d4c3shibsession'],
  },
  { file: 'keycloak-style.xml', nameId: { value: 'alice', format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified' }, sessionIndexes: ['3c1bd43e-kc-1', '3c1bd43e-kc-2'] },
] as const;

describe('SAML SLO: LogoutRequest shapes of common IdPs', () => {
  for (const shape of SHAPES) {
    for (const binding of ['post', 'redirect'] as const) {
      it(`${shape.file} by HTTP-${binding === 'post' ? 'POST' : 'Redirect'}`, async () => {
        const keys = await testKeys();
        const h = await harness({ slo_url: SLO, idp_metadata_xml: sloIdpMetadata(keys.idp.cert, BOTH_BINDINGS), sp_signing: { private_key: keys.spSigning.key, certificate: keys.spSigning.cert } }, undefined, inThreadVerifier);
        const id = newId('_shape');
        const xml = fixture(shape.file, id);
        const sp = h.conn.spMetadata();
        const message =
          binding === 'post' ? { binding, form: postLogoutRequest(sp, xml, { key: keys.idp }) } : { binding, query: redirectLogoutRequest(sp, xml, { key: keys.idp, relayState: 'rs' }) };
        const got = await h.conn.logout!.receive(message, {});
        expect(got).toMatchObject({ kind: 'request', request: { id, nameId: shape.nameId, sessionIndexes: shape.sessionIndexes } });
      });
    }
  }
});
