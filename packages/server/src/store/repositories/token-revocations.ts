import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../schema.js';

/** Told, right after a revocation write commits, the ids it recorded. */
export type RevocationListener = (ids: readonly string[]) => void;

/** The revocation id of a grant (a refresh token family and every token issued from it). */
export function grantRevocationId(grantId: string): string {
  return `g:${grantId}`;
}

/** The revocation id of one access token, by its `uti`. */
export function tokenRevocationId(uti: string): string {
  return `u:${uti}`;
}

/**
 * Revoked grants and access tokens (`token_revocations`), each under the `revocation_state` version it was
 * recorded in, which every node polls (`tokens/revocations.ts`).
 *
 * @see RFC 7009 §2.1, RFC 7662 §2.2
 */
export class TokenRevocationRepository {
  private readonly listeners: RevocationListener[] = [];

  constructor(private readonly db: Kysely<Database>) {}

  /** Calls `listener` with the ids of every revocation this repository records, right after it commits. */
  onRevoked(listener: RevocationListener): void {
    this.listeners.push(listener);
  }

  /**
   * Records revocations (`g:{grant id}`, `u:{uti}`; see {@link grantRevocationId}, {@link tokenRevocationId}) in
   * one transaction that also bumps `revocation_state.version`, then runs `alongside` (a write that must commit
   * with them) in the same transaction. Recording one twice is harmless; no ids is no write.
   *
   * @param now Unix seconds.
   */
  async record(
    ids: readonly string[],
    now: number,
    alongside?: (trx: Transaction<Database>) => Promise<void>,
  ): Promise<void> {
    if (ids.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      await insertRevocations(trx, ids, now);
      await alongside?.(trx);
    });
    for (const listener of this.listeners) listener(ids);
  }

  /**
   * Revocations recorded after `version` and at or after `revokedSince` (Unix seconds), in version order: one
   * indexed read, what each node polls.
   */
  async listAfter(
    version: number,
    revokedSince: number,
  ): Promise<{ readonly id: string; readonly version: number; readonly revokedAt: number }[]> {
    return this.db
      .selectFrom('token_revocations')
      .select(['id', 'version', 'revoked_at as revokedAt'])
      .where('version', '>', version)
      .where('revoked_at', '>=', revokedSince)
      .orderBy('version')
      .execute();
  }

  /** Whether a revocation is recorded (a fresh read, for the rare paths that must not wait for a poll). */
  async isRecorded(id: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('token_revocations')
      .select('id')
      .where('id', '=', id)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Deletes revocations recorded before `before` (Unix seconds): every token they covered has expired. */
  async purge(before: number): Promise<number> {
    const result = await this.db
      .deleteFrom('token_revocations')
      .where('revoked_at', '<', before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/**
 * Records revocations inside `trx` (a caller's own transaction, e.g. a directory write that must commit with
 * them), bumping `revocation_state.version`. This node's revocation list sees them at its next poll, as other
 * nodes do; {@link TokenRevocationRepository.record} also tells it at once.
 *
 * @param now Unix seconds.
 */
export async function insertRevocations(
  trx: Transaction<Database>,
  ids: readonly string[],
  now: number,
): Promise<void> {
  // The row lock on revocation_state orders concurrent writers, so versions become visible in increasing order.
  const { version } = await trx
    .updateTable('revocation_state')
    .set((eb) => ({ version: eb('version', '+', 1) }))
    .where('id', '=', 1)
    .returning('version')
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('token_revocations')
    .values(ids.map((id) => ({ id, version, revoked_at: now })))
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}
