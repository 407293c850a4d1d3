import { IdentityError } from '@tessera/protocol';
import { hashSecret, secretHashesEqual } from '../directory/credentials.js';
import type { Application } from '../directory/model.js';

/**
 * Checks a client secret against the application's `passwordCredentials` (SHA-256, constant-time).
 *
 * @param now Unix seconds.
 * @throws IdentityError 7000222 when it matches only an expired (or not yet valid) secret, 7000215 when it matches none.
 * @see RFC 6749 §2.3.1
 */
export function verifyClientSecret(application: Application, secret: string, now: number): void {
  const presented = hashSecret(secret);
  const match = application.passwordCredentials.find((credential) =>
    secretHashesEqual(credential.secretHash, presented),
  );
  if (match === undefined) throw new IdentityError(7000215, { clientId: application.appId });
  if (now < match.startAt || now >= match.endAt) {
    throw new IdentityError(
      7000222,
      { clientId: application.appId },
      { detail: `secret ${match.keyId} outside its validity` },
    );
  }
}
