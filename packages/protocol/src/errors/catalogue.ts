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
 * @see RFC 6749 §5.2 (error response), SPEC.md §3 Errors
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
  | 'invalid_tenant'
  | 'temporarily_unavailable'
  | 'server_error';

/** One catalogue entry. */
export interface ErrorDefinition {
  /** The OAuth `error` string. */
  readonly error: OAuthErrorName;
  /** HTTP status of the response that carries it. */
  readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 415 | 429 | 500 | 503;
  /** Microsoft-style name, for logs and docs. */
  readonly name: string;
  /** Safe, human-readable description; `{param}` placeholders are filled in. */
  readonly description: string;
  /** True when the number is Tessera's own (no Microsoft identity platform counterpart). */
  readonly tesseraOwn?: true;
}

export const errorCatalogue = {
  50027: {
    error: 'invalid_request',
    status: 400,
    name: 'InvalidJwtToken',
    description: 'Invalid JWT token. {reason}',
  },
  70003: {
    error: 'unsupported_grant_type',
    status: 400,
    name: 'UnsupportedGrantType',
    description: "The app requested an unsupported grant type '{grantType}'.",
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
  500011: {
    error: 'invalid_resource',
    status: 400,
    name: 'InvalidResourceServicePrincipalNotFound',
    description:
      'The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.',
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
  9100001: {
    error: 'invalid_client',
    status: 401,
    name: 'InvalidClientAssertionAudience',
    description: "Client assertion audience claim does not match this tenant's token endpoint or issuer.",
    tesseraOwn: true,
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
