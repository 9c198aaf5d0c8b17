/**
 * Every store contract (test/store/*.contract.ts) on a real PostgreSQL server (the suite's
 * cluster, test/helpers/pg-server.ts), in this file's own database. The contracts make their own
 * ids per test, as on D1 where a file's tests share storage: here they share one database.
 */
import { beforeAll } from 'vitest';
import type { BrokerStore } from '../../src/store/ports.js';
import { freshPgStore } from '../helpers/pg.js';
import { accessRequestStoreContract } from './access-requests.contract.js';
import { deferralStoreContract } from './deferrals.contract.js';
import { loginStoreContract } from './login-stores.contract.js';
import { mappingTableContract } from './mapping-table.contract.js';
import { referenceStoreContract } from './references.contract.js';
import { replayStoreContract } from './replay.contract.js';
import { retentionContract } from './retention.contract.js';
import { samlSessionStoreContract } from './saml-sessions.contract.js';
import { signingKeyStoreContract } from './signing-keys.contract.js';

let store: BrokerStore;
beforeAll(async () => {
  ({ store } = await freshPgStore());
});
const shared = async () => store;

loginStoreContract('PostgreSQL', shared);
mappingTableContract('PostgreSQL', shared);
referenceStoreContract('PostgreSQL', shared);
accessRequestStoreContract('PostgreSQL', shared);
deferralStoreContract('PostgreSQL', shared);
samlSessionStoreContract('PostgreSQL', shared);
retentionContract('PostgreSQL', shared);
replayStoreContract('PostgreSQL', shared);
signingKeyStoreContract('PostgreSQL', shared);
