import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/database.js';

// The SQLite page cache is a fixed bound the operator sets (`sqliteCacheSizeMiB`): docs/configuration.md.
const dataDir = mkdtempSync(join(tmpdir(), 'tessera-page-cache-'));
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

async function cacheSize(sqliteCacheSizeMiB: number | undefined): Promise<number> {
  const db = openDatabase(
    { dialect: 'sqlite', file: join(dataDir, `cache-${sqliteCacheSizeMiB ?? 'default'}.db`) },
    sqliteCacheSizeMiB === undefined ? {} : { sqliteCacheSizeMiB },
  );
  try {
    const { rows } = await sql<{ cache_size: number }>`pragma cache_size`.execute(db);
    return rows[0]!.cache_size;
  } finally {
    await db.destroy();
  }
}

describe('SQLite page cache', () => {
  it('is set in KiB from the MiB the configuration gives', async () => {
    expect(await cacheSize(4)).toBe(-4096);
    expect(await cacheSize(1)).toBe(-1024);
  });

  it("keeps the build's 16 MiB when none is given", async () => {
    expect(await cacheSize(undefined)).toBe(-16_000);
  });
});
