import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '@tessera/server';
import {
  authorizationCodeFields,
  authorizeUrl,
  cliEnvironment,
  createPkcePair,
  endpointUrl,
  postForm,
  seedInteractiveScenario,
  signInThrough,
  startTestServer,
  TESSERA_CLI,
  TestBrowser,
  type InteractiveScenario,
} from '@tessera/testkit';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';

// `tessera serve` (SQLite, WAL) killed with SIGKILL in the middle of a burst of code redemptions with
// offline_access and refresh rotations, then started again on the same data directory: every refresh token whose
// response was received (and not rotated by a request cut off by the kill) still works once, the database passes
// PRAGMA integrity_check, and no code is used without its refresh token family (one transaction).

const WORKERS = 4;
const BURST_MS = 10_000;
const KILL_AFTER_FAMILIES = 8;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

async function serve(dataDir: string): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [TESSERA_CLI, 'serve', '--data', dataDir, '--port', String(port)], {
    env: cliEnvironment({ TESSERA_TLS: 'off', TESSERA_LOG_LEVEL: 'warn' }),
    stdio: 'ignore',
  });
  const base = `http://localhost:${port}`;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error('tessera serve exited');
    const ok = await fetch(`${base}/common/v2.0/.well-known/openid-configuration`)
      .then((response) => response.ok)
      .catch(() => false);
    if (ok) return { child, base };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('tessera serve did not answer');
}

describe('SIGKILL mid-burst (SQLite, WAL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-sigkill-'));
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses no returned refresh token, passes integrity_check, leaves no code without its family', async () => {
    const seeding = await startTestServer({ dataDir });
    const s: InteractiveScenario = await seedInteractiveScenario(seeding.directory);
    await seeding.close();

    const first = await serve(dataDir);
    child = first.child;
    const tokenUrl = (base: string) => endpointUrl(base, s.tenantId, 'token');
    /** The latest refresh token received per family, and the families with a request cut off by the kill. */
    const latest = new Map<number, string>();
    const inFlight = new Set<number>();
    let families = 0;
    let killed = false;
    const stopped = () => killed;

    const worker = async () => {
      const browser = new TestBrowser();
      while (!stopped()) {
        const { verifier, challenge } = createPkcePair();
        const back = await signInThrough(
          browser,
          authorizeUrl(first.base, s.tenantId, s.native, {
            scope: 'openid offline_access',
            code_challenge: challenge,
            code_challenge_method: 'S256',
          }),
          { userName: s.user.userPrincipalName, password: s.password },
        );
        const code = new URL(back.location ?? 'x:').searchParams.get('code') ?? '';
        const family = families++;
        inFlight.add(family);
        const redeemed = await postForm(
          tokenUrl(first.base),
          authorizationCodeFields(s.native, code, { code_verifier: verifier }),
        );
        if (redeemed.status !== 200) throw new Error(`redemption answered ${redeemed.status}`);
        let token = ((await redeemed.json()) as { refresh_token: string }).refresh_token;
        latest.set(family, token);
        inFlight.delete(family);
        for (let i = 0; i < 2 && !stopped(); i++) {
          inFlight.add(family);
          const rotated = await postForm(tokenUrl(first.base), {
            grant_type: 'refresh_token',
            client_id: s.native.appId,
            refresh_token: token,
          });
          if (rotated.status !== 200) throw new Error(`refresh answered ${rotated.status}`);
          token = ((await rotated.json()) as { refresh_token: string }).refresh_token;
          latest.set(family, token);
          inFlight.delete(family);
        }
      }
    };
    const failures: unknown[] = [];
    const workers = Array.from({ length: WORKERS }, () =>
      worker().catch((error: unknown) => {
        if (!killed) failures.push(error);
      }),
    );
    // Mid-burst: once some families exist (the first sign-ins take a while on a loaded machine), or at the latest
    // after the burst's bound.
    const burstEnds = Date.now() + BURST_MS;
    while (latest.size < KILL_AFTER_FAMILIES && Date.now() < burstEnds) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    killed = true;
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(latest.size).toBeGreaterThan(0);

    const second = await serve(dataDir);
    child = second.child;
    let checked = 0;
    for (const [family, token] of latest) {
      if (inFlight.has(family)) continue;
      checked++;
      const refreshed = await postForm(tokenUrl(second.base), {
        grant_type: 'refresh_token',
        client_id: s.native.appId,
        refresh_token: token,
      });
      expect(refreshed.status, `family ${family}`).toBe(200);
    }
    expect(checked).toBeGreaterThan(0);
    second.child.kill('SIGKILL');
    await once(second.child, 'exit');
    child = undefined;

    const db = openDatabase({ dialect: 'sqlite', file: join(dataDir, 'tessera.db') });
    try {
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(db);
      expect(mode.rows).toEqual([{ journal_mode: 'wal' }]);
      const integrity = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(db);
      expect(integrity.rows).toEqual([{ integrity_check: 'ok' }]);
      const orphans = await sql<{ n: number }>`
        select count(*) as n from authorization_codes c
        where c.redeemed_at is not null
          and not exists (select 1 from refresh_tokens r where r.family_id = c.family_id)`.execute(db);
      expect(orphans.rows[0]?.n).toBe(0);
    } finally {
      await db.destroy();
    }
  }, 30_000);
});
