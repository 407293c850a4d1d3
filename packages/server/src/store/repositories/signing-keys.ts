import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, SigningKeyTable } from '../schema.js';
import { recordChange } from './directory-changes.js';

/** A stored signing key (private part still encrypted). */
export interface StoredSigningKey {
  readonly kid: string;
  readonly alg: SigningKeyTable['alg'];
  readonly privateKeyEncrypted: string;
  readonly certificatePem: string;
  /** Unix seconds. */
  readonly createdAt: number;
  /** Unix seconds when a newer key replaced (or will replace) this one; null while current or next. */
  readonly retiredAt: number | null;
  /** Unix seconds when the key starts signing; null or absent: at {@link createdAt}. */
  readonly activatesAt?: number | null;
}

/**
 * Token signing keys (`signing_keys`), on SQLite and PostgreSQL alike. Per algorithm at most one key has no
 * retirement time (the newest: the current key, or the *next* one when a rotation pre-published it), enforced by
 * the unique index of migration 007, so nodes that create the first key at the same time cannot both succeed.
 * Every write records a `signingKey` change: each node reloads its key ring (`keys/key-ring.ts`).
 */
export class SigningKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Every stored signing key, newest first. */
  async list(): Promise<StoredSigningKey[]> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .selectAll()
      // Newest first; within one second the current key before the one it retired.
      .orderBy('created_at', 'desc')
      .orderBy(sql`retired_at is null`, 'desc')
      .execute();
    return rows.map((row) => ({
      kid: row.kid,
      alg: row.alg,
      privateKeyEncrypted: row.private_key_encrypted,
      certificatePem: row.certificate_pem,
      createdAt: row.created_at,
      retiredAt: row.retired_at,
      activatesAt: row.activates_at,
    }));
  }

  /**
   * Stores a new key for its algorithm (a rotation), signing from its activation time (`activatesAt`, default
   * `createdAt`), and retires every key of the algorithm that would still sign then (the current one, and a next
   * one not yet active) at that same instant.
   *
   * @throws the database's unique violation for a `kid` already stored (see `isUniqueViolation`).
   */
  async insert(trx: Transaction<Database>, key: StoredSigningKey): Promise<void> {
    const activatesAt = key.activatesAt ?? key.createdAt;
    await trx
      .updateTable('signing_keys')
      .set({ retired_at: activatesAt })
      .where('alg', '=', key.alg)
      .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', activatesAt)]))
      .execute();
    await trx
      .insertInto('signing_keys')
      .values(toRow({ ...key, retiredAt: null }))
      .execute();
    await recordChange(trx, 'signingKey', key.kid);
  }

  /**
   * Stores `key` (not retired) only when its algorithm has no key without a retirement time: one statement that
   * the unique index on unretired keys per algorithm guards, so of nodes racing to create the first key exactly
   * one stores it and the others store nothing (they then read the winner's key).
   *
   * @returns true when `key` was stored.
   */
  async insertIfNoneUnretired(trx: Transaction<Database>, key: StoredSigningKey): Promise<boolean> {
    const result = await trx
      .insertInto('signing_keys')
      .values(toRow({ ...key, retiredAt: null }))
      .onConflict((oc) => oc.column('alg').where('retired_at', 'is', null).doNothing())
      .executeTakeFirst();
    const stored = Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    if (stored) await recordChange(trx, 'signingKey', key.kid);
    return stored;
  }

  /**
   * Deletes keys retired before `before` (Unix seconds); they can no longer verify any live token.
   *
   * @returns how many were deleted.
   */
  async deleteRetiredBefore(trx: Transaction<Database>, before: number): Promise<number> {
    const result = await trx.deleteFrom('signing_keys').where('retired_at', '<', before).executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    if (deleted > 0) await recordChange(trx, 'signingKey', '');
    return deleted;
  }
}

function toRow(key: StoredSigningKey): SigningKeyTable {
  return {
    kid: key.kid,
    alg: key.alg,
    private_key_encrypted: key.privateKeyEncrypted,
    certificate_pem: key.certificatePem,
    created_at: key.createdAt,
    retired_at: key.retiredAt,
    activates_at: key.activatesAt ?? null,
  };
}
