import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  DirectoryStore,
  KeyRing,
  createTesseraServer,
  ensureSigningKeys,
  loadConfig,
  loadMasterKey,
  migrateToLatest,
  openDatabase,
  rotateSigningKeys,
  type DatabaseTarget,
} from '@tessera/server';
import { createPostgresSchema, postgresAvailable } from '@tessera/testkit';
import { sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildCli } from '../src/cli/program.js';
import { signingKeySlotsMigration } from '../src/store/migrations/007-signing-key-slots.js';

// Several nodes on one database: they create the first signing keys once (one guarded insert per algorithm),
// and on PostgreSQL they refuse to start without the shared master key instead of generating one each.

/** A fixed clock (Unix seconds). */
const NOW = 1_800_000_000;
const RETENTION_SECONDS = 3600;
const NODES = 5;

const pgAvailable = await postgresAvailable();

interface Dialect {
  readonly name: 'SQLite' | 'PostgreSQL';
  readonly available: boolean;
  /**
   * `nodes` stores on one fresh, migrated database. PostgreSQL: one connection pool per node, as separate
   * processes have. SQLite: one connection, shared (in one process its writers would wait on each other while
   * holding the event loop); concurrent callers still interleave at every await, as the race needs.
   */
  open(nodes: number): Promise<{ stores: DirectoryStore[]; db: Kysely<unknown>; close(): Promise<void> }>;
}

const dialects: Dialect[] = [
  {
    name: 'SQLite',
    available: true,
    async open(nodes) {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-keys-race-'));
      const db = openDatabase({ dialect: 'sqlite', file: join(dir, 'store.db') });
      await migrateToLatest(db);
      return {
        stores: Array.from({ length: nodes }, () => new DirectoryStore(db)),
        db: db as unknown as Kysely<unknown>,
        async close() {
          await db.destroy();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'PostgreSQL',
    available: pgAvailable,
    async open(nodes) {
      const schema = await createPostgresSchema();
      const target: DatabaseTarget = { dialect: 'postgres', url: schema.url };
      const dbs = Array.from({ length: nodes }, () => openDatabase(target));
      await migrateToLatest(dbs[0]!);
      return {
        stores: dbs.map((db) => new DirectoryStore(db)),
        db: dbs[0] as unknown as Kysely<unknown>,
        async close() {
          await Promise.all(dbs.map((db) => db.destroy()));
          await schema.drop();
        },
      };
    },
  },
];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function openNodes(dialect: Dialect, nodes: number) {
  const opened = await dialect.open(nodes);
  cleanups.push(() => opened.close());
  return opened;
}

describe.each(dialects)('signing keys of several nodes on $name', (dialect) => {
  it.skipIf(!dialect.available)(
    `${NODES} nodes starting at once store exactly one current key per algorithm and publish the same JWKS`,
    async () => {
      const { stores } = await openNodes(dialect, NODES);
      const masterKey = randomBytes(32);
      const created = await Promise.all(stores.map((store) => ensureSigningKeys(store, masterKey, NOW)));
      // Each algorithm's key was stored by exactly one node; the others stored nothing.
      expect(created.flat().sort()).toEqual(['ES256', 'RS256']);
      const keys = await stores[0]!.signingKeys.list();
      expect(
        keys
          .map((key) => ({ alg: key.alg, retiredAt: key.retiredAt }))
          .sort((a, b) => (a.alg < b.alg ? -1 : 1)),
      ).toEqual([
        { alg: 'ES256', retiredAt: null },
        { alg: 'RS256', retiredAt: null },
      ]);

      const rings = await Promise.all(
        stores.map((store) => KeyRing.load(store, masterKey, RETENTION_SECONDS, NOW)),
      );
      const published = rings.map((ring) => ring.publishedKeys.map((key) => key.kid));
      expect(published[0]).toHaveLength(2);
      for (const kids of published) expect(kids).toEqual(published[0]);
      for (const ring of rings) {
        expect(ring.signingKey('RS256', NOW).kid).toBe(rings[0]!.signingKey('RS256', NOW).kid);
        expect(ring.signingKey('ES256', NOW).kid).toBe(rings[0]!.signingKey('ES256', NOW).kid);
      }

      // A later start finds the keys and stores none.
      expect(await ensureSigningKeys(stores[1]!, masterKey, NOW + 60)).toEqual([]);
      expect(await stores[0]!.signingKeys.list()).toHaveLength(2);
    },
  );

  it.skipIf(!dialect.available)(
    'keeps one unretired key per algorithm across rotation; a first-key insert then stores nothing',
    async () => {
      const { stores } = await openNodes(dialect, 1);
      const store = stores[0]!;
      const masterKey = randomBytes(32);
      await ensureSigningKeys(store, masterKey, NOW);
      const [next] = await rotateSigningKeys(store, masterKey, ['RS256'], RETENTION_SECONDS, NOW + 10, 600);
      const unretired = (await store.signingKeys.list()).filter((key) => key.retiredAt === null);
      expect(unretired.map((key) => key.kid).sort()).toEqual(
        [next!.kid, unretired.find((key) => key.alg === 'ES256')!.kid].sort(),
      );
      const [newest] = await store.signingKeys.list();
      const stored = await store.write((trx) =>
        store.signingKeys.insertIfNoneUnretired(trx, {
          ...newest!,
          kid: 'another-first-key',
          retiredAt: null,
        }),
      );
      expect(stored).toBe(false);
      expect((await store.signingKeys.list()).map((key) => key.kid)).not.toContain('another-first-key');
    },
  );

  it.skipIf(!dialect.available)(
    'migration 007 retires all but the newest of several unretired keys of one algorithm, then guards the slot',
    async () => {
      const { db } = await openNodes(dialect, 1);
      // A database the race already hit: drop the guard, store three current RS256 keys and one ES256 key.
      await sql`drop index signing_keys_one_unretired_per_alg`.execute(db);
      const row = (kid: string, alg: string, createdAt: number, activatesAt: number | null = null) =>
        sql`insert into signing_keys (kid, alg, private_key_encrypted, certificate_pem, created_at, retired_at, activates_at)
            values (${kid}, ${alg}, 'v1.x.y.z', 'pem', ${createdAt}, null, ${activatesAt})`.execute(db);
      await row('rs-a', 'RS256', NOW);
      await row('rs-b', 'RS256', NOW);
      await row('rs-c', 'RS256', NOW - 100, NOW - 50);
      await row('es-a', 'ES256', NOW - 100);
      const version = async () =>
        (await sql<{ version: number }>`select version from directory_state`.execute(db)).rows[0]!.version;
      const versionBefore = await version();

      vi.spyOn(Date, 'now').mockReturnValue((NOW + 5) * 1000);
      await signingKeySlotsMigration.up(db);

      const keys = await sql<{ kid: string; retired_at: number | null }>`
        select kid, retired_at from signing_keys order by kid`.execute(db);
      expect(keys.rows.map((key) => ({ kid: key.kid, retiredAt: key.retired_at }))).toEqual([
        { kid: 'es-a', retiredAt: null },
        { kid: 'rs-a', retiredAt: NOW + 5 },
        { kid: 'rs-b', retiredAt: null },
        { kid: 'rs-c', retiredAt: NOW + 5 },
      ]);
      expect(await version()).toBe(versionBefore + 1);
      // The slot is guarded now: a second unretired RS256 key is a unique violation.
      await expect(row('rs-d', 'RS256', NOW + 10)).rejects.toMatchObject({
        code: dialect.name === 'SQLite' ? 'SQLITE_CONSTRAINT_UNIQUE' : '23505',
      });
      expect(
        (await sql`select kid from signing_keys where alg = 'RS256' and retired_at is null`.execute(db)).rows,
      ).toEqual([{ kid: 'rs-b' }]);
    },
  );
});

describe('the master key of nodes sharing a database', () => {
  const dataDirs: string[] = [];
  const freshDataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-master-key-'));
    dataDirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const refusal = (dataDir: string) =>
    'TESSERA_MASTER_KEY is not set. With DATABASE_URL (PostgreSQL) every node shares the token signing keys, so ' +
    'every node needs the same master key: generate one with `openssl rand -base64 32` and set TESSERA_MASTER_KEY ' +
    `to it on every node (a node that ran before with a generated ${join(dataDir, 'master.key')}: use that file's ` +
    'content).';

  it('is required with PostgreSQL: none is read or generated', () => {
    const dataDir = freshDataDir();
    expect(() => loadMasterKey(undefined, dataDir, 'postgres')).toThrow(new ConfigError(refusal(dataDir)));
    expect(() => loadMasterKey('', dataDir, 'postgres')).toThrow(ConfigError);
    expect(existsSync(join(dataDir, 'master.key'))).toBe(false);
    const configured = randomBytes(32);
    expect(loadMasterKey(configured.toString('base64'), dataDir, 'postgres')).toEqual({
      key: configured,
      source: 'environment',
    });
  });

  it('is still generated, with a file, for SQLite', () => {
    const dataDir = freshDataDir();
    const generated = loadMasterKey(undefined, dataDir);
    expect(generated).toMatchObject({ source: 'generated', file: join(dataDir, 'master.key') });
    expect(loadMasterKey(undefined, dataDir, 'sqlite')).toEqual({ ...generated, source: 'file' });
  });

  it.skipIf(!pgAvailable)(
    'a server with DATABASE_URL and no TESSERA_MASTER_KEY refuses to start',
    async () => {
      const schema = await createPostgresSchema();
      const dataDir = freshDataDir();
      try {
        const config = loadConfig(
          { DATABASE_URL: schema.url },
          { dataDir, port: 0, tls: 'off', logLevel: 'silent' },
        );
        const error = await createTesseraServer(config).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).message).toBe(refusal(dataDir));
        expect(existsSync(join(dataDir, 'master.key'))).toBe(false);
      } finally {
        await schema.drop();
      }
    },
  );

  it.skipIf(!pgAvailable)(
    '`tessera keys rotate` with DATABASE_URL and no TESSERA_MASTER_KEY stores no key',
    async () => {
      const schema = await createPostgresSchema();
      const dataDir = freshDataDir();
      const out: string[] = [];
      const err: string[] = [];
      try {
        await buildCli({
          out: (text) => out.push(text),
          err: (text) => err.push(text),
          env: { DATABASE_URL: schema.url },
        }).parseAsync(['node', 'tessera', 'keys', 'rotate', '--data', dataDir]);
        expect(process.exitCode).toBe(1);
        expect({ out, err }).toEqual({ out: [], err: [`tessera: ${refusal(dataDir)}\n`] });
        const db = openDatabase({ dialect: 'postgres', url: schema.url });
        try {
          expect(await new DirectoryStore(db).signingKeys.list()).toEqual([]);
        } finally {
          await db.destroy();
        }
        expect(existsSync(join(dataDir, 'master.key'))).toBe(false);
      } finally {
        process.exitCode = undefined;
        await schema.drop();
      }
    },
  );
});
