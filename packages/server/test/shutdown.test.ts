import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TESSERA_CLI } from '@tessera/testkit';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  postForm,
  readDemoSeed,
  sleep,
  startServe,
  type RawOutcome,
  type ServeProcess,
} from './support/serve-process.js';

// Graceful shutdown of `tessera serve` as a real process: SIGTERM mid-burst drains the requests it accepted, refuses
// new ones, closes idle keep-alive connections at once, and exits 0 within shutdownGraceSeconds.

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('tessera serve on SIGTERM', () => {
  const dirs: string[] = [];
  let server: ServeProcess | undefined;

  beforeAll(() => {
    if (!existsSync(TESSERA_CLI)) execFileSync('npx', ['tsc', '-b'], { cwd: root, stdio: 'inherit' });
  });

  afterEach(async () => {
    await server?.kill();
    server = undefined;
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const start = async (graceSeconds: number) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-shutdown-'));
    dirs.push(dataDir);
    server = await startServe(dataDir, { TESSERA_SHUTDOWN_GRACE_SECONDS: String(graceSeconds) }, root);
    return { server, seed: readDemoSeed(dataDir) };
  };

  it('drains the requests in flight with valid tokens, refuses new ones and exits 0 within the grace period', async () => {
    const { server: running, seed } = await start(10);
    const metadata = (await (
      await fetch(`${running.base}/${seed.tenantId}/v2.0/.well-known/openid-configuration`)
    ).json()) as { jwks_uri: string; issuer: string };
    const jwks = createLocalJWKSet((await (await fetch(metadata.jwks_uri)).json()) as JSONWebKeySet);
    const path = `/${seed.tenantDomain}/oauth2/v2.0/token`;
    const form = {
      grant_type: 'client_credentials',
      client_id: seed.daemonAppId,
      client_secret: seed.daemonSecret,
      scope: `${seed.apiIdentifierUri}/.default`,
    };

    // A burst on connections of their own, every request written before the signal.
    const burst = 150;
    let written = 0;
    let allWritten!: () => void;
    const writtenAll = new Promise<void>((resolve) => (allWritten = resolve));
    const outcomes: Promise<RawOutcome>[] = [];
    for (let i = 0; i < burst; i += 1) {
      outcomes.push(
        postForm(running.port, path, form, () => {
          written += 1;
          if (written === burst) allWritten();
        }),
      );
    }
    await writtenAll;
    const firstResponse = await Promise.race(outcomes);
    expect(firstResponse.kind).toBe('response');
    const signalledAt = Date.now();
    running.child.kill('SIGTERM');

    // After the signal the node takes no new work: once its listener closes (right after it logs so), the port
    // refuses, or a connection that got in just before gets 503.
    while (!running.output().includes('no longer accepting connections')) await sleep(20);
    const refusedBy = Date.now() + 3000;
    let late = await postForm(running.port, path, form);
    while (!(late.kind === 'response' ? late.status === 503 : late.code === 'ECONNREFUSED')) {
      expect(Date.now(), JSON.stringify(late)).toBeLessThan(refusedBy);
      await sleep(20);
      late = await postForm(running.port, path, form);
    }

    const results = await Promise.all(outcomes);
    const failures = results.filter((result) => result.kind !== 'response' || result.status !== 200);
    expect(failures).toEqual([]);
    for (const result of results.slice(0, 20)) {
      if (result.kind !== 'response') continue;
      const token = (JSON.parse(result.body) as { access_token: string }).access_token;
      await expect(jwtVerify(token, jwks, { issuer: metadata.issuer })).resolves.toBeTruthy();
    }
    // Some of the burst was still running when the signal came: the drain answered them.
    expect(results.some((result) => result.at >= signalledAt)).toBe(true);

    const { code } = await running.exited;
    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    expect(running.output()).toContain('Tessera stopped');
  }, 30_000);

  it('closes idle keep-alive connections at once and cuts a stuck request at the end of the grace period', async () => {
    const { server: running } = await start(2);
    // An idle keep-alive connection does not hold the process up.
    const idle = connect(running.port, '127.0.0.1');
    await new Promise((resolve) => idle.once('connect', resolve));
    idle.write(`GET /common/v2.0/.well-known/openid-configuration HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    await new Promise((resolve) => idle.once('data', resolve));
    let idleClosedAt = 0;
    idle.on('close', () => (idleClosedAt = Date.now()));
    idle.on('error', () => undefined);
    // A request whose body never arrives stays in flight until the grace period ends.
    const stuck = connect(running.port, '127.0.0.1');
    await new Promise((resolve) => stuck.once('connect', resolve));
    stuck.write(
      `POST /common/oauth2/v2.0/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=`,
    );
    let stuckClosedAt = 0;
    stuck.on('close', () => (stuckClosedAt = Date.now()));
    stuck.on('error', () => undefined);
    await sleep(100);

    const signalledAt = Date.now();
    running.child.kill('SIGTERM');
    const { code } = await running.exited;
    const exitedAt = Date.now();
    await sleep(50);

    expect(code).toBe(0);
    expect(idleClosedAt - signalledAt).toBeLessThan(1000);
    expect(stuckClosedAt - signalledAt).toBeGreaterThanOrEqual(1900);
    expect(exitedAt - signalledAt).toBeLessThan(5000);
    expect(running.output()).toContain('shutdown grace period over');
  }, 30_000);
});
