/**
 * Child processes of a benchmark: started pinned to one core with `taskset -c`, registered with {@link Cleanup}
 * so that every child and temporary directory is removed on exit, on failure and on Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Every server under test listens here, over plain HTTP. */
export const HOST = '127.0.0.1';

/** Children and temporary directories to remove, whatever happens. */
export class Cleanup {
  children = new Set();
  dirs = new Set();

  tempDir(prefix) {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.add(dir);
    return dir;
  }

  /** Synchronous, so it also works from `process.on('exit')`. */
  now() {
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGKILL');
    this.children.clear();
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    this.dirs.clear();
  }
}

/** A {@link Cleanup} that runs on exit and on SIGINT / SIGTERM (exit code 130). */
export function installCleanup() {
  const cleanup = new Cleanup();
  process.once('exit', () => cleanup.now());
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      cleanup.now();
      process.exit(130);
    });
  }
  return cleanup;
}

/** A free TCP port on {@link HOST} (bound then released). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/**
 * Spawns `node <nodeArgs>` pinned to `cpu`. Its stdout goes to `stdout` (`'ignore'` or `'pipe'`); stderr is kept
 * (the first 8 KiB, as `child.stderrText`) to explain a failed start.
 */
export function spawnPinned(cleanup, cpu, nodeArgs, env, stdout = 'ignore') {
  const child = spawn('taskset', ['-c', String(cpu), process.execPath, ...nodeArgs], {
    env,
    stdio: ['ignore', stdout, 'pipe'],
  });
  cleanup.children.add(child);
  child.stderrText = '';
  child.stderr.on('data', (chunk) => {
    if (child.stderrText.length < 8192) child.stderrText += chunk;
  });
  return child;
}

/**
 * Polls `url` until it answers (any status), every 100 ms for at most `attempts` tries.
 *
 * @throws Error with the child's stderr when it exits or never answers.
 */
export async function waitUntilListening(child, url, attempts = 150) {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (child.exitCode !== null) break;
    try {
      await globalThis.fetch(url, { method: 'GET' });
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`server did not start at ${url} (exit ${child.exitCode}): ${child.stderrText.trim()}`);
}

/** Stops a child with SIGTERM (so `--cpu-prof` can write its profile), then SIGKILL after `graceMs`. */
export async function stopChild(cleanup, child, graceMs = 10_000) {
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timedOut = await Promise.race([exited.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut) child.kill('SIGKILL');
  }
  cleanup.children.delete(child);
}
