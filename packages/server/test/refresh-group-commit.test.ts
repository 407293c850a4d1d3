import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest, openDatabase, SignInStore } from '@tessera/server';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/store/schema.js';

// On SQLite, refresh token rotations asked for in one turn of the event loop are committed together (one
// transaction, one disk sync). Each still decides on its own: rotations of different families all win, the same
// token twice wins once, a wrong token or another client's loses without affecting the rest, and what was
// returned is what is stored.
const NOW = 1_800_000_000;
const CLIENT = '00000000-0000-4000-8000-00000000c11e';

let dir: string;
let db: Kysely<Database>;
let store: SignInStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-group-commit-'));
  db = openDatabase({ dialect: 'sqlite', file: join(dir, 'store.db') });
  await migrateToLatest(db);
  store = new SignInStore(db);
});

afterAll(async () => {
  await db.destroy();
  await rm(dir, { recursive: true });
});

async function family(familyId: string): Promise<void> {
  await store.refreshFamilies.insert({
    familyId,
    tokenHash: `${familyId}-h0`,
    generation: 0,
    authentication: {
      userId: 'user',
      tenantId: 'tenant',
      authTime: NOW,
      amr: ['pwd'],
      clientId: CLIENT,
      platform: 'web',
    },
    grant: {
      resourceAppId: 'api',
      requestedIdentifier: 'api://x',
      scopes: ['Files.Read'],
      oidcScopes: ['openid'],
    },
    clientInfo: false,
    createdAt: NOW,
    expiresAt: NOW + 3600,
  });
}

function rotate(familyId: string, presented: string, generation: number, clientId = CLIENT) {
  return store.refreshFamilies.rotate(
    familyId,
    clientId,
    presented,
    { tokenHash: `${familyId}-h${generation}`, generation, expiresAt: NOW + 7200 },
    NOW,
  );
}

describe('refresh token rotation, group commit on SQLite', () => {
  it('rotates every family asked for in one turn, each on its own conditions', async () => {
    const ids = Array.from({ length: 20 }, (_, index) => `family-${index}`);
    for (const id of ids) await family(id);
    const results = await Promise.all([
      ...ids.map((id) => rotate(id, `${id}-h0`, 1)),
      // The same token again in the same batch: the first rotation already moved it.
      rotate('family-0', 'family-0-h0', 1),
      rotate('family-1', 'not-the-token', 1),
      rotate('family-2', 'family-2-h1', 2, '00000000-0000-4000-8000-0000000000ff'),
    ]);
    expect(results.slice(0, 20).map((r) => r.kind)).toEqual(ids.map(() => 'ok'));
    expect(results.slice(20).map((r) => r.kind)).toEqual(['unknown', 'unknown', 'unknown']);
    for (const id of ids) {
      const stored = await store.refreshFamilies.find(id);
      expect(stored?.tokenHash).toBe(`${id}-h1`);
      expect(stored?.generation).toBe(1);
      expect(stored?.expiresAt).toBe(NOW + 7200);
    }
    // The next turn is a batch of its own.
    const next = await rotate('family-3', 'family-3-h1', 2);
    expect(next.kind).toBe('ok');
    expect((await store.refreshFamilies.find('family-3'))?.generation).toBe(2);
  });

  it('a rotation alone is one statement and is stored before it returns', async () => {
    await family('alone');
    expect((await rotate('alone', 'alone-h0', 1)).kind).toBe('ok');
    expect((await rotate('alone', 'alone-h0', 1)).kind).toBe('unknown');
    expect((await store.refreshFamilies.find('alone'))?.tokenHash).toBe('alone-h1');
  });
});
