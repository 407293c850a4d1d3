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

async function family(
  familyId: string,
  options: { platform?: 'web' | 'spa' | 'publicClient'; dpopJkt?: string } = {},
): Promise<void> {
  await store.refreshFamilies.insert({
    ...(options.dpopJkt === undefined ? {} : { dpopJkt: options.dpopJkt }),
    familyId,
    tokenHash: `${familyId}-h0`,
    generation: 0,
    authentication: {
      userId: 'user',
      tenantId: 'tenant',
      authTime: NOW,
      amr: ['pwd'],
      clientId: CLIENT,
      platform: options.platform ?? 'web',
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

  it('every shape of the rotation statement (client authenticated or not, cross-origin or not, DPoP key or not) decides on its own conditions in one batch', async () => {
    await family('shape-web');
    await family('shape-spa', { platform: 'spa' });
    await family('shape-public', { platform: 'publicClient' });
    await family('shape-bound', { platform: 'publicClient', dpopJkt: 'jkt-a' });
    const next = (id: string, expiresAt = NOW + 7200) => ({
      tokenHash: `${id}-h1`,
      generation: 1,
      expiresAt,
    });
    const families = store.refreshFamilies;
    const results = await Promise.all([
      // A web family never rotates for an unauthenticated client, nor cross-origin.
      families.rotate('shape-web', CLIENT, 'shape-web-h0', next('shape-web'), NOW, true),
      families.rotate('shape-web', CLIENT, 'shape-web-h0', next('shape-web'), NOW, false, true),
      // A spa family rotates cross-origin only, and keeps its fixed expiry.
      families.rotate('shape-spa', CLIENT, 'shape-spa-h0', next('shape-spa'), NOW, true, false),
      families.rotate('shape-spa', CLIENT, 'shape-spa-h0', next('shape-spa', NOW + 99_999), NOW, true, true),
      // A family bound to a DPoP key rotates only with a proof by that key.
      families.rotate('shape-bound', CLIENT, 'shape-bound-h0', next('shape-bound'), NOW, true),
      families.rotate(
        'shape-bound',
        CLIENT,
        'shape-bound-h0',
        next('shape-bound'),
        NOW,
        true,
        undefined,
        'jkt-b',
      ),
      families.rotate(
        'shape-bound',
        CLIENT,
        'shape-bound-h0',
        next('shape-bound'),
        NOW,
        true,
        undefined,
        'jkt-a',
      ),
      // An unbound public family rotates with or without a proof.
      families.rotate(
        'shape-public',
        CLIENT,
        'shape-public-h0',
        next('shape-public'),
        NOW,
        true,
        false,
        'jkt-c',
      ),
      // The web family, authenticated and same-origin, last: nothing before it consumed its token.
      families.rotate('shape-web', CLIENT, 'shape-web-h0', next('shape-web'), NOW, false, false),
    ]);
    expect(results.map((r) => r.kind)).toEqual([
      'unknown',
      'unknown',
      'unknown',
      'ok',
      'unknown',
      'unknown',
      'ok',
      'ok',
      'ok',
    ]);
    expect(await families.find('shape-spa')).toMatchObject({ generation: 1, expiresAt: NOW + 3600 });
    expect(await families.find('shape-web')).toMatchObject({ generation: 1, expiresAt: NOW + 7200 });
    expect(await families.find('shape-bound')).toMatchObject({
      tokenHash: 'shape-bound-h1',
      dpopJkt: 'jkt-a',
    });
    expect((await families.find('shape-public'))?.tokenHash).toBe('shape-public-h1');
  });
});
