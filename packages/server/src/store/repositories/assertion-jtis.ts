import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** Seconds between purges of expired client assertion `jti`s. */
const JTI_PURGE_INTERVAL_SECONDS = 60;

/**
 * Client assertion `jti`s already used (`client_assertion_jtis`), for strict single use of `private_key_jwt`
 * assertions (RFC 7523 §3, item 7). Not part of the directory: no version bump, no change record.
 */
export class AssertionJtiRepository {
  private lastPurgeAt = 0;

  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Records a client assertion's `jti` until `expiresAt` (Unix seconds). Atomic: of two nodes racing with the
   * same `jti`, exactly one gets `true`.
   *
   * @param now Unix seconds.
   */
  async use(id: string, expiresAt: number, now: number): Promise<boolean> {
    // Expired entries are purged at most once a minute per node, off the per-assertion cost.
    if (now - this.lastPurgeAt >= JTI_PURGE_INTERVAL_SECONDS) {
      this.lastPurgeAt = now;
      await this.db.deleteFrom('client_assertion_jtis').where('expires_at', '<', now).execute();
    }
    const result = await this.db
      .insertInto('client_assertion_jtis')
      .values({ id, expires_at: expiresAt })
      // A row whose assertion has expired no longer blocks the id, purged or not.
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet({ expires_at: expiresAt })
          .where('client_assertion_jtis.expires_at', '<', now),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }
}
