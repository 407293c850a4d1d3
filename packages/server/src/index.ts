export { createTesseraServer, type TesseraServer } from './server.js';
export { openStore, databaseTarget } from './store/open-store.js';
export {
  loadConfig,
  configOptions,
  configurationMarkdown,
  keyRetentionSeconds,
  ConfigError,
  type TesseraConfig,
} from './config/config.js';
export {
  Directory,
  DirectoryError,
  type CreateApplicationInput,
  type NewPassword,
} from './directory/directory.js';
export { DirectoryStore } from './store/directory-store.js';
export { SignInStore, type RefreshTokenFamily } from './store/sign-in-store.js';
export type { SsoSession } from './sessions/sso-session.js';
export { openDatabase, migrateToLatest, type DatabaseTarget } from './store/database.js';
export * from './directory/model.js';
export { DIRECTORY_APP_ID, DIRECTORY_IDENTIFIER_URI } from './directory/builtin-directory-app.js';
export { createSelfSignedKey, type CertifiedKey } from './keys/x509.js';
export {
  seedClientCredentials,
  type ClientCredentialsSeed,
  type ClientCredentialsSeedInput,
} from './seed/client-credentials.js';
export { ensureDevTls, type DevTlsFiles } from './tls/dev-tls.js';
export { issuerV1, issuerV2, tokenEndpoint, jwksUri } from './tokens/issuer.js';
export { REDACTED_LOG_PATHS, createLogger, registeredRoutes, type RegisteredRoute } from './app.js';
export { rotateSigningKeys, ensureSigningKeys, KeyRing } from './keys/key-ring.js';
export { loadMasterKey, decryptWithMasterKey } from './keys/master-key.js';
export {
  DatabaseSignInThrottle,
  RedisSignInThrottle,
  type SignInThrottle,
  type ThrottleReservation,
  type RedisThrottleClient,
} from './users/sign-in-throttle.js';
export { AuthenticationMethods, type SoftwareOathMethod } from './users/authentication-methods.js';
export { SoftwareOathMethodRepository } from './store/repositories/software-oath-methods.js';
export { authenticationMethodKey } from './users/totp-secrets.js';
export { totpCode } from './users/totp.js';
