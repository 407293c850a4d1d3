/**
 * The one error type of `@tessera/spa`: a stable {@link AuthenticationErrorCode} callers can switch on, the OAuth
 * `error` and `error_description` the identity server sent (when it sent one) and the server's trace id.
 *
 * @see RFC 6749 §4.1.2.1 (authorization error response), docs/errors.md (the `Trace ID` line)
 */
export type AuthenticationErrorCode =
  /** The authorization server answered the redirect with an `error` (e.g. `access_denied` when consent is declined). */
  | 'authorization_error'
  /** The callback's `state` matches no request this browser made (tampered, replayed or from another browser). */
  | 'state_mismatch'
  /** The ID token failed a check: signature, `iss`, `aud`, `exp`, `nonce` or `at_hash`. */
  | 'invalid_id_token'
  /** The response names another issuer than the configured authority (RFC 9207 `iss`). */
  | 'issuer_mismatch'
  /** The token endpoint refused the request (code redemption, refresh). */
  | 'token_error'
  /** Silent renewal failed; {@link AuthenticationError.reason} tells why when it is known. */
  | 'silent_renew_failed'
  /** No user is signed in (or their session ended) and the operation needs one. */
  | 'login_required'
  /** The operation needs a refresh token and the user has none (`offline_access` not granted). */
  | 'refresh_token_unavailable'
  /**
   * The library navigated away to an interactive sign-in (e.g. to answer a claims challenge); the request is
   * replayed after the round trip by `AuthorizedFetch.resumePending()`.
   */
  | 'interaction_required'
  /** A configuration mistake, caught when the library is created. */
  | 'invalid_configuration';

/** Why a silent renewal failed, when the library can tell. */
export type SilentRenewFailure =
  /**
   * The hidden `prompt=none` iframe came back `login_required` while this app still holds a session it has not
   * seen end: the browser most likely withholds the identity server's cookie from third-party frames (Chromium's
   * default, Safari, Firefox). Request `offline_access` so renewal uses refresh tokens.
   */
  | 'third_party_cookies_blocked'
  /** The identity server's session ended (signed out, expired): an interactive sign-in is needed. */
  | 'session_ended'
  /** The refresh token was refused (expired, revoked, reused). */
  | 'refresh_token_refused';

/** Options of {@link AuthenticationError}. */
export interface AuthenticationErrorOptions {
  /** The OAuth `error` the server sent. */
  readonly error?: string | undefined;
  /** The server's `error_description` as sent (with its `Trace ID` line). */
  readonly errorDescription?: string | undefined;
  readonly reason?: SilentRenewFailure | undefined;
  readonly cause?: unknown;
}

const TRACE_ID = /Trace ID:\s*([0-9A-Za-z-]+)/;

/** A failure of sign-in, sign-out, renewal or token acquisition. */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
  readonly code: AuthenticationErrorCode;
  /** The OAuth `error` code from the server, e.g. `access_denied`, `login_required`. */
  readonly error: string | undefined;
  /** The server's `error_description` as sent. */
  readonly errorDescription: string | undefined;
  /** The server's trace id, read from the `Trace ID:` line of `error_description` (quote it to support). */
  readonly traceId: string | undefined;
  readonly reason: SilentRenewFailure | undefined;

  constructor(code: AuthenticationErrorCode, message: string, options: AuthenticationErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.error = options.error;
    this.errorDescription = options.errorDescription;
    this.traceId = TRACE_ID.exec(options.errorDescription ?? '')?.[1];
    this.reason = options.reason;
  }
}

/**
 * The readable first line of a Tessera (or Microsoft identity platform) `error_description`, without the
 * `Trace ID` / `Correlation ID` / `Timestamp` lines: `TSS65004: User declined to consent to access the app.`
 */
export function readableDescription(errorDescription: string | undefined): string | undefined {
  if (errorDescription === undefined || errorDescription === '') return undefined;
  return errorDescription.split(/\r?\n/)[0]?.trim();
}

/**
 * Wraps whatever oidc-client-ts (or the network) threw into an {@link AuthenticationError}; an
 * `ErrorResponse` keeps its `error` and `error_description`.
 */
export function toAuthenticationError(
  cause: unknown,
  code: AuthenticationErrorCode = 'authorization_error',
): AuthenticationError {
  if (cause instanceof AuthenticationError) return cause;
  const fields = (typeof cause === 'object' && cause !== null ? cause : {}) as {
    error?: unknown;
    error_description?: unknown;
    message?: unknown;
  };
  const error = typeof fields.error === 'string' ? fields.error : undefined;
  const errorDescription =
    typeof fields.error_description === 'string' ? fields.error_description : undefined;
  const message =
    readableDescription(errorDescription) ??
    (typeof fields.message === 'string' && fields.message !== '' ? fields.message : undefined) ??
    error ??
    'Sign-in failed.';
  if (error === undefined && /no matching state/i.test(message)) {
    return new AuthenticationError(
      'state_mismatch',
      'The sign-in response matches no request of this browser.',
      {
        cause,
      },
    );
  }
  if (error === undefined && /issuer|iss\b/i.test(message)) {
    return new AuthenticationError('issuer_mismatch', message, { cause });
  }
  return new AuthenticationError(code, message, { error, errorDescription, cause });
}
