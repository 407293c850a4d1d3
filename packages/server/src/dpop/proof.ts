import { createHash } from 'node:crypto';
import { IdentityError } from '@tessera/protocol';
import {
  DPOP_SIGNING_ALGORITHMS,
  DpopProofError,
  normalizeHtu,
  verifyDpopProof as verifyProof,
  type VerifiedDpopProof,
} from '@tessera/protocol';

export { DPOP_SIGNING_ALGORITHMS, normalizeHtu, type VerifiedDpopProof };

/** What a proof must match. */
export interface DpopProofExpectations {
  /** The request's method (`htm`). */
  readonly method: string;
  /** The request's URL as the client addressed it: public base URL + path (query and fragment are ignored). */
  readonly url: string;
  /** Unix seconds. */
  readonly now: number;
  /** How far `iat` may lie before or after `now`, seconds. */
  readonly windowSeconds: number;
  /** With an access token (resource access, §7): `ath` must be its base64url SHA-256. */
  readonly accessToken?: string | undefined;
}

/**
 * The one `DPoP` header value of a request (RFC 9449 §4.3 step 1), or undefined when there is none. Node joins
 * repeated headers with `, `; a compact JWS has no comma, so a comma means several headers.
 *
 * @param distinct the header's values as `IncomingMessage.headersDistinct` gives them.
 * @throws IdentityError 9100300 for several `DPoP` headers or an empty one.
 */
export function dpopHeaderOf(distinct: readonly string[] | undefined): string | undefined {
  if (distinct === undefined || distinct.length === 0) return undefined;
  const [value] = distinct;
  if (distinct.length > 1 || value === undefined || value.includes(',')) {
    throw invalid('the request carries more than one DPoP header.');
  }
  if (value.trim() === '') throw invalid('the DPoP header is empty.');
  return value.trim();
}

/**
 * Verifies a DPoP proof JWT (RFC 9449 §4.2, §4.3) except its single use, which the caller records
 * ({@link dpopReplayKey}), and its nonce, which the caller checks against its own: the checks of
 * `@tessera/protocol`'s `verifyDpopProof` (the same the resource library makes), with
 * {@link DPOP_SIGNING_ALGORITHMS} and `ath` when an access token is given.
 *
 * @throws IdentityError 9100300 (`invalid_dpop_proof`, 400) naming the first check that failed.
 */
export async function verifyDpopProof(
  proof: string,
  expected: DpopProofExpectations,
): Promise<VerifiedDpopProof> {
  try {
    return await verifyProof(proof, {
      method: expected.method,
      url: expected.url,
      nowSeconds: expected.now,
      windowSeconds: expected.windowSeconds,
      algorithms: DPOP_SIGNING_ALGORITHMS,
      accessTokenHash: expected.accessToken === undefined ? undefined : accessTokenHash(expected.accessToken),
    });
  } catch (error) {
    if (error instanceof DpopProofError) throw invalid(error.reason);
    throw error;
  }
}

/** The `ath` of an access token (RFC 9449 §4.2): base64url SHA-256 of its ASCII text. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/**
 * The replay cache key of a proof: hex SHA-256 of `{jkt}:{jti}`, so `jti`s of different keys never collide and
 * the stored id has a fixed size.
 */
export function dpopReplayKey(proof: VerifiedDpopProof): string {
  return createHash('sha256').update(`${proof.jkt}:${proof.jti}`).digest('hex');
}

function invalid(reason: string): IdentityError {
  return new IdentityError(9100300, { reason });
}
