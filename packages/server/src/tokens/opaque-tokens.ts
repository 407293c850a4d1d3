import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Hex SHA-256 of an opaque token (codes, refresh tokens, session cookies): what the store keeps. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new authorization code or session cookie value: 256 bits from the CSPRNG, base64url (43 characters). */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** A new refresh token family id: 128 random bits, hex. */
export function newFamilyId(): string {
  return randomBytes(16).toString('hex');
}

/** What a refresh token names, authenticated by its MAC. */
export interface RefreshTokenClaims {
  /** Hex, 16 bytes. */
  readonly familyId: string;
  readonly generation: number;
  /** GUID of the user. */
  readonly userId: string;
  /** GUID of the user's tenant. */
  readonly tenantId: string;
}

const HEAD_BYTES = 16 + 4 + 16 + 16;
const MAC_BYTES = 32;

const guidBytes = (guid: string) => Buffer.from(guid.replaceAll('-', ''), 'hex');
const guidText = (bytes: Buffer) => {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

/**
 * A refresh token: base64url of `family id (16) ‖ generation (uint32 BE) ‖ user id (16) ‖ tenant id (16) ‖
 * HMAC-SHA256(key, all before)` (112 characters). The MAC lets the server refuse garbage without I/O, tell a
 * rotated token of its own (reuse) from a forgery, and check consent before the one rotation statement; the store
 * keeps only the SHA-256 of the family's current token.
 *
 * @see RFC 9700 §4.14.2 (refresh token rotation)
 */
export function mintRefreshToken(key: Buffer, claims: RefreshTokenClaims): string {
  const head = Buffer.alloc(HEAD_BYTES);
  Buffer.from(claims.familyId, 'hex').copy(head, 0);
  head.writeUInt32BE(claims.generation, 16);
  guidBytes(claims.userId).copy(head, 20);
  guidBytes(claims.tenantId).copy(head, 36);
  const mac = createHmac('sha256', key).update(head).digest();
  return Buffer.concat([head, mac]).toString('base64url');
}

/** Parses and authenticates a refresh token; `undefined` when this server did not mint it. */
export function openRefreshToken(key: Buffer, token: string): RefreshTokenClaims | undefined {
  if (token.length > 200 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const raw = Buffer.from(token, 'base64url');
  if (raw.length !== HEAD_BYTES + MAC_BYTES) return undefined;
  const head = raw.subarray(0, HEAD_BYTES);
  const expected = createHmac('sha256', key).update(head).digest();
  if (!timingSafeEqual(expected, raw.subarray(HEAD_BYTES))) return undefined;
  return {
    familyId: head.subarray(0, 16).toString('hex'),
    generation: head.readUInt32BE(16),
    userId: guidText(head.subarray(20, 36)),
    tenantId: guidText(head.subarray(36, 52)),
  };
}
