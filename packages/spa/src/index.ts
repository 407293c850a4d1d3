/**
 * `@tessera/spa`: single-page app authentication on `oidc-client-ts` (docs/spa.md).
 */
export {
  Authentication,
  createAuthentication,
  DEFAULT_SCOPES,
  type AccessTokenRequest,
  type AuthenticationOptions,
  type RouteResult,
  type SignInOptions,
} from './authentication.js';
export {
  createAuthorizedFetch,
  isUnderBaseUrl,
  type AccessTokenSource,
  type AuthorizedFetch,
  type AuthorizedFetchOptions,
} from './authorized-fetch.js';
export {
  claimsChallengeOf,
  parseAuthenticateHeader,
  type AuthenticateChallenge,
} from './claims-challenge.js';
export {
  AuthenticationError,
  readableDescription,
  type AuthenticationErrorCode,
  type SilentRenewFailure,
} from './errors.js';
export {
  AuthenticationEventEmitter,
  type AuthenticationEvents,
  type AuthenticationListener,
} from './events.js';
export {
  accessTokenHash,
  validateImplicitResponse,
  verifyJws,
  type ImplicitRequestState,
  type ImplicitTokens,
  type ImplicitValidationInput,
  type PublicJwk,
} from './implicit.js';
export { sameOriginReturnUrl } from './return-url.js';
export {
  actionOf,
  actionPath,
  AUTHENTICATION_ACTIONS,
  DEFAULT_BASE_PATH,
  type AuthenticationAction,
} from './routes.js';
export type { User } from 'oidc-client-ts';
