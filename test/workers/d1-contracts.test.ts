import { env } from 'cloudflare:workers';
import { createD1Store } from '../../src/store/adapters/d1.js';
import { loginStoreContract } from '../store/login-stores.contract.js';

loginStoreContract('D1', async () => createD1Store(env.DB));
import { mappingTableContract } from '../store/mapping-table.contract.js';

mappingTableContract('D1', async () => createD1Store(env.DB));
import { referenceStoreContract } from '../store/references.contract.js';

referenceStoreContract('D1', async () => createD1Store(env.DB));
import { accessRequestStoreContract } from '../store/access-requests.contract.js';

accessRequestStoreContract('D1', async () => createD1Store(env.DB));
import { deferralStoreContract } from '../store/deferrals.contract.js';

deferralStoreContract('D1', async () => createD1Store(env.DB));
import { samlSessionStoreContract } from '../store/saml-sessions.contract.js';

samlSessionStoreContract('D1', async () => createD1Store(env.DB));
import { replayStoreContract } from '../store/replay.contract.js';

replayStoreContract('D1', async () => createD1Store(env.DB));
import { signingKeyStoreContract } from '../store/signing-keys.contract.js';

signingKeyStoreContract('D1', async () => createD1Store(env.DB));
