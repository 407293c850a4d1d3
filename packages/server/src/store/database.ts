import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  PostgresAdapter,
  PostgresDialect,
  sql,
  SqliteDialect,
  type Migration,
  type MigrationProvider,
} from 'kysely';
import pg from 'pg';
import { directoryMigration } from './migrations/001-directory.js';
import { signInMigration } from './migrations/002-sign-in.js';
import { keyActivationMigration } from './migrations/003-key-activation.js';
import { tokenRevocationsMigration } from './migrations/004-token-revocations.js';
import { signInInteractionsMigration } from './migrations/005-sign-in-interactions.js';
import { directoryChangesMigration } from './migrations/006-directory-changes.js';
import { signingKeySlotsMigration } from './migrations/007-signing-key-slots.js';
import { interactionResumeMigration } from './migrations/008-interaction-resume.js';
import { applicationOwnersMigration } from './migrations/009-application-owners.js';
import { grantIndexesMigration } from './migrations/010-grant-indexes.js';
import { auditLogsMigration } from './migrations/011-audit-logs.js';
import { userProfileMigration } from './migrations/012-user-profile.js';
import { collectionIndexesMigration } from './migrations/013-collection-indexes.js';
import { conditionalAccessPoliciesMigration } from './migrations/014-conditional-access-policies.js';
import { authenticationMethodsMigration } from './migrations/015-authentication-methods.js';
import { dpopBindingMigration } from './migrations/016-dpop-binding.js';
import type { Database } from './schema.js';

/** Where the store lives: an embedded SQLite file, or a PostgreSQL server. */
export type DatabaseTarget =
  | { readonly dialect: 'sqlite'; readonly file: string }
  | { readonly dialect: 'postgres'; readonly url: string };

const migrations: Record<string, Migration> = {
  '001-directory': directoryMigration,
  '002-sign-in': signInMigration,
  '003-key-activation': keyActivationMigration,
  '004-token-revocations': tokenRevocationsMigration,
  '005-sign-in-interactions': signInInteractionsMigration,
  '006-directory-changes': directoryChangesMigration,
  '007-signing-key-slots': signingKeySlotsMigration,
  '008-interaction-resume': interactionResumeMigration,
  '009-application-owners': applicationOwnersMigration,
  '010-grant-indexes': grantIndexesMigration,
  '011-audit-logs': auditLogsMigration,
  '012-user-profile': userProfileMigration,
  '013-collection-indexes': collectionIndexesMigration,
  '014-conditional-access-policies': conditionalAccessPoliciesMigration,
  '015-authentication-methods': authenticationMethodsMigration,
  '016-dpop-binding': dpopBindingMigration,
};

const migrationProvider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

// PostgreSQL returns int8 as text by default; our int8 columns hold Unix seconds and counters, well inside 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

/**
 * Opens a Kysely connection for the target. SQLite runs in WAL mode so the CLI and a running server can share the
 * file; `busy_timeout` (ms) lets a writer wait for another instead of failing.
 */
export function openDatabase(target: DatabaseTarget): Kysely<Database> {
  if (target.dialect === 'postgres') {
    return new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: target.url, max: 10 }) }),
    });
  }
  if (target.file !== ':memory:') mkdirSync(dirname(target.file), { recursive: true });
  const sqlite = new SQLite(target.file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}

/**
 * True when `error` is a unique or primary-key violation (SQLite `SQLITE_CONSTRAINT_UNIQUE` /
 * `SQLITE_CONSTRAINT_PRIMARYKEY`, PostgreSQL SQLSTATE 23505): another writer stored the same key first.
 */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Applies every pending migration.
 *
 * @throws Error naming the failed migration when one fails (the database is left at the last good one).
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  // On PostgreSQL the migrator looks for its own tables in every schema it can see, so another schema's
  // `kysely_migration_lock` (another application, or another Tessera) would make it skip creating ours: name ours.
  const migrationTableSchema =
    db.getExecutor().adapter instanceof PostgresAdapter
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    ...(migrationTableSchema === undefined ? {} : { migrationTableSchema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`Database migration ${failed} failed`, { cause: error });
  }
}
