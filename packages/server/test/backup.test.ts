import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { cliEnvironment, TESSERA_CLI } from '@tessera/testkit';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../src/cli/program.js';
import { postForm, readDemoSeed, startServe, type ServeProcess } from './support/serve-process.js';

// `tessera backup` while a server writes, `tessera restore` into a fresh data directory, and a server on the
// restored copy: the same users, apps and signing keys (a token issued before the backup verifies afterwards).
// The servers are child processes; the commands run in this process (the CLI's code, without a start-up each).

const root = fileURLToPath(new URL('../../../', import.meta.url));
/** Runs `tessera …args` in this process; the exit code it would have had is read and reset. */
async function cli(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const saved = process.exitCode;
  process.exitCode = undefined;
  try {
    await buildCli({
      out: (text) => (stdout += text),
      err: (text) => (stderr += text),
      env: cliEnvironment(env),
      json: args.includes('--json'),
    }).parseAsync(['node', 'tessera', ...args]);
    // Narrowed to undefined above as far as the compiler knows; the action sets it on failure.
    const code = Reflect.get(process, 'exitCode') as number | undefined;
    return { code: code ?? 0, stdout, stderr };
  } finally {
    process.exitCode = saved;
  }
}

describe('tessera backup and restore (SQLite)', () => {
  const work = mkdtempSync(join(tmpdir(), 'tessera-backup-'));
  const source = join(work, 'source');
  const restored = join(work, 'restored');
  const backupFile = join(work, 'tessera-backup.db');
  const servers: ServeProcess[] = [];

  beforeAll(() => {
    if (!existsSync(TESSERA_CLI)) execFileSync('npx', ['tsc', '-b'], { cwd: root, stdio: 'inherit' });
  });

  afterAll(async () => {
    for (const server of servers) await server.kill();
    rmSync(work, { recursive: true, force: true });
  });

  it('backs up online while the server writes, refuses to overwrite or to restore over a running server, and a restored copy serves the same directory', async () => {
    const server = await startServe(source, {}, root);
    servers.push(server);
    const seed = readDemoSeed(source);
    const created = await cli([
      'user',
      'create',
      '--data',
      source,
      '--tenant',
      seed.tenantDomain,
      '--upn',
      `ada@${seed.tenantDomain}`,
      '--password',
      'Correct-horse-battery-9',
    ]);
    expect(created.code, created.stderr).toBe(0);

    const path = `/${seed.tenantDomain}/oauth2/v2.0/token`;
    const form = {
      grant_type: 'client_credentials',
      client_id: seed.daemonAppId,
      client_secret: seed.daemonSecret,
      scope: `${seed.apiIdentifierUri}/.default`,
    };
    const before = await postForm(server.port, path, form);
    expect(before.kind === 'response' && before.status).toBe(200);
    const tokenBefore = (
      JSON.parse(before.kind === 'response' ? before.body : '{}') as { access_token: string }
    ).access_token;

    // Token requests write the sign-in log the whole time the backup runs.
    const load = { writing: true };
    const writer = (async () => {
      let statuses = 0;
      while (load.writing) {
        const outcome = await postForm(server.port, path, form);
        expect(outcome.kind === 'response' && outcome.status).toBe(200);
        statuses += 1;
      }
      return statuses;
    })();
    const backup = await cli(['backup', backupFile, '--data', source, '--json']);
    load.writing = false;
    expect(await writer).toBeGreaterThan(0);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    const info = JSON.parse(backup.stdout) as { migration: string; users: number; applications: number };
    expect(info.migration).toMatch(/^\d{3}-/);
    expect(info.users).toBe(1);
    expect(info.applications).toBeGreaterThanOrEqual(2);
    // The copy is a consistent database by itself (no -wal needed).
    const copy = new SQLite(backupFile, { readonly: true });
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    copy.close();

    const again = await cli(['backup', backupFile, '--data', source]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('exists; pass --force');
    expect((await cli(['backup', backupFile, '--data', source, '--force'])).code).toBe(0);

    // The running server holds the source database: restoring over it is refused, whatever --force says.
    const overRunning = await cli(['restore', backupFile, '--data', source, '--force']);
    expect(overRunning.code).toBe(1);
    expect(overRunning.stderr).toContain('is in use');
    expect(overRunning.stderr).not.toMatch(/^\s+at /m);

    // A master key that is not the backed-up server's is refused before anything changes.
    const wrongKey = await cli(['restore', backupFile, '--data', restored], {
      TESSERA_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
    });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('does not decrypt the signing keys');
    expect(existsSync(join(restored, 'tessera.db'))).toBe(false);

    // A fresh data directory with the source's master key.
    const notADatabase = await cli(['restore', join(source, 'master.key'), '--data', restored]);
    expect(notADatabase.code).toBe(1);
    expect(notADatabase.stderr).toContain('is not an SQLite database');
    mkdirSync(restored, { recursive: true });
    copyFileSync(join(source, 'master.key'), join(restored, 'master.key'));
    const restore = await cli(['restore', backupFile, '--data', restored, '--json']);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(JSON.parse(restore.stdout)).toMatchObject({ masterKeyChecked: true, users: 1 });

    const copyServer = await startServe(restored, {}, root);
    servers.push(copyServer);
    const metadata = (await (
      await fetch(`${copyServer.base}/${seed.tenantId}/v2.0/.well-known/openid-configuration`)
    ).json()) as { jwks_uri: string };
    const jwks = createLocalJWKSet((await (await fetch(metadata.jwks_uri)).json()) as JSONWebKeySet);
    // The same signing keys: a token issued before the backup verifies against the restored node's JWKS.
    await expect(jwtVerify(tokenBefore, jwks)).resolves.toBeTruthy();
    // The same apps and credentials: the daemon's secret still gets a token.
    const after = await postForm(copyServer.port, path, form);
    expect(after.kind === 'response' && after.status).toBe(200);
    // The same users: the one created before the backup.
    const db = new SQLite(join(restored, 'tessera.db'), { readonly: true });
    const users = db.prepare('select user_principal_name as upn from users').all() as { upn: string }[];
    db.close();
    expect(users.map((user) => user.upn)).toContain(`ada@${seed.tenantDomain}`);
  }, 60_000);

  it('on PostgreSQL, backup and restore refuse and name pg_dump and pg_restore', async () => {
    for (const command of ['backup', 'restore']) {
      const result = await cli([command, join(work, 'x.db'), '--data', join(work, 'pg')], {
        DATABASE_URL: 'postgres://127.0.0.1:5432/test',
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('pg_dump');
      expect(result.stderr).toContain('pg_restore');
    }
  });
});
