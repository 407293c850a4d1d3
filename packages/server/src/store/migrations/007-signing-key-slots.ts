import { sql, type Kysely, type Migration } from 'kysely';

/**
 * One unretired signing key per algorithm (`retired_at is null`: the current key, or the next one a rotation
 * pre-published), as a partial unique index: nodes creating the first key at the same time insert against it
 * and exactly one succeeds (`store/repositories/signing-keys.ts`).
 *
 * A database where that race already happened holds several unretired keys of one algorithm: all but the newest
 * (latest activation, then greatest `kid`) are retired now, so they stay published for the retention period
 * while every node signs with the same key, and the directory version moves on so running nodes reload.
 */
export const signingKeySlotsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const repaired = await sql`
      update signing_keys set retired_at = ${nowSeconds}
      where retired_at is null and exists (
        select 1 from signing_keys newer
        where newer.alg = signing_keys.alg and newer.retired_at is null and (
          coalesce(newer.activates_at, newer.created_at) > coalesce(signing_keys.activates_at, signing_keys.created_at)
          or (coalesce(newer.activates_at, newer.created_at) = coalesce(signing_keys.activates_at, signing_keys.created_at)
            and newer.kid > signing_keys.kid)))
    `.execute(db);
    if (Number(repaired.numAffectedRows ?? 0n) > 0) {
      await sql`update directory_state set version = version + 1 where id = 1`.execute(db);
    }
    await sql`create unique index signing_keys_one_unretired_per_alg on signing_keys (alg) where retired_at is null`.execute(
      db,
    );
  },
};
