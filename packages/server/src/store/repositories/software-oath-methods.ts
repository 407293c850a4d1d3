import type { Kysely, Selectable } from 'kysely';
import { isUniqueViolation } from '../database.js';
import type { Database, SoftwareOathMethodTable } from '../schema.js';

/** A software OATH (TOTP) authenticator as stored: its secret only encrypted. */
export interface StoredSoftwareOathMethod {
  /** Graph `softwareOathAuthenticationMethod.id` (a GUID). */
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  /** `v1.{iv}.{tag}.{ciphertext}` (AES-256-GCM); see `users/totp-secrets.ts`. */
  readonly secretEncrypted: string;
  /** Unix seconds. */
  readonly createdAt: number;
  /** Unix seconds of the last accepted code; null before the first sign-in with it. */
  readonly lastUsedAt: number | null;
  /** The last accepted RFC 6238 time step (replay guard); 0 before any. */
  readonly lastTimeStep: number;
}

/**
 * Users' software OATH authenticators (`software_oath_methods`), at most one per user. Accepting a code is one
 * conditional UPDATE that raises the method's last time step, so of two nodes racing with the same code exactly
 * one accepts it (RFC 6238 §5.2: a verifier must not accept the same OTP twice).
 */
export class SoftwareOathMethodRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Stores a new method.
   *
   * @returns false when the user already has one (nothing written).
   */
  async insert(method: StoredSoftwareOathMethod): Promise<boolean> {
    try {
      await this.db
        .insertInto('software_oath_methods')
        .values({
          id: method.id,
          tenant_id: method.tenantId,
          user_id: method.userId,
          secret_encrypted: method.secretEncrypted,
          created_at: method.createdAt,
          last_used_at: method.lastUsedAt,
          last_time_step: method.lastTimeStep,
        })
        .execute();
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** The user's method, if any. */
  async findByUser(userId: string): Promise<StoredSoftwareOathMethod | undefined> {
    const row = await this.db
      .selectFrom('software_oath_methods')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /**
   * Accepts a code of time step `timeStep` for the method: one conditional UPDATE raises `last_time_step` only
   * when it is below `timeStep`.
   *
   * @param now Unix seconds (the method's `lastUsedAt`).
   * @returns false when that step or a later one was accepted already (a replay, or a racing node won).
   */
  async acceptTimeStep(id: string, timeStep: number, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('software_oath_methods')
      .set({ last_time_step: timeStep, last_used_at: now })
      .where('id', '=', id)
      .where('last_time_step', '<', timeStep)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Deletes the user's method `id`.
   *
   * @returns the deleted method, or undefined when the user has none with that id.
   */
  async delete(userId: string, id: string): Promise<StoredSoftwareOathMethod | undefined> {
    const row = await this.db
      .deleteFrom('software_oath_methods')
      .where('user_id', '=', userId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }
}

function fromRow(row: Selectable<SoftwareOathMethodTable>): StoredSoftwareOathMethod {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    secretEncrypted: row.secret_encrypted,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    lastTimeStep: row.last_time_step,
  };
}
