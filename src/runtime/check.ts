import type { ConfigProblem } from '../config/load.js';
import type { BrokerConfig } from '../config/schema.js';
import { samlConnectionInputOf } from '../config/saml-connection.js';
import { nodeSecret } from './node-secrets.js';

/**
 * What `npm run check` validates beyond loading the configuration: what start-up validates in
 * each SAML connection (SP keys, IdP metadata from a file or inline, https SSO URLs, signing key,
 * binding), through the very function start-up calls. Nothing is fetched from the network.
 */
export async function checkStartup(config: BrokerConfig, configFile: string): Promise<{ problems: ConfigProblem[]; notes: string[] }> {
  const problems: ConfigProblem[] = [];
  const notes: string[] = [];
  const saml = config.settings.connections.flatMap((c, i) => (c.type === 'saml' ? [{ entry: c, at: `connections[${i}]` }] : []));
  if (saml.length === 0) return { problems, notes };
  // Loaded only when needed, as at start-up: samlify and the XML libraries are most of the load time.
  const { checkSamlConnection, SamlConfigError } = await import('../upstream/saml/index.js');
  for (const { entry, at } of saml) {
    try {
      const { metadata } = await checkSamlConnection(samlConnectionInputOf(entry), nodeSecret);
      if (metadata === 'not_fetched') notes.push(`${at} (${String(entry.id)}): idp_metadata_url is not fetched by check; start fetches and validates it`);
    } catch (err) {
      if (!(err instanceof SamlConfigError)) throw err;
      problems.push({ file: configFile, at, message: err.message });
    }
  }
  return { problems, notes };
}
