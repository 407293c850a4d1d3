/**
 * @tessera/resource: protect Node APIs with Tessera access tokens and call downstream APIs.
 *
 * - validation: {@link createTokenValidator} (signature via cached JWKS, issuer incl. multi-tenant, audience,
 *   lifetime, access-token-only);
 * - authorization: {@link requireScopes}, {@link requireAppRoles}, {@link requireScopesOrAppRoles},
 *   {@link requireAcl}, step-up claims challenges;
 * - adapters, each its own entry so that this one loads no web framework (not even its types):
 *   `@tessera/resource/node-http` (`createNodeAuthenticator`), `@tessera/resource/express` (`createExpressAuth`),
 *   `@tessera/resource/fastify` (`tesseraAuth`); {@link authenticateRequest} is what they share (Bearer and DPoP);
 * - acquisition: {@link createTokenAcquirer} (client credentials; On-Behalf-Of with a bounded cache).
 *
 * @see docs/resource.md
 */
export {
  BearerTokenError,
  bearerErrorCatalogue,
  type BearerErrorCode,
  type BearerErrorDefinition,
  type BearerErrorName,
  type BearerTokenErrorOptions,
} from './errors.js';
export {
  clientIdOf,
  isAppOnlyToken,
  rolesOf,
  scopesOf,
  type AccessTokenClaims,
  type AccessTokenVersion,
} from './claims.js';
export {
  authenticateChallenge,
  bearerChallenge,
  bearerErrorResponse,
  isBearerTokenError,
  type BearerErrorResponse,
  type ChallengeOptions,
} from './challenge.js';
export { createTokenValidator, type TokenValidator } from './validation/validator.js';
export { type AsymmetricAlgorithm, type TokenValidatorOptions } from './validation/options.js';
export { TENANT_ID_PLACEHOLDER } from './validation/issuer.js';
export { requireScopes } from './authorization/scopes.js';
export { requireAppRoles } from './authorization/app-roles.js';
export { requireScopesOrAppRoles, type ScopesOrAppRoles } from './authorization/scopes-or-app-roles.js';
export { requireAcl, type AclEntry, type AclOptions } from './authorization/acl.js';
export {
  authenticationContextClaims,
  encodeClaimsChallenge,
  insufficientClaims,
  requireAuthenticationContext,
} from './authorization/step-up.js';
export { authorize, assertRequirement, type AuthRequirement } from './authorization/requirement.js';
export {
  authenticateBearer,
  authenticateRequest,
  bearerTokenOf,
  credentialsOf,
  type ResourceRequest,
} from './adapters/bearer.js';
export {
  accessTokenHash,
  createDpopVerifier,
  DEFAULT_DPOP_ALGORITHMS,
  MemoryDpopReplayCache,
  type DpopOptions,
  type DpopReplayCache,
  type DpopRequest,
  type DpopVerifier,
} from './validation/dpop.js';
export {
  createTokenAcquirer,
  type AcquiredToken,
  type ClientCertificateCredential,
  type TokenAcquirer,
  type TokenAcquirerOptions,
} from './acquisition/token-acquirer.js';
export {
  acquisitionErrorCatalogue,
  TokenAcquisitionError,
  type AcquisitionErrorCode,
  type AcquisitionErrorDefinition,
} from './acquisition/errors.js';
export { OboTokenCache, type CachedToken, type OboTokenCacheOptions } from './acquisition/obo-cache.js';
