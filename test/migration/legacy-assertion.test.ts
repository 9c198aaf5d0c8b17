import { describe, expect, it } from 'vitest';
import { parseLegacyAssertion } from '../../src/migration/legacy-assertion.js';
import { MigrationInputError } from '../../src/migration/xml.js';
import { assertion, NS_SAML, PERSISTENT, response, URI } from './fixtures.js';

const b64 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

describe('parseLegacyAssertion', () => {
  it('reads NameID with Format and qualifiers, and attributes in order', () => {
    const r = parseLegacyAssertion(assertion());
    expect(r.verified).toBe(false);
    expect(r.issuer).toBe('https://idp.example.com/idp');
    expect(r.assertionId).toBe('_a8f2c1d0-legacy');
    expect(r.nameId).toEqual({
      value: 'k7Qm2ZxP4vN9aWcR1tYe8uLs3Bo=',
      format: PERSISTENT,
      nameQualifier: 'https://idp.example.com/idp',
      spNameQualifier: 'https://expenses.example.com/saml/metadata',
    });
    expect(r.attributes.map((a) => a.friendlyName)).toEqual(['mail', 'givenName', 'sn', 'eduPersonEntitlement', 'costCenter']);
    expect(r.attributes[3]).toEqual({
      name: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.7',
      nameFormat: URI,
      friendlyName: 'eduPersonEntitlement',
      values: ['urn:example:expenses:approver', 'urn:example:expenses:submitter'],
    });
    expect(r.warnings).toEqual([]);
  });

  it('reads the assertion inside a Response', () => {
    expect(parseLegacyAssertion(response(assertion())).nameId?.value).toBe('k7Qm2ZxP4vN9aWcR1tYe8uLs3Bo=');
  });

  it('reads a base64 SAMLResponse form value', () => {
    expect(parseLegacyAssertion(b64(response(assertion()))).attributes).toHaveLength(5);
  });

  it('reads a URL-encoded base64 SAMLResponse form value', () => {
    expect(parseLegacyAssertion(encodeURIComponent(b64(response(assertion())))).attributes).toHaveLength(5);
  });

  it('refuses a DOCTYPE', () => {
    const xml = `<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e "k7Qm">]>\n${assertion({ nameId: '&e;' })}`;
    expect(() => parseLegacyAssertion(xml)).toThrow(/DOCTYPE/);
  });

  it('refuses a DOCTYPE inside base64', () => {
    expect(() => parseLegacyAssertion(b64(`<!DOCTYPE x SYSTEM "file:///etc/passwd">${assertion()}`))).toThrow(/DOCTYPE/);
  });

  it('reads NameID whole across a comment (comment injection)', () => {
    const r = parseLegacyAssertion(assertion({ nameId: 'ada@example.com<!-- -->.evil.example' }));
    expect(r.nameId?.value).toBe('ada@example.com.evil.example');
  });

  it('reads attribute values whole across a comment and CDATA', () => {
    const attrs = `<saml:Attribute Name="urn:oid:0.9.2342.19200300.100.1.3" NameFormat="${URI}"><saml:AttributeValue>ada@<!---->example.com<![CDATA[.evil]]></saml:AttributeValue></saml:Attribute>`;
    expect(parseLegacyAssertion(assertion({ attributes: attrs })).attributes[0]!.values).toEqual(['ada@example.com.evil']);
  });

  it('keeps a NameID without Format without inventing one', () => {
    expect(parseLegacyAssertion(assertion({ nameIdFormat: null })).nameId?.format).toBeUndefined();
  });

  it('refuses a document over the size limit before parsing it', () => {
    expect(() => parseLegacyAssertion(assertion({ attributes: `<!--${'x'.repeat(4 * 1024 * 1024)}-->` }))).toThrow(/larger than/);
  });

  it('refuses an ENTITY declaration even without DOCTYPE keyword in front', () => {
    expect(() => parseLegacyAssertion(`<!ENTITY x "y">${assertion()}`)).toThrow(/ENTITY/);
  });

  it('refuses malformed XML', () => {
    expect(() => parseLegacyAssertion('<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Subject>')).toThrow(MigrationInputError);
  });

  it('refuses something that is neither XML nor base64', () => {
    expect(() => parseLegacyAssertion('not an assertion!')).toThrow(/neither XML nor/);
  });

  it('refuses base64 of something that is not XML', () => {
    expect(() => parseLegacyAssertion(b64('hello world'))).toThrow(/not decode to XML/);
  });

  it('refuses another root element', () => {
    expect(() => parseLegacyAssertion('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>')).toThrow(/expected a saml:Assertion/);
  });

  it('refuses an Assertion in the wrong namespace', () => {
    expect(() => parseLegacyAssertion('<Assertion xmlns="urn:example:not-saml"/>')).toThrow(/expected a saml:Assertion/);
  });

  it('refuses a response with two assertions', () => {
    expect(() => parseLegacyAssertion(response(assertion() + assertion()))).toThrow(/more than one assertion/);
  });

  it('refuses a response with an encrypted assertion, saying what to do', () => {
    const encrypted = `<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>`;
    expect(() => parseLegacyAssertion(response(encrypted))).toThrow(/decrypted/);
  });

  it('refuses a response with no assertion', () => {
    expect(() => parseLegacyAssertion(response(''))).toThrow(/no assertion/);
  });

  it('does not take an assertion nested deeper than the response', () => {
    const nested = `<samlp:Extensions>${assertion()}</samlp:Extensions>`;
    expect(() => parseLegacyAssertion(response(nested))).toThrow(/no assertion/);
  });

  it('warns about an encrypted NameID', () => {
    const subject = `<saml:Subject><saml:EncryptedID><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedID></saml:Subject>`;
    const r = parseLegacyAssertion(assertion({ subject }));
    expect(r.nameId).toBeUndefined();
    expect(r.warnings.join('\n')).toMatch(/EncryptedID/);
  });

  it('reads a NameID-valued attribute (eduPersonTargetedID) as its text', () => {
    const attrs = `<saml:Attribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.10" NameFormat="${URI}"><saml:AttributeValue><saml:NameID Format="${PERSISTENT}">X9vQ2e</saml:NameID></saml:AttributeValue></saml:Attribute>`;
    expect(parseLegacyAssertion(assertion({ attributes: attrs })).attributes[0]!.values).toEqual(['X9vQ2e']);
  });

  it('skips a nil value without warning', () => {
    const attrs = `<saml:Attribute Name="urn:oid:2.5.4.20" NameFormat="${URI}"><saml:AttributeValue xsi:nil="true"/></saml:Attribute>`;
    const r = parseLegacyAssertion(assertion({ attributes: attrs }));
    expect(r.attributes[0]!.values).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it('skips a complex value with a warning', () => {
    const attrs = `<saml:Attribute Name="urn:example:address" NameFormat="${URI}"><saml:AttributeValue><street xmlns="urn:example">1 Main St</street><city xmlns="urn:example">Springfield</city></saml:AttributeValue></saml:Attribute>`;
    const r = parseLegacyAssertion(assertion({ attributes: attrs }));
    expect(r.attributes[0]!.values).toEqual([]);
    expect(r.warnings.join('\n')).toMatch(/complex value/);
  });

  it('keeps duplicated attributes and warns', () => {
    const one = `<saml:Attribute Name="urn:oid:2.5.4.42" NameFormat="${URI}"><saml:AttributeValue>Ada</saml:AttributeValue></saml:Attribute>`;
    const r = parseLegacyAssertion(assertion({ attributes: one + one }));
    expect(r.attributes).toHaveLength(2);
    expect(r.warnings.join('\n')).toMatch(/more than once/);
  });

  it('keeps whitespace in values as is, and warns', () => {
    const attrs = `<saml:Attribute Name="urn:oid:2.5.4.42" NameFormat="${URI}"><saml:AttributeValue>\n   Ada\n</saml:AttributeValue></saml:Attribute>`;
    const r = parseLegacyAssertion(assertion({ attributes: attrs }));
    expect(r.attributes[0]!.values).toEqual(['\n   Ada\n']);
    expect(r.warnings.join('\n')).toMatch(/whitespace/);
  });

  it('warns about encrypted attributes', () => {
    const attrs = `<saml:EncryptedAttribute><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAttribute>`;
    expect(parseLegacyAssertion(assertion({ attributes: attrs })).warnings.join('\n')).toMatch(/EncryptedAttribute/);
  });

  it('reads only SAML-namespace attributes', () => {
    const attrs = `<Attribute xmlns="urn:example:not-saml" Name="urn:oid:2.5.4.42"><AttributeValue>Mallory</AttributeValue></Attribute>`;
    expect(parseLegacyAssertion(assertion({ attributes: attrs })).attributes).toEqual([]);
  });

  it('does not verify the signature (says so in its type)', () => {
    // A tampered, unsigned assertion reads all the same: this is a record, not a login.
    const r = parseLegacyAssertion(assertion().replace('Lovelace', 'Byron'));
    expect(r.verified).toBe(false);
    expect(r.attributes[2]!.values).toEqual(['Byron']);
  });

  it('uses the SAML namespace, not the prefix', () => {
    const xml = assertion().replaceAll('saml:', 'a:').replace(`xmlns:saml="${NS_SAML}"`, `xmlns:a="${NS_SAML}"`);
    expect(parseLegacyAssertion(xml).attributes).toHaveLength(5);
  });
});
