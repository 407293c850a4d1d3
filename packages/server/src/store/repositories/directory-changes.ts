import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../schema.js';

/**
 * What a directory write changed, as a cache keeps it: an entity type and the id of the object whose data
 * changed. For the relations the id is the object they hang off (Graph's navigation properties): the principal
 * of an `appRoleAssignment`, the client service principal of an `oauth2PermissionGrant`.
 */
export type DirectoryEntityType =
  | 'tenant'
  | 'application'
  | 'servicePrincipal'
  | 'user'
  | 'appRoleAssignment'
  | 'oauth2PermissionGrant'
  | 'signingKey'
  /** A tenant's conditional access policies; the id is the tenant's. */
  | 'conditionalAccessPolicy';

/** One changed entity. */
export interface DirectoryChange {
  readonly entityType: DirectoryEntityType;
  /** Object id (`appId` for applications, `kid` for signing keys; empty when a write removed several keys). */
  readonly entityId: string;
}

/**
 * The changes between two directory versions: the list, or `'all'` when it is not known exactly (a node fell
 * further behind than the log keeps, the log was purged, or a write recorded no entity).
 */
export type DirectoryChanges = readonly DirectoryChange[] | 'all';

/** Versions of the change log kept; a node further behind than this drops every cached entry. */
export const CHANGE_LOG_RETAINED_VERSIONS = 1000;

/** The log is purged by the write whose version is a multiple of this. */
const CHANGE_LOG_PURGE_EVERY_VERSIONS = 100;

/** Most changes read in one poll; more means everything changed, as far as a cache is concerned. */
const MAX_CHANGES_PER_READ = 5000;

/**
 * Records that the write running in `trx` changed an entity, under the version {@link DirectoryChangeLog.begin}
 * gave that write. Recording the same entity twice in one write is harmless.
 */
export async function recordChange(
  trx: Transaction<Database>,
  entityType: DirectoryEntityType,
  entityId: string,
): Promise<void> {
  await trx
    .insertInto('directory_changes')
    .values((eb) => ({
      version: eb.selectFrom('directory_state').select('version').where('id', '=', 1),
      entity_type: entityType,
      entity_id: entityId,
    }))
    .onConflict((oc) => oc.columns(['version', 'entity_type', 'entity_id']).doNothing())
    .execute();
}

/**
 * The directory version (`directory_state.version`, one row) and the log of what each version changed
 * (`directory_changes`), written in the transaction of the write itself so a reader that sees a version also sees
 * its changes.
 */
export class DirectoryChangeLog {
  constructor(private readonly db: Kysely<Database>) {}

  /** The current directory version; it grows by one with every directory write. */
  async version(): Promise<number> {
    const row = await this.db
      .selectFrom('directory_state')
      .select('version')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return row.version;
  }

  /**
   * Starts a write in `trx`: takes the next version. The row lock this takes on PostgreSQL (and SQLite's single
   * writer) orders concurrent writers, so versions become visible in increasing order, each with its changes.
   *
   * @returns the version of this write.
   */
  async begin(trx: Transaction<Database>): Promise<number> {
    const { version } = await trx
      .updateTable('directory_state')
      .set((eb) => ({ version: eb('version', '+', 1) }))
      .where('id', '=', 1)
      .returning('version')
      .executeTakeFirstOrThrow();
    return version;
  }

  /**
   * Ends a write in `trx`: reads what it recorded and, every {@link CHANGE_LOG_PURGE_EVERY_VERSIONS} versions,
   * deletes log rows older than {@link CHANGE_LOG_RETAINED_VERSIONS}.
   *
   * @returns the write's changes, `'all'` when it recorded none.
   */
  async end(trx: Transaction<Database>, version: number): Promise<DirectoryChanges> {
    const rows = await trx
      .selectFrom('directory_changes')
      .select(['entity_type', 'entity_id'])
      .where('version', '=', version)
      .execute();
    if (version % CHANGE_LOG_PURGE_EVERY_VERSIONS === 0) {
      await trx
        .deleteFrom('directory_changes')
        .where('version', '<=', version - CHANGE_LOG_RETAINED_VERSIONS)
        .execute();
    }
    return rows.length === 0 ? 'all' : rows.map(fromRow);
  }

  /**
   * What changed after version `after` up to and including `upTo`.
   *
   * @returns the changes (none when `upTo` is `after`), or `'all'` when some version in the range has no rows
   *   (purged, or a write that recorded no entity), the range is too long to read, or `upTo` is below `after`.
   */
  async since(after: number, upTo: number): Promise<DirectoryChanges> {
    if (upTo === after) return [];
    // A version below the last one seen (a restored database) or too far behind: nothing is known exactly.
    if (upTo < after || upTo - after > CHANGE_LOG_RETAINED_VERSIONS) return 'all';
    const rows = await this.db
      .selectFrom('directory_changes')
      .select(['version', 'entity_type', 'entity_id'])
      .where('version', '>', after)
      .where('version', '<=', upTo)
      .orderBy('version')
      .limit(MAX_CHANGES_PER_READ + 1)
      .execute();
    if (rows.length > MAX_CHANGES_PER_READ) return 'all';
    // Versions are dense (each write takes the next one under a lock): one missing means its rows are gone.
    if (new Set(rows.map((row) => row.version)).size !== upTo - after) return 'all';
    return rows.map(fromRow);
  }
}

function fromRow(row: { entity_type: string; entity_id: string }): DirectoryChange {
  return { entityType: row.entity_type as DirectoryEntityType, entityId: row.entity_id };
}
