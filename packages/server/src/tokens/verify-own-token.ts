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
  return (await verifyOwnJwt(keyRing, base, token, clockSkewSeconds))?.payload;
}

/**
 * Verifies an access token this server issued, as {@link verifyOwnToken} does, and refuses every other JWT it
 * signs: an access token says `idtyp` `user` or `app`, carries a `uti`, and its header `typ` matches its version
 * (`at+jwt` for `ver: "2.0"`, RFC 9068 §2.1; `JWT` for `ver: "1.0"`). ID tokens carry none of these, so they are
 * never taken for access tokens (RFC 7662 §2.2 `active`, OIDC Core §5.3.1).
 *
 * Revocation is the caller's check ({@link RevocationList}).
 *
 * @returns the claims, or undefined (never throws).
 */
export async function verifyOwnAccessToken(
  keyRing: KeyRing,
  base: string,
  token: string,
  clockSkewSeconds: number,
): Promise<JWTPayload | undefined> {
  const verified = await verifyOwnJwt(keyRing, base, token, clockSkewSeconds);
  if (verified === undefined) return undefined;
  const { payload, typ } = verified;
  if (payload.idtyp !== 'user' && payload.idtyp !== 'app') return undefined;
  if (typeof payload.uti !== 'string' || payload.uti === '') return undefined;
  const expectedTyp = payload.ver === '2.0' ? 'at+jwt' : payload.ver === '1.0' ? 'JWT' : undefined;
  return expectedTyp !== undefined && typ === expectedTyp ? payload : undefined;
}

async function verifyOwnJwt(
  keyRing: KeyRing,
  base: string,
  token: string,
  clockSkewSeconds: number,
): Promise<{ payload: JWTPayload; typ: string | undefined } | undefined> {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  try {
    const tid = decodeJwt(token).tid;
    if (typeof tid !== 'string') return undefined;
    const jwks = createLocalJWKSet({ keys: keyRing.publishedKeys.map((key) => ({ ...key })) });
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: [issuerV2(base, tid), issuerV1(base, tid)],
      algorithms: ['RS256', 'ES256'],
      clockTolerance: clockSkewSeconds,
    });
    return { payload, typ: protectedHeader.typ };
  } catch {
    return undefined;
  }
}
