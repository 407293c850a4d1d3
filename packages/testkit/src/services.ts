import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

/** True under CI (`CI=true`): a service a suite needs must then be reachable, or the suite fails. */
export const underCi = process.env.CI === 'true' || process.env.CI === '1';

/** The PostgreSQL server tests use: `TESSERA_TEST_DATABASE_URL`, default the local `test` database. */
export const testPostgresUrl =
  process.env.TESSERA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<boolean> | undefined;

/**
 * Whether the test PostgreSQL server answers. Locally an unreachable server makes suites skip, with a loud
 * warning; under CI it throws so the run fails.
 *
 * @throws Error under CI when PostgreSQL cannot be reached.
 */
export async function postgresAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: testPostgresUrl, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  const ok = await reachable;
  if (!ok) {
    const message = `PostgreSQL at ${testPostgresUrl} is not reachable`;
    if (underCi) throw new Error(`${message}; CI requires it.`);
    console.warn(`\n!!! ${message}: SKIPPING the PostgreSQL runs. Start PostgreSQL to run them.\n`);
  }
  return ok;
}

/** A fresh PostgreSQL schema for one test suite, and a URL whose connections use it. */
export interface PostgresSchema {
  readonly url: string;
  readonly schema: string;
  drop(): Promise<void>;
}

/** Creates an empty schema (isolates parallel suites) and returns a connection URL scoped to it. */
export async function createPostgresSchema(): Promise<PostgresSchema> {
  const schema = `tessera_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = new URL(testPostgresUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    schema,
    async drop() {
      const client = new pg.Client({ connectionString: testPostgresUrl });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    },
  };
}

/** The Redis server tests use: `TESSERA_TEST_REDIS_URL`, default the local server. */
export const testRedisUrl = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let redisReachable: Promise<boolean> | undefined;

/**
 * Whether the test Redis answers. Locally an unreachable Redis makes suites skip, with a loud warning; under CI it
 * throws so the run fails.
 *
 * @throws Error under CI when Redis cannot be reached.
 */
export async function redisAvailable(): Promise<boolean> {
  redisReachable ??= (async () => {
    const client = new Redis(testRedisUrl, {
      lazyConnect: true,
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      return true;
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  })();
  const ok = await redisReachable;
  if (!ok) {
    const message = `Redis at ${testRedisUrl} is not reachable`;
    if (underCi) throw new Error(`${message}; CI requires it.`);
    console.warn(`\n!!! ${message}: SKIPPING the Redis runs. Start Redis to run them.\n`);
  }
  return ok;
}
