export { createOidcConnection } from './connection.js';
export type { FinishedLogin, OidcConnection, OidcConnectionDeps, OidcPrompt, StartedLogin, StartLoginInput } from './connection.js';
export { OidcLoginError } from './errors.js';
export type { OidcLoginErrorDetails, OidcLoginReason } from './errors.js';
export { oidcClientAuthMethods, oidcConnectionSchema } from '../../config/oidc-connection.js';
export type { OidcConnectionConfig, OidcConnectionInput } from '../../config/oidc-connection.js';
export { LOGIN_TRANSACTION_LIFETIME } from './limits.js';
