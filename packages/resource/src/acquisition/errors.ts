import { AuthError, InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import { BearerTokenError } from '../errors.js';
import { insufficientClaims } from '../authorization/step-up.js';

/** One client-side failure of token acquisition: raised in this process, never answered by an authority. */
export interface AcquisitionErrorDefinition {
  /** The error's `message`. */
  readonly message: string;
  /** When it is raised; rendered into the table in `docs/resource.md`. */
  readonly meaning: string;
}

/**
 * The catalogue of the `error` values {@link TokenAcquisitionError} takes when no authority answer explains the
 * failure. Everything else in `error` comes from outside: the authority's OAuth error (RFC 6749 §5.2) or MSAL's own
 * client error code. A test keeps this table and the one in `docs/resource.md` in step.
 */
export const acquisitionErrorCatalogue = {
  no_token: {
    message: 'The authority returned no access token.',
    meaning:
      'The authority answered without an access token or its expiry (`expires_in`), so nothing can be returned or cached.',
  },
  acquisition_failed: {
    message: 'The token could not be acquired.',
    meaning:
      'Something other than MSAL failed while acquiring (an exception that is not an MSAL error); it is kept as `cause`.',
  },
} as const satisfies Record<string, AcquisitionErrorDefinition>;

/** The client-side `error` values of a {@link TokenAcquisitionError} (keys of {@link acquisitionErrorCatalogue}). */
export type AcquisitionErrorCode = keyof typeof acquisitionErrorCatalogue;

/**
 * A downstream token could not be obtained. Carries what the authority answered (RFC 6749 §5.2 `error`, the
 * platform's numeric `errorCodes`, `suberror`, a claims challenge for `interaction_required`) and keeps the
 * MSAL error as `cause`; a failure with no answer takes its `error` and `message` from
 * {@link acquisitionErrorCatalogue} ({@link TokenAcquisitionError.fromCatalogue}).
 */
export class TokenAcquisitionError extends Error {
  override readonly name = 'TokenAcquisitionError';
  /**
   * OAuth `error` from the authority (`invalid_grant`, `unsupported_grant_type`…), MSAL's client error code, or an
   * {@link AcquisitionErrorCode}.
   */
  readonly error: string;
  /** The platform's numeric codes (`error_codes`), e.g. `[70003]`; empty for client-side failures. */
  readonly errorCodes: readonly number[];
  readonly suberror: string | undefined;
  /** JSON claims request from an `interaction_required` answer (On-Behalf-Of and conditional access). */
  readonly claims: string | undefined;
  readonly correlationId: string | undefined;

  constructor(
    message: string,
    fields: {
      error: string;
      errorCodes?: readonly number[];
      suberror?: string;
      claims?: string;
      correlationId?: string;
      cause?: unknown;
    },
  ) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.error = fields.error;
    this.errorCodes = fields.errorCodes ?? [];
    this.suberror = fields.suberror;
    this.claims = fields.claims;
    this.correlationId = fields.correlationId;
  }

  /**
   * The client-side failure `code` of {@link acquisitionErrorCatalogue}: its catalogue message, no `errorCodes`,
   * and `cause` (when given) for logs.
   */
  static fromCatalogue(code: AcquisitionErrorCode, cause?: unknown): TokenAcquisitionError {
    return new TokenAcquisitionError(acquisitionErrorCatalogue[code].message, {
      error: code,
      ...(cause === undefined ? {} : { cause }),
    });
  }

  /**
   * For an API calling an API on behalf of its caller: when the authority asks for more (`claims`), the API passes
   * the challenge back to its own client as `insufficient_claims`; otherwise `undefined` (answer 500 / 502).
   */
  toClaimsChallenge(): BearerTokenError | undefined {
    return this.claims === undefined || this.claims === '' ? undefined : insufficientClaims(this.claims);
  }
}

/** Converts what MSAL throws into a {@link TokenAcquisitionError}. */
export function fromMsalError(error: unknown): TokenAcquisitionError {
  if (error instanceof TokenAcquisitionError) return error;
  if (error instanceof AuthError) {
    const errorNo: unknown =
      error instanceof ServerError || error instanceof InteractionRequiredAuthError
        ? error.errorNo
        : undefined;
    const number = Number(errorNo);
    return new TokenAcquisitionError(error.errorMessage || error.message, {
      error: error.errorCode,
      errorCodes: errorNo === undefined || !Number.isInteger(number) ? [] : [number],
      ...(error.subError ? { suberror: error.subError } : {}),
      ...(error instanceof InteractionRequiredAuthError && error.claims ? { claims: error.claims } : {}),
      ...(error.correlationId ? { correlationId: error.correlationId } : {}),
      cause: error,
    });
  }
  return TokenAcquisitionError.fromCatalogue('acquisition_failed', error);
}
