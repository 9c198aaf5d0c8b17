import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';
import { loginStoreContract } from './login-stores.contract.js';

loginStoreContract('SQLite', async () => createSqliteStore(openSqlite(':memory:')));
import { mappingTableContract } from './mapping-table.contract.js';

mappingTableContract('SQLite', async () => createSqliteStore(openSqlite(':memory:')));
import { referenceStoreContract } from './references.contract.js';

referenceStoreContract('SQLite', async () => createSqliteStore(openSqlite(':memory:')));
import { accessRequestStoreContract } from './access-requests.contract.js';

accessRequestStoreContract('SQLite', async () => createSqliteStore(openSqlite(':memory:')));
import { deferralStoreContract } from './deferrals.contract.js';

deferralStoreContract('SQLite', async () => createSqliteStore(openSqlite(':memory:')));
import { samlSessionStoreContract } from './saml-sessions.contract.js';

samlSessionStoreContract('SQLite', async () => createSqliteStore(openSqlite(':memory:')));
import { replayStoreContract } from './replay.contract.js';

replayStoreContract('SQLite', async () => createSqliteStore(openSqlite(':memory:')));
import { signingKeyStoreContract } from './signing-keys.contract.js';

signingKeyStoreContract('SQLite', async () => createSqliteStore(openSqlite(':memory:')));
