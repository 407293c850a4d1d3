import { hkdfSync } from 'node:crypto';
import { decryptWithMasterKey, encryptWithMasterKey } from '../keys/master-key.js';

/**
 * The AES-256 key that encrypts authenticator secrets at rest: HKDF-SHA256 (RFC 5869) of the master key with its
 * own purpose label, so it is the same on every node and a leak of another derived key exposes no secret.
 */
export function authenticationMethodKey(masterKey: Buffer): Buffer {
  return Buffer.from(
    hkdfSync('sha256', masterKey, Buffer.alloc(0), 'tessera authentication-method-secret v1', 32),
  );
}

/**
 * Encrypts a TOTP secret (AES-256-GCM, `v1.{iv}.{tag}.{ciphertext}`), bound to its user: a sealed secret copied to
 * another user's row (or another user's enrolment) does not decrypt.
 */
export function sealTotpSecret(key: Buffer, userId: string, secret: string): string {
  return encryptWithMasterKey(key, Buffer.from(secret, 'utf8'), associatedData(userId));
}

/** Decrypts {@link sealTotpSecret}'s output; undefined when it was altered or sealed for another user. */
export function openTotpSecret(key: Buffer, userId: string, sealed: string): string | undefined {
  try {
    return decryptWithMasterKey(key, sealed, associatedData(userId)).toString('utf8');
  } catch {
    return undefined;
  }
}

function associatedData(userId: string): string {
  return `tessera totp secret ${userId}`;
}
