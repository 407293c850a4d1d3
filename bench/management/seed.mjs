/**
 * Seeding of the management paging benchmark: the tenant, a daemon client holding Microsoft Graph's
 * `User.Read.All` application permission (both with Tessera's CLI, as an administrator would), then
 * BENCH_USERS (100,000) users written straight into the `users` table with SQL: batched, in one transaction,
 * every row with one shared argon2id hash made once (hashing 100,000 passwords would take longer than the
 * benchmark). The rows have the shape Tessera writes (random UUID object ids, lower-cased UPN, JSON roles,
 * `created_at` in Unix seconds); no directory change is recorded, so the server is started after seeding.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hash } from '@node-rs/argon2';
import Database from 'better-sqlite3';
import pg from 'pg';
import { runTesseraCli } from '../lib/tessera.mjs';

export const DOMAIN = 'bench.test';
export const GRAPH = 'https://graph.microsoft.com';

/**
 * The columns a `/v1.0/users` page reads (`collection-queries.ts`), in the order the raw query selects them; the
 * profile columns only where the table has them (migration 012).
 */
export const USER_COLUMNS = [
  'id',
  'tenant_id',
  'user_principal_name',
  'display_name',
  'account_enabled',
  'directory_roles',
];
export const USER_PROFILE_COLUMNS = ['mail_nickname', 'given_name', 'surname', 'job_title', 'mail'];

/**
 * Tenant bench.test and a daemon app with a secret and Graph's `User.Read.All` app role granted (the CLI, on
 * the data directory or on `env.DATABASE_URL`).
 *
 * @returns the tenant id, the daemon's client id and secret.
 */
export async function seedDirectory(repoRoot, env, dataDir) {
  const run = (args) => runTesseraCli(repoRoot, env, dataDir, args);
  const tenant = await run(['tenant', 'create', '--name', 'Bench', '--domain', DOMAIN]);
  const daemon = await run(['app', 'create', '--tenant', DOMAIN, '--name', 'Paging daemon']);
  const password = await run(['app', 'add-password', '--tenant', DOMAIN, '--app', daemon.appId]);
  await run([
    ...['app', 'grant', '--tenant', DOMAIN, '--client', daemon.appId],
    ...['--resource', GRAPH, '--role', 'User.Read.All'],
  ]);
  return { tenantId: tenant.id, clientId: daemon.appId, clientSecret: password.secretText };
}

/** `count` user rows of `tenantId`, as arrays in {@link insertColumns} order. */
async function userRows(tenantId, count) {
  const passwordHash = await hash('Bench-Password-9', { memoryCost: 19456, timeCost: 2, parallelism: 1 });
  const createdAt = Math.floor(Date.now() / 1000);
  const rows = [];
  for (let i = 1; i <= count; i += 1) {
    const n = String(i).padStart(6, '0');
    const upn = `user${n}@${DOMAIN}`;
    rows.push([randomUUID(), tenantId, upn, upn, `Bench User ${n}`, passwordHash, 1, '[]', createdAt]);
  }
  return rows;
}

const insertColumns = [
  'id',
  'tenant_id',
  'user_principal_name',
  'upn_lower',
  'display_name',
  'password_hash',
  'account_enabled',
  'directory_roles',
  'created_at',
];

/**
 * Inserts `count` users into the SQLite database of `dataDir` in one transaction (one prepared statement).
 *
 * @returns seconds spent inserting.
 */
export async function seedUsersSqlite(dataDir, tenantId, count) {
  const rows = await userRows(tenantId, count);
  const started = performance.now();
  const db = new Database(join(dataDir, 'tessera.db'));
  try {
    const insert = db.prepare(
      `insert into users (${insertColumns.join(', ')}) values (${insertColumns.map(() => '?').join(', ')})`,
    );
    db.transaction(() => {
      for (const row of rows) insert.run(row);
    })();
  } finally {
    db.close();
  }
  return (performance.now() - started) / 1000;
}

/**
 * Inserts `count` users into PostgreSQL at `url` in one transaction, 10,000 rows per statement (`unnest` of
 * one array per column), then `ANALYZE users` (what autovacuum would do soon after such a load).
 *
 * @returns seconds spent inserting and analysing.
 */
export async function seedUsersPostgres(url, tenantId, count) {
  const rows = await userRows(tenantId, count);
  const started = performance.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('begin');
    const types = ['text', 'text', 'text', 'text', 'text', 'text', 'int', 'text', 'bigint'];
    const unnest = types.map((type, i) => `$${i + 1}::${type}[]`).join(', ');
    const statement = `insert into users (${insertColumns.join(', ')}) select * from unnest(${unnest})`;
    for (let start = 0; start < rows.length; start += 10_000) {
      const batch = rows.slice(start, start + 10_000);
      await client.query(
        statement,
        insertColumns.map((_, column) => batch.map((row) => row[column])),
      );
    }
    await client.query('commit');
    await client.query('analyze users');
  } finally {
    await client.end();
  }
  return (performance.now() - started) / 1000;
}

/**
 * Adds the index `users_tenant_id` on `users (tenant_id, id)`, which keyset pages of one tenant need so that the
 * page is read in index order instead of sorting the whole tenant (BENCH_TENANT_ID_INDEX=1: what a migration
 * adding it would change).
 */
export async function addTenantIdIndex(dialect, location) {
  const statement = 'create index if not exists users_tenant_id on users (tenant_id, id)';
  if (dialect === 'sqlite') {
    const db = new Database(location);
    try {
      db.exec(statement);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: location });
  await client.connect();
  try {
    await client.query(statement);
    await client.query('analyze users');
  } finally {
    await client.end();
  }
}
