import { env } from 'cloudflare:workers';
import { createD1Store } from '../../src/store/adapters/d1.js';
import { retentionContract } from '../store/retention.contract.js';

retentionContract('D1', async () => createD1Store(env.DB));
