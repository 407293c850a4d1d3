import { errors } from 'jose';
import { BearerTokenError } from '../errors.js';

/**
 * Maps what validation throws to the catalogue: jose's errors get their codes, errors already mapped (header, key,
 * discovery, issuer, access-token and tenant checks) pass through, and anything unexpected becomes
 * `validation_failed`, so the validator always fails closed with a safe description while the original message
 * stays in `detail` / `cause` for logs.
 *
 * @see jose `src/util/errors.ts` (stable `code` per failure)
 */
export function fromJoseError(error: unknown): BearerTokenError {
  if (error instanceof BearerTokenError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new BearerTokenError('algorithm_not_allowed', { detail, cause: error });
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new BearerTokenError('signature_invalid', { detail, cause: error });
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return new BearerTokenError('token_malformed', { detail, cause: error });
  }
  if (error instanceof errors.JWTExpired) {
    return new BearerTokenError(error.claim === 'exp' ? 'token_expired' : 'claim_invalid', {
      detail,
      cause: error,
    });
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    const failed = error.reason === 'check_failed';
    if (error.claim === 'aud') return new BearerTokenError('audience_invalid', { detail, cause: error });
    if (error.claim === 'nbf' && failed)
      return new BearerTokenError('token_not_yet_valid', { detail, cause: error });
    return new BearerTokenError('claim_invalid', { detail, cause: error });
  }
  return new BearerTokenError('validation_failed', { detail, cause: error });
}
