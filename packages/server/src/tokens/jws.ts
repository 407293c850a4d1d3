import { randomFillSync, sign } from 'node:crypto';
import { promisify } from 'node:util';
import type { ActiveSigningKey } from '../keys/key-ring.js';

const signAsync = promisify(sign);

/** Encoded protected headers, per key and `typ`; they never change for a key. */
const encodedHeaders = new WeakMap<ActiveSigningKey, Map<string, string>>();

function encodedHeader(key: ActiveSigningKey, typ: string): string {
  let byTyp = encodedHeaders.get(key);
  if (byTyp === undefined) {
    byTyp = new Map();
    encodedHeaders.set(key, byTyp);
  }
  let header = byTyp.get(typ);
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ typ, alg: key.alg, kid: key.kid, x5t: key.x5t })).toString(
      'base64url',
    );
    byTyp.set(typ, header);
  }
  return header;
}

/**
 * Signs a JWT as a JWS in compact serialization (RFC 7515 §7.1) with the protected header
 * `{typ, alg, kid, x5t}`: RS256 (RSASSA-PKCS1-v1_5 SHA-256) or ES256 (ECDSA P-256 SHA-256, signature as R‖S per
 * RFC 7518 §3.4).
 *
 * Token issuance is the hot path, so this signs with `node:crypto` directly instead of `jose`'s `SignJWT`: jose 6
 * signs through WebCrypto, and measured on one core (bench:token, 2026-11-22) that path cost Tessera about 5% of the
 * RS256 token rate and more for ES256. Everything else JOSE — key export, JWKS, verification, client assertions —
 * stays with `jose`, and every test verifies issued tokens with `jose`.
 *
 * @param typ the `typ` header: `at+jwt` (RFC 9068) or `JWT`.
 * @returns the compact JWS.
 */
export async function signJwt(key: ActiveSigningKey, typ: string, claims: object): Promise<string> {
  const signingInput = `${encodedHeader(key, typ)}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = await signAsync(
    'sha256',
    Buffer.from(signingInput),
    key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey,
  );
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** Random bytes drawn in blocks: one CSPRNG call per 256 token ids instead of one per token. */
const idPool = Buffer.allocUnsafe(16 * 256);
let idOffset = idPool.length;

/** A unique token identifier (`uti`): 128 random bits, base64url (22 characters). */
export function newTokenId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const id = idPool.toString('base64url', idOffset, idOffset + 16);
  idOffset += 16;
  return id;
}
