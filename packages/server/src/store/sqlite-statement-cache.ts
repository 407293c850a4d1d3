import type { Database as SqliteConnection, Statement } from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/** How many distinct statements are kept prepared (Kysely's SQL is parameterised, so the set is small). */
export const PREPARED_STATEMENT_CACHE_SIZE = 256;

/**
 * The better-sqlite3 connection as Kysely's `SqliteDialect` sees it, with its prepared statements kept: Kysely
 * prepares every query again (`db.prepare(sql)` per call), which SQLite then parses and plans each time. Here a
 * statement is prepared once per SQL text and reused, the least recently used dropped beyond
 * {@link PREPARED_STATEMENT_CACHE_SIZE}. Reuse is safe because a better-sqlite3 statement keeps no state between
 * `all` / `run` calls and is re-planned by SQLite after a schema change; Tessera never streams a query
 * (`iterate`), the one use that keeps a statement busy.
 */
export function withPreparedStatementCache(
  connection: SqliteConnection,
  size = PREPARED_STATEMENT_CACHE_SIZE,
): SqliteDatabase {
  const statements = new Map<string, Statement>();
  return {
    close(): void {
      statements.clear();
      connection.close();
    },
    prepare(sql: string): Statement {
      let statement = statements.get(sql);
      if (statement !== undefined) {
        // Most recently used last: Map keeps insertion order.
        statements.delete(sql);
      } else {
        statement = connection.prepare(sql);
        if (statements.size >= size) statements.delete(statements.keys().next().value as string);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}
