import { hash as argon2Hash } from '@node-rs/argon2';

/**
 * argon2id parameters of new password hashes: OWASP Password Storage Cheat Sheet's first choice, m = 19 MiB,
 * t = 2, p = 1.
 */
export const ARGON2ID_PARAMETERS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Hashes a password with {@link ARGON2ID_PARAMETERS} (PHC string). */
export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password, ARGON2ID_PARAMETERS);
}
