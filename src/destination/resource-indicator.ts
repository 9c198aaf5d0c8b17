import { InvalidTarget } from '../oauth/errors.js';

/**
 * RFC 8707 §2 at a destination's token endpoint: the `resource` parameters a client sent (the MCP
 * client SDK sends its MCP server's identifier) must name a resource this AS mints tokens for.
 * Checked before the grant, so that a request for the wrong resource spends no ID-JAG.
 *
 * @returns the requested resource, or undefined when the client named none.
 * @throws {InvalidTarget} (`resource_unknown`) for a resource this AS does not serve (which covers
 *   one that is relative or has a fragment, as no served resource does), or for two different
 *   resources: each access token here has one audience.
 */
export function checkResourceIndicator(form: URLSearchParams, served: readonly string[]): string | undefined {
  const requested = [...new Set(form.getAll('resource'))];
  if (requested.length === 0) return undefined;
  if (requested.length > 1) throw new InvalidTarget('resource_unknown', 'Request one resource per token', `resources: ${requested.join(' ')}`);
  const [resource] = requested as [string];
  if (!served.includes(resource)) throw new InvalidTarget('resource_unknown', 'The requested resource is not served by this authorization server', `resource: ${resource}`);
  return resource;
}
