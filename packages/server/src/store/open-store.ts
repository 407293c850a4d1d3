import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { TesseraConfig } from '../config/config.js';
import {
  isStoreUnavailable,
  migrateToLatest,
  openDatabase,
  type DatabasePoolOptions,
  type DatabaseTarget,
} from './database.js';
import { DirectoryStore } from './directory-store.js';
import type { Database } from './schema.js';

/** Where the store lives for a configuration. */
export function databaseTarget(config: TesseraConfig): DatabaseTarget {
  return config.databaseUrl === undefined
    ? { dialect: 'sqlite', file: join(config.dataDir, 'tessera.db') }
    : { dialect: 'postgres', url: config.databaseUrl };
}

/** Where {@link openStore} reports what happens to the database connection (a pino logger fits). */
export interface StoreLog {
  warn(details: object, message: string): void;
}

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** Logs connections the server dropped and each failed start-up attempt. */
  readonly log?: StoreLog;
  /**
   * Keep retrying while the database cannot be reached, up to the configured `databaseStartupRetrySeconds` (the
   * server); the CLI fails at once.
   */
  readonly retryWhileUnavailable?: boolean;
  /** Told of every statement's duration (ms), kind and failure ({@link DatabasePoolOptions.onQuery}). */
  readonly onQuery?: DatabasePoolOptions['onQuery'];
}

/** First and largest pause between start-up attempts, in milliseconds (doubling in between). */
const FIRST_RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 5000;

/**
 * Opens and migrates the store of a configuration (used by the server and the CLI). With `retryWhileUnavailable`,
 * a database that cannot be reached ({@link isStoreUnavailable}) is retried with backoff for up to
 * `databaseStartupRetrySeconds`, each failure logged; any other error fails at once.
 *
 * @throws Error when the database cannot be opened or migrated (the last attempt's error once retrying ends).
 */
export async function openStore(
  config: TesseraConfig,
  options: OpenStoreOptions = {},
): Promise<{ db: Kysely<Database>; store: DirectoryStore }> {
  const { log } = options;
  const db = openDatabase(databaseTarget(config), {
    connectionTimeoutMs: config.databaseConnectionTimeoutMs,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    sqliteCacheSizeMiB: config.sqliteCacheSizeMiB,
    onConnectionError: (error) => {
      log?.warn({ err: error }, 'PostgreSQL dropped a connection; the pool opens another when needed');
    },
    ...(options.onQuery === undefined ? {} : { onQuery: options.onQuery }),
  });
  const deadlineMs =
    Date.now() + (options.retryWhileUnavailable === true ? config.databaseStartupRetrySeconds * 1000 : 0);
  let delayMs = FIRST_RETRY_DELAY_MS;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await migrateToLatest(db);
      return { db, store: new DirectoryStore(db) };
    } catch (error) {
      if (!isStoreUnavailable(error) || Date.now() + delayMs > deadlineMs) {
        await db.destroy();
        throw error;
      }
      log?.warn(
        { err: error, attempt, retryInMs: delayMs },
        'the database cannot be reached; retrying to connect and migrate',
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, MAX_RETRY_DELAY_MS);
    }
  }
}
