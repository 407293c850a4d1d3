/**
 * The one catalogue of Tessera's protocol errors, keyed by numeric code.
 *
 * Numbers follow the Microsoft identity platform's `reference-error-codes.md` where a counterpart exists, so clients
 * that branch on `error_codes[0]` behave as they do against Entra ID. Conditions with no counterpart take numbers
 * from Tessera's own range (9_100_000 – 9_199_999) and say so in `docs/errors.md`. A number never changes meaning.
 *
 * Each entry's `description` is safe to send: it may name what the client sent, never internal state.
 * `{name}` placeholders are filled from the parameters given to {@link IdentityError}.
 *
 * @see RFC 6749 §5.2 (error response), `docs/errors.md`
 */

/** OAuth 2.0 `error` values (RFC 6749 §5.2, §4.1.2.1; RFC 6750 §3.1; OIDC Core §3.1.2.6). */
export type OAuthErrorName =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_resource'
  /** RFC 8693 §2.2.2, RFC 8707 §2: the targets (`audience`, `resource`) cannot be served together. */
  | 'invalid_target'
  | 'invalid_tenant'
  | 'temporarily_unavailable'
  | 'server_error'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'invalid_token'
  /** RFC 9449 §5: the DPoP proof of a token request is invalid. */
  | 'invalid_dpop_proof'
  /** RFC 9449 §8: the authorization server requires a server-provided nonce in the DPoP proof. */
  | 'use_dpop_nonce';

/** One catalogue entry. */
export interface ErrorDefinition {
  /** The OAuth `error` string. */
  readonly error: OAuthErrorName;
  /** HTTP status of the response that carries it. */
  readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 415 | 429 | 431 | 500 | 503;
  /** Microsoft-style name, for logs and docs. */
  readonly name: string;
  /** Safe, human-readable description; `{param}` placeholders are filled in. */
  readonly description: string;
  /** True when the number is Tessera's own (no Microsoft identity platform counterpart). */
  readonly tesseraOwn?: true;
  /**
   * Other `error` values the same condition is sent with where the protocol asks for them, e.g. 65001 is
   * `consent_required` at the authorization endpoint (OIDC Core §3.1.2.6) and `invalid_grant` at the token
   * endpoint (RFC 6749 §5.2). Chosen with {@link IdentityErrorOptions.error}.
   */
  readonly alsoSentAs?: readonly OAuthErrorName[];
}

export const errorCatalogue = {
  50011: {
    error: 'invalid_request',
    status: 400,
    name: 'InvalidReplyTo',
    description:
      "The redirect URI '{redirectUri}' specified in the request does not match the redirect URIs configured for the application '{clientId}'. Make sure the redirect URI sent in the request matches one added to your application.",
  },
  50027: {
    error: 'invalid_request',
    status: 400,
    name: 'InvalidJwtToken',
    description: 'Invalid JWT token. {reason}',
  },
  50012: {
    error: 'invalid_client',
    status: 401,
    name: 'AuthenticationFailed',
    description: 'Client assertion audience claim does not match Realm issuer. {reason}',
  },
  50013: {
    error: 'invalid_grant',
    status: 400,
    name: 'InvalidAssertion',
    description: 'Assertion is invalid. {reason}',
  },
  50053: {
    error: 'invalid_grant',
    status: 429,
    name: 'IdsLocked',
    description:
      'Your account or IP address is temporarily locked to prevent unauthorized use. Try again later.',
  },
  50057: {
    error: 'invalid_grant',
    status: 400,
    name: 'UserDisabled',
    description: 'The user account is disabled.',
  },
  50058: {
    error: 'login_required',
    status: 400,
    name: 'UserInformationNotProvided',
    description:
      'Session information is not sufficient for single-sign-on. The user is not signed in, and the request asked for no interaction (prompt=none).',
  },
  50076: {
    error: 'interaction_required',
    status: 400,
    name: 'UserStrongAuthClientAuthNRequired',
    description:
      "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{resource}'. Retry with a new authorize request for the resource.",
  },
  50079: {
    error: 'interaction_required',
    status: 400,
    name: 'UserStrongAuthEnrollmentRequired',
    description:
      "Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '{resource}'.",
  },
  50126: {
    error: 'invalid_grant',
    status: 400,
    name: 'InvalidUserNameOrPassword',
    description: 'Error validating credentials due to invalid username or password.',
  },
  50147: {
    error: 'invalid_request',
    status: 400,
    name: 'MissingCodeChallenge',
    description:
      'The size of the code challenge parameter is not valid: it must be 43 to 128 characters of the base64url alphabet.',
  },
  54005: {
    error: 'invalid_grant',
    status: 400,
    name: 'AuthorizationCodeAlreadyRedeemed',
    description:
      'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
  },
  65001: {
    error: 'consent_required',
    status: 400,
    name: 'DelegationDoesNotExist',
    description:
      "The user or administrator has not consented to use the application with ID '{clientId}'. Send an interactive authorization request for this user and resource.",
    alsoSentAs: ['invalid_grant'],
  },
  65004: {
    error: 'access_denied',
    status: 400,
    name: 'UserDeclinedConsent',
    description: 'The user declined to consent to access the app.',
  },
  70000: {
    error: 'invalid_grant',
    status: 400,
    name: 'InvalidGrant',
    description: "The provided value for the '{name}' parameter is not valid. {reason}",
  },
  70003: {
    error: 'unsupported_grant_type',
    status: 400,
    name: 'UnsupportedGrantType',
    description: "The app requested an unsupported grant type '{grantType}'.",
  },
  70005: {
    error: 'unsupported_response_type',
    status: 400,
    name: 'UnsupportedResponseType',
    description: "The response type '{responseType}' is not supported: {reason}",
  },
  70007: {
    error: 'invalid_request',
    status: 400,
    name: 'UnsupportedResponseMode',
    description: "The response mode '{responseMode}' is not supported: {reason}",
  },
  70008: {
    error: 'invalid_grant',
    status: 400,
    name: 'ExpiredOrRevokedGrant',
    description:
      'The provided authorization code or refresh token has expired or was revoked. Send a new interactive authorization request for this user and resource.',
  },
  70011: {
    error: 'invalid_scope',
    status: 400,
    name: 'InvalidScope',
    description:
      "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.",
  },
  90002: {
    error: 'invalid_tenant',
    status: 400,
    name: 'InvalidTenantName',
    description:
      "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
  },
  /** RFC 6749 §4.1.2.1: the directory store cannot be reached now (sent with 503 and `Retry-After`). */
  90033: {
    error: 'temporarily_unavailable',
    status: 503,
    name: 'MsodsServiceUnavailable',
    description: 'A transient error has occurred. Try again.',
  },
  90094: {
    error: 'access_denied',
    status: 403,
    name: 'AdminConsentRequired',
    description:
      'Administrator consent is required for: {scopes}. Ask an administrator of your organization to grant it.',
  },
  500011: {
    error: 'invalid_resource',
    status: 400,
    name: 'InvalidResourceServicePrincipalNotFound',
    description:
      'The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.',
  },
  500121: {
    error: 'invalid_grant',
    status: 400,
    name: 'AuthenticationFailedDuringStrongAuthenticationRequest',
    description:
      'Authentication failed during strong authentication request: the verification code is not correct. Enter the current code from your authenticator app.',
  },
  500131: {
    error: 'invalid_grant',
    status: 400,
    name: 'AssertionAudienceDoesNotMatch',
    description:
      "Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '{tokenAudience}' and the expected audience is '{expectedAudience}' or one of the Application Uris of this application. The downstream client must request a token for the expected audience (the application that made the OBO request) and this application should use that token as the assertion.",
  },
  500133: {
    error: 'invalid_grant',
    status: 400,
    name: 'TokenNotWithinValidTimeRange',
    description:
      'Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token.',
  },
  501481: {
    error: 'invalid_grant',
    status: 400,
    name: 'CodeVerifierMismatch',
    description: 'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
  },
  700016: {
    error: 'unauthorized_client',
    status: 400,
    name: 'UnauthorizedClient_DoesNotMatchRequest',
    description:
      "Application with identifier '{clientId}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
  },
  700021: {
    error: 'invalid_client',
    status: 401,
    name: 'InvalidClientAssertionIssuer',
    description: "Client assertion application identifier doesn't match 'client_id' parameter.",
  },
  700022: {
    error: 'invalid_scope',
    status: 400,
    name: 'InvalidMultipleResourcesScope',
    description:
      'The provided value for the input parameter scope is not valid because it contains more than one resource. Scope {scope} is not valid.',
  },
  700024: {
    error: 'invalid_client',
    status: 401,
    name: 'InvalidClientAssertionTimeRange',
    description: 'Client assertion is not within its valid time range. {reason}',
  },
  700025: {
    error: 'invalid_client',
    status: 401,
    name: 'InvalidClientPublicClientWithCredential',
    description: "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
  },
  700027: {
    error: 'invalid_client',
    status: 401,
    name: 'InvalidClientAssertionSignature',
    description: 'Client assertion failed signature validation. {reason}',
  },
  700054: {
    error: 'unauthorized_client',
    status: 400,
    name: 'IdTokenNotEnabled',
    description: "Response_type 'id_token' is not enabled for the application '{clientId}'.",
  },
  700084: {
    error: 'invalid_grant',
    status: 400,
    name: 'SpaRefreshTokenExpired',
    description:
      'The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of {lifetime}, which cannot be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page.',
  },
  900023: {
    error: 'invalid_request',
    status: 400,
    name: 'InvalidTenantIdentifier',
    description:
      "Specified tenant identifier '{tenant}' is neither a valid DirectoryName nor a valid external domain.",
  },
  900144: {
    error: 'invalid_request',
    status: 400,
    name: 'MissingParameter',
    description: "The request body must contain the following parameter: '{name}'.",
  },
  900561: {
    error: 'invalid_request',
    status: 405,
    name: 'BadResourceRequestInvalidRequest',
    description: 'The endpoint only accepts POST requests. Received a {method} request.',
  },
  900971: {
    error: 'invalid_request',
    status: 400,
    name: 'NoReplyAddress',
    description: 'No reply address provided.',
  },
  1002012: {
    error: 'invalid_scope',
    status: 400,
    name: 'DefaultScopeRequired',
    description:
      'The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).',
  },
  7000112: {
    error: 'unauthorized_client',
    status: 400,
    name: 'UnauthorizedClientApplicationDisabled',
    description: "Application '{clientId}' is disabled.",
  },
  7000215: {
    error: 'invalid_client',
    status: 401,
    name: 'InvalidClientSecretProvided',
    description:
      "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{clientId}'.",
  },
  7000218: {
    error: 'invalid_client',
    status: 401,
    name: 'InvalidClientCredentialsMissing',
    description:
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  },
  7000222: {
    error: 'invalid_client',
    status: 401,
    name: 'InvalidClientSecretExpiredKeysProvided',
    description:
      "The provided client secret keys for app '{clientId}' are expired. Create new keys for your app.",
  },
  9002313: {
    error: 'invalid_request',
    status: 400,
    name: 'InvalidRequest',
    description: 'Request is malformed or invalid: {reason}',
  },
  9002326: {
    error: 'invalid_request',
    status: 400,
    name: 'CrossOriginRedemptionNotSpa',
    description:
      "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. Request origin: '{origin}'.",
  },
  9002327: {
    error: 'invalid_request',
    status: 400,
    name: 'SpaCodeRedeemedWithoutOrigin',
    description:
      "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
  },
  9100002: {
    error: 'invalid_client',
    status: 401,
    name: 'InvalidClientAssertionReplayed',
    description: "Client assertion with 'jti' '{jti}' was already used.",
    tesseraOwn: true,
  },
  9100003: {
    error: 'invalid_client',
    status: 401,
    name: 'InvalidClientAssertionClaims',
    description: 'Client assertion is missing a required claim or has an invalid one: {reason}',
    tesseraOwn: true,
  },
  9100004: {
    error: 'invalid_request',
    status: 400,
    name: 'RepeatedParameter',
    description: "The request must not contain the parameter '{name}' more than once.",
    tesseraOwn: true,
  },
  9100005: {
    error: 'invalid_client',
    status: 401,
    name: 'InvalidClientAuthenticationMethods',
    description:
      'The client must authenticate with exactly one method (HTTP Basic, client_secret or client_assertion) and one consistent client_id.',
    tesseraOwn: true,
  },
  9100006: {
    error: 'invalid_request',
    status: 400,
    name: 'UnsupportedClientAssertionType',
    description:
      "The 'client_assertion_type' must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
    tesseraOwn: true,
  },
  9100007: {
    error: 'invalid_request',
    status: 415,
    name: 'UnsupportedContentType',
    description: "The request body must be 'application/x-www-form-urlencoded'.",
    tesseraOwn: true,
  },
  9100008: {
    error: 'invalid_request',
    status: 413,
    name: 'RequestTooLarge',
    description: 'The request body is too large.',
    tesseraOwn: true,
  },
  9100009: {
    error: 'invalid_request',
    status: 400,
    name: 'MalformedRequest',
    description: 'The request is malformed: {reason}',
    tesseraOwn: true,
  },
  9100010: {
    error: 'invalid_request',
    status: 404,
    name: 'EndpointNotFound',
    description: 'There is no endpoint at {method} {path}.',
    tesseraOwn: true,
  },
  9100011: {
    error: 'invalid_request',
    status: 400,
    name: 'PkceRequired',
    description:
      "Proof Key for Code Exchange (code_challenge with code_challenge_method 'S256') is required for {platform} clients.",
    tesseraOwn: true,
  },
  9100012: {
    error: 'invalid_request',
    status: 400,
    name: 'PkceMethodNotSupported',
    description: "The code_challenge_method '{method}' is not supported; use 'S256'.",
    tesseraOwn: true,
  },
  9100013: {
    error: 'invalid_request',
    status: 403,
    name: 'FormNotTrusted',
    description:
      'The form expired or was not submitted from this site. Go back to the application and sign in again.',
    tesseraOwn: true,
  },
  9100014: {
    error: 'invalid_request',
    status: 400,
    name: 'InteractionExpired',
    description: 'The sign-in request expired. Go back to the application and sign in again.',
    tesseraOwn: true,
  },
  9100015: {
    error: 'interaction_required',
    status: 400,
    name: 'AccountSelectionRequired',
    description:
      'Several accounts are signed in and the request named none of them (login_hint), so the user must choose one.',
    tesseraOwn: true,
  },
  9100016: {
    error: 'invalid_token',
    status: 401,
    name: 'InvalidAccessToken',
    description:
      'The access token is missing, malformed, expired or not issued by this server for this endpoint.',
    tesseraOwn: true,
  },
  9100017: {
    error: 'invalid_request',
    status: 400,
    name: 'PostLogoutRedirectUriNotRegistered',
    description:
      "The post_logout_redirect_uri '{redirectUri}' is not registered for the application '{clientId}'.",
    tesseraOwn: true,
  },
  9100018: {
    error: 'interaction_required',
    status: 400,
    name: 'MaxAgeExceeded',
    description:
      'The user signed in too long ago for this request (max_age) and the request asked for no interaction (prompt=none).',
    tesseraOwn: true,
  },
  9100019: {
    error: 'invalid_request',
    status: 400,
    name: 'SpaOriginNotRegistered',
    description:
      "The request origin '{origin}' is not the origin of a single-page application redirect URI registered for the application '{clientId}'.",
    tesseraOwn: true,
  },
  9100020: {
    error: 'invalid_grant',
    status: 400,
    name: 'InvalidCodeVerifier',
    description:
      "The code_verifier is not valid: it must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~' (RFC 7636 section 4.1).",
    tesseraOwn: true,
  },
  9100021: {
    error: 'invalid_request',
    status: 431,
    name: 'RequestHeadersTooLarge',
    description: 'The request line or headers are too large.',
    tesseraOwn: true,
  },
  9100022: {
    error: 'invalid_request',
    status: 400,
    name: 'InteractionActionNotOffered',
    description: 'The sign-in page did not offer this choice. Go back to the application and sign in again.',
    tesseraOwn: true,
  },
  9100040: {
    error: 'access_denied',
    status: 403,
    name: 'AdminConsentNotAdministrator',
    description:
      'Only an administrator of the organization can grant these permissions for it. Sign in with an administrator account, or ask an administrator to grant them. Nothing was granted.',
    tesseraOwn: true,
  },
  9100041: {
    error: 'invalid_request',
    status: 400,
    name: 'AdminConsentNotForConsumers',
    description:
      "Admin consent is granted for an organization: use the organization's tenant, 'organizations' or 'common', not 'consumers'.",
    tesseraOwn: true,
  },
  9100060: {
    error: 'invalid_request',
    status: 400,
    name: 'PostLogoutRedirectUriNotOfEndedSession',
    description:
      "The post_logout_redirect_uri '{redirectUri}' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.",
    tesseraOwn: true,
  },
  9100061: {
    error: 'invalid_request',
    status: 403,
    name: 'SignOutFormNotTrusted',
    description:
      'The sign-out form expired or was not submitted from this site. Go back to the application and sign out again.',
    tesseraOwn: true,
  },
  9100062: {
    error: 'invalid_request',
    status: 405,
    name: 'MethodNotAllowed',
    description: 'The endpoint {path} does not accept the {method} method; use {allowed}.',
    tesseraOwn: true,
  },
  9100070: {
    error: 'invalid_request',
    status: 400,
    name: 'UnsupportedTokenType',
    description:
      "The value '{value}' of the '{name}' parameter is not supported. Only 'urn:ietf:params:oauth:token-type:access_token' is.",
    tesseraOwn: true,
  },
  9100071: {
    error: 'invalid_target',
    status: 400,
    name: 'InvalidTarget',
    description:
      'The requested audience and resource values {targets} do not name one resource of the tenant. Token exchange issues a token for exactly one resource.',
    tesseraOwn: true,
  },
  9100300: {
    error: 'invalid_dpop_proof',
    status: 400,
    name: 'InvalidDpopProof',
    description: 'The DPoP proof is not valid: {reason}',
    tesseraOwn: true,
  },
  9100301: {
    error: 'invalid_dpop_proof',
    status: 400,
    name: 'DpopProofReplayed',
    description:
      'The DPoP proof was already used (its jti was seen before). Sign a new proof, with a new jti, for every request.',
    tesseraOwn: true,
  },
  9100302: {
    error: 'use_dpop_nonce',
    status: 400,
    name: 'UseDpopNonce',
    description:
      'The authorization server requires a nonce in the DPoP proof: sign a new proof with the nonce of the DPoP-Nonce response header. {reason}',
    tesseraOwn: true,
  },
  9100303: {
    error: 'invalid_request',
    status: 400,
    name: 'DpopProofRequired',
    description:
      "The application '{clientId}' requires DPoP: every token request must carry a DPoP proof header (RFC 9449).",
    tesseraOwn: true,
  },
  9100304: {
    error: 'invalid_grant',
    status: 400,
    name: 'DpopBoundGrantWithoutProof',
    description:
      'The {grant} is bound to a DPoP key: the request must carry a DPoP proof signed with that key.',
    tesseraOwn: true,
  },
  9100305: {
    error: 'invalid_grant',
    status: 400,
    name: 'DpopBoundGrantOtherKey',
    description: 'The {grant} is bound to another DPoP key than the one that signed the proof.',
    tesseraOwn: true,
  },
  9100090: {
    error: 'invalid_grant',
    status: 400,
    name: 'OathCodeReused',
    description:
      'This verification code was already used. Wait for the next code in your authenticator app and enter that one.',
    tesseraOwn: true,
  },
  9100500: {
    error: 'server_error',
    status: 500,
    name: 'InternalError',
    description:
      'The server encountered an unexpected error. Use the trace ID to find it in the server logs.',
    tesseraOwn: true,
  },
} as const satisfies Record<number, ErrorDefinition>;

/** Every numeric code in the catalogue. */
export type ErrorCode = keyof typeof errorCatalogue;

/** True when `code` names a catalogue entry. */
export function isErrorCode(code: number): code is ErrorCode {
  return Object.hasOwn(errorCatalogue, code);
}
