/**
 * A fresh PostgreSQL database per benchmark run, so that a run never measures, or leaves behind, another's data.
 */
import pg from 'pg';

/**
 * Creates the database `tessera_bench_{purpose}_{pid}_{ms}` through `adminUrl` (a database the role can connect
 * to, with CREATEDB).
 *
 * @returns its URL and `drop()`, which drops it (`with (force)`: open connections of a crashed server too).
 */
export async function createPostgresDatabase(adminUrl, purpose) {
  const name = `tessera_bench_${purpose}_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
