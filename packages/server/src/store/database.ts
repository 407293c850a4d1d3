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
  type KyselyConfig,
  type LogEvent,
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
import { withPreparedStatementCache } from './sqlite-statement-cache.js';
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

/** The names of the migrations this build knows, oldest first (a backup's restore checks them). */
export const KNOWN_MIGRATIONS: readonly string[] = Object.keys(migrations);

// PostgreSQL returns int8 as text by default; our int8 columns hold Unix seconds and counters, well inside 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

/** How a store connects: PostgreSQL's pool limits and timeouts (ignored by SQLite), SQLite's page cache. */
export interface DatabasePoolOptions {
  /** How long to wait for a new connection before the query fails, in milliseconds. */
  readonly connectionTimeoutMs?: number;
  /**
   * Longest a statement may run, in milliseconds: PostgreSQL's `statement_timeout` on each connection, and the
   * client's own `query_timeout` (a little longer) for a server that stopped answering.
   */
  readonly statementTimeoutMs?: number;
  /**
   * Called with an error a pooled connection raised outside a query (the server terminated it, the network
   * dropped it), idle or checked out between two statements. The pool discards the connection and opens another
   * when next needed; without a listener Node would treat the event as fatal and end the process.
   */
  readonly onConnectionError?: (error: Error) => void;
  /**
   * Told of every statement Kysely ran (both dialects): its duration in milliseconds, its kind (the SQL's first
   * keyword, lower case: `select`, `insert`, `update`, `delete`, `with`, …; never the text) and whether it failed.
   * For metrics: it must not do I/O.
   */
  readonly onQuery?: (durationMs: number, kind: string, failed: boolean) => void;
  /**
   * SQLite only: the page cache of the connection, in MiB (`PRAGMA cache_size`, set as a negative KiB count).
   * Default: the build's, 16 MiB for better-sqlite3.
   */
  readonly sqliteCacheSizeMiB?: number;
}

/** The first keyword of a statement, lower case (`select`, `insert`, …), or `other`. */
function statementKind(sqlText: string): string {
  const keyword = /^\s*([A-Za-z]+)/.exec(sqlText)?.[1];
  return keyword === undefined ? 'other' : keyword.toLowerCase();
}

/** Kysely's `log` option for {@link DatabasePoolOptions.onQuery}; none when absent. */
function queryLog(onQuery: DatabasePoolOptions['onQuery']): KyselyConfig['log'] {
  if (onQuery === undefined) return undefined;
  return (event: LogEvent) => {
    onQuery(event.queryDurationMillis, statementKind(event.query.sql), event.level === 'error');
  };
}

/** Connections in the pool of one PostgreSQL store. */
const POSTGRES_POOL_MAX = 10;

/** Extra time the client waits past `statement_timeout` before it gives up on a silent server, in ms. */
const QUERY_TIMEOUT_MARGIN_MS = 1000;

/**
 * Opens a Kysely connection for the target. SQLite runs in WAL mode so the CLI and a running server can share the
 * file; `busy_timeout` (ms) lets a writer wait for another instead of failing. PostgreSQL gets a pool of
 * {@link POSTGRES_POOL_MAX} connections with the {@link DatabasePoolOptions} timeouts and an `'error'` listener.
 */
export function openDatabase(target: DatabaseTarget, options: DatabasePoolOptions = {}): Kysely<Database> {
  if (target.dialect === 'postgres') {
    const { connectionTimeoutMs, statementTimeoutMs, onConnectionError } = options;
    const pool = new pg.Pool({
      connectionString: target.url,
      max: POSTGRES_POOL_MAX,
      ...(connectionTimeoutMs === undefined ? {} : { connectionTimeoutMillis: connectionTimeoutMs }),
      ...(statementTimeoutMs === undefined
        ? {}
        : {
            statement_timeout: statementTimeoutMs,
            query_timeout: statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
          }),
    });
    // Every connection gets a listener of its own: one checked out (a transaction between statements) has no
    // pool listener, and its 'error' would be an uncaught exception. The pool's re-emission for idle ones is then
    // the same error again, already reported.
    pool.on('connect', (client) => {
      client.on('error', (error) => {
        onConnectionError?.(error);
      });
    });
    pool.on('error', () => undefined);
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: queryLog(options.onQuery) });
  }
  if (target.file !== ':memory:') mkdirSync(dirname(target.file), { recursive: true });
  const sqlite = new SQLite(target.file);
  sqlite.pragma('journal_mode = WAL');
  // FULL (SQLite's default, said here so nobody lowers it for speed): every commit is synced to disk before it
  // returns, so a rotated refresh token or a redeemed code survives a power loss, not only a process crash.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  if (options.sqliteCacheSizeMiB !== undefined) {
    sqlite.pragma(`cache_size = ${-Math.round(options.sqliteCacheSizeMiB * 1024)}`);
  }
  return new Kysely<Database>({
    dialect: new SqliteDialect({ database: withPreparedStatementCache(sqlite) }),
    log: queryLog(options.onQuery),
  });
}

/** Node's error codes for a network peer that cannot be reached or went away. */
const UNREACHABLE_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs of a server that is not serving now (class 08 connection exceptions are matched by prefix):
 * shutting down or starting up (57P01–57P03), out of connections (53300), a statement cancelled by
 * `statement_timeout` (57014).
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014']);

/** What node-postgres throws, without a code, for a connection it lost or could not open in time. */
const PG_CONNECTION_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Query read timeout$/,
  /is not queryable$/,
];

/**
 * True when `error` (or one of its causes) says the database cannot be reached now — connection refused, reset or
 * timed out (Node's codes), lost or not opened in time (node-postgres), or a server shutting down, starting up,
 * out of connections or past `statement_timeout` (PostgreSQL SQLSTATE) — rather than that the request was wrong:
 * the request may succeed if retried later.
 */
export function isStoreUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 8; depth += 1) {
    const failure: Error = current;
    const code = (failure as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (
        UNREACHABLE_NETWORK_CODES.has(code) ||
        UNAVAILABLE_SQLSTATES.has(code) ||
        /^08[0-9A-Z]{3}$/.test(code)
      ) {
        return true;
      }
    } else if (PG_CONNECTION_MESSAGES.some((pattern) => pattern.test(failure.message))) {
      return true;
    }
    if (failure instanceof AggregateError && failure.errors.some((inner) => isStoreUnavailable(inner))) {
      return true;
    }
    current = failure.cause;
  }
  return false;
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
