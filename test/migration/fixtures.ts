/**
 * Realistic SAML documents written for these tests: an SP's metadata and an IdP's assertion, built
 * from parts so each test can change exactly one thing.
 */

export const NS_MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
export const NS_SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
export const NS_SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const URI = 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri';
export const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
export const TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
export const EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
export const UNSPECIFIED = 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const ARTIFACT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact';

const CERT = 'MIIBszCCAVmgAwIBAgIUQ2xhaW1zQnJva2VyVGVzdENlcnQwCgYIKoZIzj0EAwIwHjEcMBoGA1UEAwwTZXhwZW5zZXMuZXhhbXBsZS5jb20=';

export interface SpMetadataParts {
  entityId?: string;
  nameIdFormats?: string[];
  acs?: string;
  attributeServices?: string;
  extensions?: string;
  entityExtensions?: string;
  slo?: string;
  organization?: string;
  protocolSupport?: string;
}

export const DEFAULT_ACS = `
    <md:AssertionConsumerService Binding="${POST}" Location="https://expenses.example.com/saml/acs" index="0" isDefault="true"/>
    <md:AssertionConsumerService Binding="${ARTIFACT}" Location="https://expenses.example.com/saml/acs/artifact" index="1"/>
    <md:AssertionConsumerService Binding="${POST}" Location="https://eu.expenses.example.com/saml/acs" index="2"/>`;

export const DEFAULT_SERVICES = `
    <md:AttributeConsumingService index="0" isDefault="true">
      <md:ServiceName xml:lang="de">Spesen</md:ServiceName>
      <md:ServiceName xml:lang="en">Expenses</md:ServiceName>
      <md:RequestedAttribute Name="urn:oid:0.9.2342.19200300.100.1.3" NameFormat="${URI}" FriendlyName="mail" isRequired="true"/>
      <md:RequestedAttribute Name="urn:oid:2.5.4.42" NameFormat="${URI}" FriendlyName="givenName"/>
      <md:RequestedAttribute Name="urn:oid:2.5.4.4" NameFormat="${URI}" FriendlyName="sn"/>
      <md:RequestedAttribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.7" NameFormat="${URI}" FriendlyName="eduPersonEntitlement"/>
      <md:RequestedAttribute Name="urn:oid:2.5.4.11" NameFormat="${URI}" FriendlyName="ou"/>
      <md:RequestedAttribute Name="http://schemas.example.com/claims/costCenter" NameFormat="${URI}" FriendlyName="costCenter" isRequired="true"/>
    </md:AttributeConsumingService>`;

export function spMetadata(parts: SpMetadataParts = {}): string {
  const formats = (parts.nameIdFormats ?? [PERSISTENT]).map((f) => `\n    <md:NameIDFormat>${f}</md:NameIDFormat>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="${NS_MD}" xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute" xmlns:saml="${NS_SAML}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${parts.entityId ?? 'https://expenses.example.com/saml/metadata'}">${parts.entityExtensions ?? ''}
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="${parts.protocolSupport ?? 'urn:oasis:names:tc:SAML:2.0:protocol'}">${
    parts.extensions ??
    `
    <md:Extensions>
      <mdui:UIInfo>
        <mdui:DisplayName xml:lang="fr">Notes de frais</mdui:DisplayName>
        <mdui:DisplayName xml:lang="en">Expense Reports</mdui:DisplayName>
      </mdui:UIInfo>
    </md:Extensions>`
  }
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>${CERT}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>${parts.slo ?? ''}${formats}${parts.acs ?? DEFAULT_ACS}${parts.attributeServices ?? DEFAULT_SERVICES}
  </md:SPSSODescriptor>${
    parts.organization ??
    `
  <md:Organization>
    <md:OrganizationName xml:lang="en">Example Corp</md:OrganizationName>
    <md:OrganizationDisplayName xml:lang="en">Example Corporation</md:OrganizationDisplayName>
    <md:OrganizationURL xml:lang="en">https://www.example.com/</md:OrganizationURL>
  </md:Organization>`
  }
</md:EntityDescriptor>`;
}

export const SLO = `
    <md:SingleLogoutService Binding="${REDIRECT}" Location="https://expenses.example.com/saml/slo"/>`;

export function subjectIdRequirement(value: string): string {
  return `
  <md:Extensions>
    <mdattr:EntityAttributes>
      <saml:Attribute Name="urn:oasis:names:tc:SAML:profiles:subject-id:req" NameFormat="${URI}">
        <saml:AttributeValue>${value}</saml:AttributeValue>
      </saml:Attribute>
    </mdattr:EntityAttributes>
  </md:Extensions>`;
}

export interface AssertionParts {
  nameId?: string;
  nameIdFormat?: string | null;
  nameIdExtra?: string;
  attributes?: string;
  subject?: string;
}

export const DEFAULT_ATTRIBUTES = `
      <saml:Attribute Name="urn:oid:0.9.2342.19200300.100.1.3" NameFormat="${URI}" FriendlyName="mail">
        <saml:AttributeValue xsi:type="xs:string">ada.lovelace@example.com</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="urn:oid:2.5.4.42" NameFormat="${URI}" FriendlyName="givenName">
        <saml:AttributeValue xsi:type="xs:string">Ada</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="urn:oid:2.5.4.4" NameFormat="${URI}" FriendlyName="sn">
        <saml:AttributeValue xsi:type="xs:string">Lovelace</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.7" NameFormat="${URI}" FriendlyName="eduPersonEntitlement">
        <saml:AttributeValue xsi:type="xs:string">urn:example:expenses:approver</saml:AttributeValue>
        <saml:AttributeValue xsi:type="xs:string">urn:example:expenses:submitter</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="http://schemas.example.com/claims/costCenter" NameFormat="${URI}" FriendlyName="costCenter">
        <saml:AttributeValue xsi:type="xs:string">CC-4711</saml:AttributeValue>
      </saml:Attribute>`;

export function assertion(parts: AssertionParts = {}): string {
  const format = parts.nameIdFormat === null ? '' : ` Format="${parts.nameIdFormat ?? PERSISTENT}"`;
  const subject =
    parts.subject ??
    `<saml:Subject>
      <saml:NameID${format} NameQualifier="https://idp.example.com/idp" SPNameQualifier="https://expenses.example.com/saml/metadata"${parts.nameIdExtra ?? ''}>${parts.nameId ?? 'k7Qm2ZxP4vN9aWcR1tYe8uLs3Bo='}</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData NotOnOrAfter="2025-03-04T09:05:00Z" Recipient="https://expenses.example.com/saml/acs" InResponseTo="_req-7f3a"/>
      </saml:SubjectConfirmation>
    </saml:Subject>`;
  return `<saml:Assertion xmlns:saml="${NS_SAML}" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_a8f2c1d0-legacy" Version="2.0" IssueInstant="2025-03-04T09:00:00Z">
    <saml:Issuer>https://idp.example.com/idp</saml:Issuer>
    ${subject}
    <saml:Conditions NotBefore="2025-03-04T08:59:30Z" NotOnOrAfter="2025-03-04T09:05:00Z">
      <saml:AudienceRestriction><saml:Audience>https://expenses.example.com/saml/metadata</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="2025-03-04T08:59:58Z" SessionIndex="_s-91">
      <saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>
    </saml:AuthnStatement>
    <saml:AttributeStatement>${parts.attributes ?? DEFAULT_ATTRIBUTES}
    </saml:AttributeStatement>
  </saml:Assertion>`;
}

export function response(inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="${NS_SAMLP}" xmlns:saml="${NS_SAML}" ID="_r-5c1e" Version="2.0" IssueInstant="2025-03-04T09:00:00Z" Destination="https://expenses.example.com/saml/acs" InResponseTo="_req-7f3a">
  <saml:Issuer>https://idp.example.com/idp</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  ${inner}
</samlp:Response>`;
}
