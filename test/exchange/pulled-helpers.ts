import type { BrokerConfigInput } from '../../src/config/schema.js';
import { testSettings } from '../helpers/broker.js';

/** The test settings plus a back-channel client for each destination. */
export async function pulledSettings(more: (s: BrokerConfigInput) => void = () => {}) {
  return testSettings((s) => {
    const hash = s.clients!.find((c) => c.client_id === 'wiki-agent')!.client_secret_hash!;
    s.clients!.push(
      { client_id: 'todo-as', token_endpoint_auth_method: 'client_secret_post', client_secret_hash: hash },
      { client_id: 'crm-as', token_endpoint_auth_method: 'client_secret_post', client_secret_hash: hash },
    );
    s.destinations!.find((d) => d.id === 'todo')!.backchannel_client = 'todo-as';
    s.destinations!.find((d) => d.id === 'crm')!.backchannel_client = 'crm-as';
    more(s);
  });
}

