/**
 * RFC 9728 protected resource metadata and the RFC 6750 / RFC 9728 §5.1 bearer challenge: what
 * an MCP server (or any API behind a destination AS) publishes so that a client finds its AS.
 */
import { describe, expect, it } from 'vitest';
import {
  PROTECTED_RESOURCE_WELL_KNOWN,
  bearerChallenge,
  buildProtectedResourceMetadata,
  protectedResourceMetadataUrl,
  readBearerToken,
} from '../../src/destination/index.js';

const MCP = 'https://mcp.example/mcp';
const AS = 'https://auth.example';

describe('buildProtectedResourceMetadata', () => {
  it('builds the RFC 9728 §2 document with header-only bearer tokens by default', () => {
    expect(buildProtectedResourceMetadata({ resource: MCP, authorizationServers: [AS], scopesSupported: ['notes.read', 'notes.write'] })).toEqual({
      resource: MCP,
      authorization_servers: [AS],
      scopes_supported: ['notes.read', 'notes.write'],
      bearer_methods_supported: ['header'],
    });
  });

  it('carries the optional descriptive fields it is given, and nothing it is not', () => {
    const metadata = buildProtectedResourceMetadata({
      resource: 'http://localhost:9200/mcp',
      authorizationServers: ['http://127.0.0.1:9200'],
      resourceName: 'Notes MCP server',
      resourceDocumentation: 'https://docs.example/notes',
      jwksUri: 'http://localhost:9200/jwks',
    });
    expect(metadata).toEqual({
      resource: 'http://localhost:9200/mcp',
      authorization_servers: ['http://127.0.0.1:9200'],
      bearer_methods_supported: ['header'],
      resource_name: 'Notes MCP server',
      resource_documentation: 'https://docs.example/notes',
      jwks_uri: 'http://localhost:9200/jwks',
    });
    expect(metadata).not.toHaveProperty('scopes_supported');
  });

  it.each([
    ['a relative resource', { resource: '/mcp', authorizationServers: [AS] }, /resource/],
    ['a resource over plain http off loopback', { resource: 'http://mcp.example/mcp', authorizationServers: [AS] }, /https/],
    ['a resource with a fragment', { resource: `${MCP}#x`, authorizationServers: [AS] }, /fragment/],
    ['a resource with credentials', { resource: 'https://u:p@mcp.example/mcp', authorizationServers: [AS] }, /credentials/],
    ['a non-web scheme', { resource: 'urn:example:mcp', authorizationServers: [AS] }, /https/],
    ['no authorization server', { resource: MCP, authorizationServers: [] }, /authorization server/],
    ['an authorization server over plain http off loopback', { resource: MCP, authorizationServers: ['http://auth.example'] }, /https/],
    ['an authorization server with a query (an issuer has none, RFC 8414 §2)', { resource: MCP, authorizationServers: [`${AS}?tenant=1`] }, /query/],
    ['a scope with a space in it', { resource: MCP, authorizationServers: [AS], scopesSupported: ['notes read'] }, /scope/],
    ['an empty scope', { resource: MCP, authorizationServers: [AS], scopesSupported: [''] }, /scope/],
    ['no bearer method listed', { resource: MCP, authorizationServers: [AS], bearerMethodsSupported: [] }, /bearer method/],
  ])('refuses %s', (_label, input, message) => {
    expect(() => buildProtectedResourceMetadata(input as Parameters<typeof buildProtectedResourceMetadata>[0])).toThrow(message);
  });

  it('accepts every loopback spelling over plain http', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', 'mcp.localhost']) {
      expect(buildProtectedResourceMetadata({ resource: `http://${host}:8080/mcp`, authorizationServers: [`http://${host}:8080`] }).resource).toBe(`http://${host}:8080/mcp`);
    }
  });
});

describe('protectedResourceMetadataUrl (RFC 9728 §3.1)', () => {
  it('inserts the well-known path between the host and the path', () => {
    expect(protectedResourceMetadataUrl(MCP)).toBe(`https://mcp.example${PROTECTED_RESOURCE_WELL_KNOWN}/mcp`);
  });

  it('uses the bare well-known path for a resource at the root, with or without the slash', () => {
    expect(protectedResourceMetadataUrl('https://mcp.example')).toBe('https://mcp.example/.well-known/oauth-protected-resource');
    expect(protectedResourceMetadataUrl('https://mcp.example/')).toBe('https://mcp.example/.well-known/oauth-protected-resource');
  });

  it('keeps the query and the port', () => {
    expect(protectedResourceMetadataUrl('http://localhost:9200/mcp/v1?tenant=a')).toBe('http://localhost:9200/.well-known/oauth-protected-resource/mcp/v1?tenant=a');
  });

  it('refuses what is not a resource identifier', () => {
    expect(() => protectedResourceMetadataUrl('http://mcp.example/mcp')).toThrow(/https/);
  });
});

describe('bearerChallenge', () => {
  const metadataUrl = protectedResourceMetadataUrl(MCP);

  it('answers a request without a token with resource_metadata and no error code (RFC 6750 §3.1)', () => {
    expect(bearerChallenge({ resourceMetadata: metadataUrl })).toBe(`Bearer resource_metadata="${metadataUrl}"`);
  });

  it('names invalid_token, with a description', () => {
    expect(bearerChallenge({ resourceMetadata: metadataUrl, error: 'invalid_token', errorDescription: 'The access token is not valid for this resource' })).toBe(
      `Bearer resource_metadata="${metadataUrl}", error="invalid_token", error_description="The access token is not valid for this resource"`,
    );
  });

  it('names insufficient_scope with the scope needed', () => {
    expect(bearerChallenge({ resourceMetadata: metadataUrl, error: 'insufficient_scope', scope: ['notes.read', 'notes.write'] })).toBe(
      `Bearer resource_metadata="${metadataUrl}", error="insufficient_scope", scope="notes.read notes.write"`,
    );
  });

  it('puts a realm first when given', () => {
    expect(bearerChallenge({ realm: 'notes', resourceMetadata: metadataUrl, error: 'invalid_request' })).toBe(
      `Bearer realm="notes", resource_metadata="${metadataUrl}", error="invalid_request"`,
    );
  });

  it.each([
    ['a description with a double quote', { errorDescription: 'say "hi"', error: 'invalid_token' }, /error_description/],
    ['a description with a backslash', { errorDescription: 'a\\b', error: 'invalid_token' }, /error_description/],
    ['a description with a line break', { errorDescription: 'a\r\nSet-Cookie: x=1', error: 'invalid_token' }, /error_description/],
    ['a scope with a double quote', { scope: ['a"b'], error: 'insufficient_scope' }, /scope/],
    ['an empty scope list', { scope: [], error: 'insufficient_scope' }, /scope/],
    ['a realm with a double quote', { realm: 'a"b' }, /realm/],
    ['a metadata URL with a double quote', { resourceMetadata: 'https://mcp.example/"x' }, /resource_metadata/],
    ['a relative metadata URL', { resourceMetadata: '/.well-known/oauth-protected-resource' }, /resource_metadata/],
    ['an unknown error code', { error: 'server_error' }, /error/],
  ])('refuses to build a header from %s', (_label, extra, message) => {
    expect(() => bearerChallenge({ resourceMetadata: metadataUrl, ...extra } as Parameters<typeof bearerChallenge>[0])).toThrow(message);
  });
});

describe('readBearerToken (RFC 6750 §2.1)', () => {
  it('reads the token of a Bearer authorization header, scheme case-insensitive', () => {
    expect(readBearerToken('Bearer abc.DEF-_~+/=')).toEqual({ token: 'abc.DEF-_~+/=' });
    expect(readBearerToken('bearer abc')).toEqual({ token: 'abc' });
  });

  it('says when there is no token at all', () => {
    expect(readBearerToken(null)).toEqual({ missing: true });
    expect(readBearerToken(undefined)).toEqual({ missing: true });
    expect(readBearerToken('')).toEqual({ missing: true });
    expect(readBearerToken('Basic dXNlcjpwYXNz')).toEqual({ missing: true });
  });

  it('calls a malformed Bearer header invalid_request rather than missing', () => {
    expect(readBearerToken('Bearer ')).toEqual({ malformed: true });
    expect(readBearerToken('Bearer a b')).toEqual({ malformed: true });
    expect(readBearerToken('Bearer a"b')).toEqual({ malformed: true });
  });
});
