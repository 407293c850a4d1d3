import { AuthError, InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import { BearerTokenError } from '../errors.js';
import { insufficientClaims } from '../authorization/step-up.js';

/**
 * A downstream token could not be obtained. Carries what the authority answered (RFC 6749 §5.2 `error`, the
 * platform's numeric `errorCodes`, `suberror`, a claims challenge for `interaction_required`) and keeps the
 * MSAL error as `cause`.
 */
export class TokenAcquisitionError extends Error {
  override readonly name = 'TokenAcquisitionError';
  /** OAuth `error` from the authority (`invalid_grant`, `unsupported_grant_type`…), or MSAL's client error code. */
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
  return new TokenAcquisitionError(error instanceof Error ? error.message : String(error), {
    error: 'acquisition_failed',
    cause: error,
  });
}
