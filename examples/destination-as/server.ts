/**
 * Runs the reference destination AS on Node.
 *
 *   PORT=9100 BROKER_ISSUER=http://localhost:8080 BROKER_JWKS_URI=http://localhost:8080/jwks \
 *   DESTINATION_CLIENT_ID=agent DESTINATION_CLIENT_SECRET=… npx tsx examples/destination-as/server.ts
 */
import { serve } from '@hono/node-server';
import { createDestinationAs } from './app.js';

const DEFAULT_PORT = 9100;

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    console.error(`destination-as: set ${name}`);
    process.exit(1);
  }
  return value;
}

const port = Number(env('PORT', String(DEFAULT_PORT)));
const issuer = env('DESTINATION_ISSUER', `http://localhost:${port}`);
const brokerIssuer = env('BROKER_ISSUER');

const app = await createDestinationAs({
  issuer,
  brokers: [
    {
      issuer: brokerIssuer,
      jwksUri: env('BROKER_JWKS_URI'),
      todos: process.env.DEMO_SUB ? { [process.env.DEMO_SUB]: [{ id: '1', title: 'Try Cross-App Access', done: false }] } : {},
    },
  ],
  clients: [{ client_id: env('DESTINATION_CLIENT_ID'), client_secret: env('DESTINATION_CLIENT_SECRET') }],
  onRefusal: (error) => console.warn(`refused: ${error.code} (${error.reason}) ${error.detail ?? ''}`),
});

serve({ fetch: app.fetch, port }, ({ port: listening }) => {
  console.log(`destination-as ${issuer} listening on :${listening}, trusting ${brokerIssuer}`);
});
