import type { Kysely } from 'kysely';
import { AuthorizationCodeRepository } from './repositories/authorization-codes.js';
import { DpopProofJtiRepository } from './repositories/dpop-proof-jtis.js';
import { InteractionStepRepository } from './repositories/interaction-steps.js';
import { RefreshTokenFamilyRepository } from './repositories/refresh-token-families.js';
import { SignInAttemptRepository } from './repositories/sign-in-attempts.js';
import { SsoSessionRepository } from './repositories/sso-sessions.js';
import { TokenRevocationRepository } from './repositories/token-revocations.js';
import type { Database } from './schema.js';

export type { Redemption, StoredAuthorizationCode } from './repositories/authorization-codes.js';
export type { StoredInteractionStep } from './repositories/interaction-steps.js';
export type { RefreshTokenFamily } from './repositories/refresh-token-families.js';

/**
 * Persistence of the high-volume sign-in state, one repository per aggregate (`store/repositories/`), on SQLite
 * and PostgreSQL alike: SSO sessions, interaction steps, sign-in attempt counters, authorization codes, refresh
 * token families and token revocations. These writes never bump the directory version (that would flush every
 * node's caches); each redemption is one conditional statement, so of two nodes racing for the same code or
 * refresh token exactly one wins.
 */
export class SignInStore {
  readonly sessions: SsoSessionRepository;
  readonly interactionSteps: InteractionStepRepository;
  readonly signInAttempts: SignInAttemptRepository;
  readonly codes: AuthorizationCodeRepository;
  readonly refreshFamilies: RefreshTokenFamilyRepository;
  readonly revocations: TokenRevocationRepository;
  /** DPoP proof `jti`s already used (RFC 9449 §11.1). */
  readonly dpopProofJtis: DpopProofJtiRepository;

  constructor(private readonly db: Kysely<Database>) {
    this.sessions = new SsoSessionRepository(db);
    this.interactionSteps = new InteractionStepRepository(db);
    this.signInAttempts = new SignInAttemptRepository(db);
    this.codes = new AuthorizationCodeRepository(db);
    this.revocations = new TokenRevocationRepository(db);
    this.refreshFamilies = new RefreshTokenFamilyRepository(db, this.revocations);
    this.dpopProofJtis = new DpopProofJtiRepository(db);
  }

  /**
   * Deletes, in one transaction, sign-in state nothing can use any more: authorization codes past their expiry,
   * SSO sessions that ended, expired or sat idle longer than `idleSeconds` (with their app lists), and refresh
   * token families past their expiry (revoked or not; revoked but unexpired ones stay, so reuse of their tokens
   * is still recognised).
   *
   * @param now Unix seconds.
   * @param idleSeconds the SSO session idle timeout, seconds.
   * @returns how many rows of each kind were deleted.
   */
  async purgeExpired(
    now: number,
    idleSeconds: number,
  ): Promise<{ codes: number; sessions: number; refreshFamilies: number }> {
    return this.db.transaction().execute(async (trx) => ({
      codes: await this.codes.purgeExpired(trx, now),
      sessions: await this.sessions.purgeExpired(trx, now, idleSeconds),
      refreshFamilies: await this.refreshFamilies.purgeExpired(trx, now),
    }));
  }
}
