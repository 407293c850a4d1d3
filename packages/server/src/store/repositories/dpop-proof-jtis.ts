import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** Seconds between purges of expired DPoP proof `jti`s, per node. */
const JTI_PURGE_INTERVAL_SECONDS = 60;

/**
 * DPoP proof `jti`s already used (`dpop_proof_jtis`), the replay cache of RFC 9449 §11.1. In the database rather
 * than Redis so that every deployment, one node on SQLite or many on PostgreSQL, shares it without another
 * service; one conditional INSERT per proof.
 */
export class DpopProofJtiRepository {
  private lastPurgeAt = 0;

  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Records a proof's replay key until `expiresAt` (Unix seconds). Atomic: of two nodes racing with the same proof,
   * exactly one gets `true`.
   *
   * @param id hex SHA-256 of `{jkt}:{jti}`.
   * @param now Unix seconds.
   * @returns false when the key is already recorded and not yet expired (a replay).
   */
  async use(id: string, expiresAt: number, now: number): Promise<boolean> {
    // Expired entries are purged at most once a minute per node, off the per-proof cost.
    if (now - this.lastPurgeAt >= JTI_PURGE_INTERVAL_SECONDS) {
      this.lastPurgeAt = now;
      await this.db.deleteFrom('dpop_proof_jtis').where('expires_at', '<', now).execute();
    }
    const result = await this.db
      .insertInto('dpop_proof_jtis')
      .values({ id, expires_at: expiresAt })
      // A row whose proof is past its window no longer blocks the id, purged or not.
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({ expires_at: expiresAt }).where('dpop_proof_jtis.expires_at', '<', now),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }
}
