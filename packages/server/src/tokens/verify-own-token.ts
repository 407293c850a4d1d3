import { createLocalJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import type { KeyRing } from '../keys/key-ring.js';
import { issuerV1, issuerV2 } from './issuer.js';

/** Largest token verified, in characters. */
const MAX_TOKEN_LENGTH = 16_384;

/**
 * Verifies a JWT this server issued (access or ID token): signature by a published key (RS256 / ES256 only), `iss`
 * the v1 or v2 issuer of its own `tid`, lifetime with `clockSkewSeconds` tolerance.
 *
 * @returns the claims, or undefined for anything else (never throws).
 */
export async function verifyOwnToken(
  keyRing: KeyRing,
  base: string,
  token: string,
  clockSkewSeconds: number,
): Promise<JWTPayload | undefined> {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  try {
    const tid = decodeJwt(token).tid;
    if (typeof tid !== 'string') return undefined;
    const jwks = createLocalJWKSet({ keys: keyRing.publishedKeys.map((key) => ({ ...key })) });
    const { payload } = await jwtVerify(token, jwks, {
      issuer: [issuerV2(base, tid), issuerV1(base, tid)],
      algorithms: ['RS256', 'ES256'],
      clockTolerance: clockSkewSeconds,
    });
    return payload;
  } catch {
    return undefined;
  }
}
