import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { TesseraConfig } from '../config/config.js';
import { migrateToLatest, openDatabase, type DatabaseTarget } from './database.js';
import { DirectoryStore } from './directory-store.js';
import type { Database } from './schema.js';

/** Where the store lives for a configuration. */
export function databaseTarget(config: TesseraConfig): DatabaseTarget {
  return config.databaseUrl === undefined
    ? { dialect: 'sqlite', file: join(config.dataDir, 'tessera.db') }
    : { dialect: 'postgres', url: config.databaseUrl };
}

/** Opens and migrates the store of a configuration (used by the server and the CLI). */
export async function openStore(
  config: TesseraConfig,
): Promise<{ db: Kysely<Database>; store: DirectoryStore }> {
  const db = openDatabase(databaseTarget(config));
  await migrateToLatest(db);
  return { db, store: new DirectoryStore(db) };
}
