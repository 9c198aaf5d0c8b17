import * as samlify from 'samlify';
import { describe, expect, it } from 'vitest';
import { registerSamlifyValidator, validateSamlSchema } from '../../src/runtime/node-saml-schema.js';
import { decode, defaultSpec, idpResponse, responseXml } from '../upstream/saml/helpers.js';

/**
 * The schema validator: xmllint (libxml2) compiled to WebAssembly, no Java, no native binary. These
 * run it for real on Node 20.
 */
describe('SAML schema validation (xmllint-wasm)', () => {
  it('accepts a signed response and a bare assertion', async () => {
    const signed = decode(await idpResponse(defaultSpec({ inResponseTo: '_r1' })));
    expect(await validateSamlSchema(signed)).toEqual({ valid: true });
    const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(signed)![0];
    expect(await validateSamlSchema(assertion)).toEqual({ valid: true });
  });

  it('reports a schema violation with xmllint\u2019s message', async () => {
    const xml = responseXml(defaultSpec()).replace(' Version="2.0" IssueInstant', ' IssueInstant');
    const result = await validateSamlSchema(xml);
    expect(result.valid).toBe(false);
    expect(result.error).toMatch(/Version/);
  });

  it('reports a document that is not well-formed as invalid rather than failing', async () => {
    const result = await validateSamlSchema('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">');
    expect(result.valid).toBe(false);
    expect(result.error).toBeTruthy();
  });

  it('refuses an element from no SAML schema as the root', async () => {
    expect((await validateSamlSchema('<html/>')).valid).toBe(false);
  });

  it('is what samlify runs: samlify refuses invalid messages through it', async () => {
    registerSamlifyValidator();
    const idp = samlify.IdentityProvider({
      entityID: 'https://idp.example.test/metadata',
      singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: 'https://idp.example.test/sso' }],
      singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: 'https://idp.example.test/slo' }],
    });
    const sp = samlify.ServiceProvider({ entityID: 'https://sp.example.test', assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: 'https://sp.example.test/acs' }] });
    const bad = Buffer.from('<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x"/>').toString('base64');
    await expect(idp.parseLoginRequest(sp, 'post', { body: { SAMLRequest: bad } })).rejects.toThrow(/ERR_SCHEMA_INVALID/);
  });
});
