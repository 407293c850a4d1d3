import { verify as argon2Verify } from '@node-rs/argon2';
import { IdentityError } from '@tessera/protocol';
import type { User } from '../directory/model.js';
import { hashPassword } from '../directory/passwords.js';
import type { DirectoryStore } from '../store/directory-store.js';
import type { SignInThrottle } from './sign-in-throttle.js';

export { ARGON2ID_PARAMETERS, hashPassword } from '../directory/passwords.js';

/** Limits of {@link PasswordSignIn}. */
export interface SignInLimits {
  readonly maxFailuresPerAccount: number;
  readonly maxFailuresPerIp: number;
}

/**
 * Password sign-in: throttled per account name and per client IP, and free of user enumeration — an unknown
 * name costs the same argon2id verification (against a dummy hash) and gets the same 50126 as a wrong password;
 * a disabled account (50057) is only revealed to someone who knows its password.
 */
export class PasswordSignIn {
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly store: DirectoryStore,
    private readonly throttle: SignInThrottle,
    private readonly limits: SignInLimits,
  ) {}

  /**
   * Verifies a user name and password. The attempt is first reserved — counted — against the account name and
   * the client IP, each in one atomic step and both in one transaction ({@link SignInThrottle.reserveAll}), so
   * parallel guesses cannot all pass the limit check before any is counted; a locked key refuses even the right
   * password without verifying it (and counts nothing against the other key). A wrong password keeps its
   * reservations (they are its failures); a right one takes back only its own, both in one transaction, so a
   * success never erases failures counted by other attempts.
   *
   * @param tenantId when set, the user must belong to this tenant (else treated as unknown).
   * @throws IdentityError 50053 (account or IP locked), 50126 (unknown user or wrong password), 50057 (disabled).
   */
  async verify(input: {
    userName: string;
    password: string;
    clientIp: string;
    tenantId?: string | undefined;
    nowMs: number;
  }): Promise<User> {
    const reservations = await this.throttle.reserveAll(
      [
        { key: `account:${input.userName.trim().toLowerCase()}`, limit: this.limits.maxFailuresPerAccount },
        { key: `ip:${input.clientIp}`, limit: this.limits.maxFailuresPerIp },
      ],
      input.nowMs,
    );
    if (reservations === undefined) throw new IdentityError(50053);
    const found =
      // No user name holds a NUL (and PostgreSQL text cannot): an unknown user, not a database error.
      input.userName.length > 256 || input.password.length > 1024 || input.userName.includes('\u0000')
        ? undefined
        : await this.store.users.findByUpn(input.userName.trim());
    const candidate =
      found !== undefined && (input.tenantId === undefined || found.tenantId === input.tenantId)
        ? found
        : undefined;
    const hash = candidate?.passwordHash ?? (await this.dummy());
    let valid = false;
    try {
      valid = await argon2Verify(hash, input.password.slice(0, 1024));
    } catch {
      valid = false;
    }
    if (!valid || candidate === undefined) throw new IdentityError(50126);
    await this.throttle.releaseAll(reservations);
    if (!candidate.accountEnabled) throw new IdentityError(50057);
    const { passwordHash: _hash, ...user } = candidate;
    return user;
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword('tessera dummy password for unknown users');
    return this.dummyHash;
  }
}
