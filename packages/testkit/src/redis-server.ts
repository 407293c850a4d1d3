import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { underCi } from './services.js';

/**
 * Whether `redis-server` can be run here, for suites that start (and kill) a Redis of their own. Without it the
 * suite `what` is skipped with a loud warning locally; under CI the call throws instead.
 *
 * @throws Error under `CI=true` when `redis-server` is not installed.
 */
export async function redisServerInstalled(what: string): Promise<boolean> {
  const installed = await new Promise<boolean>((resolve) => {
    const probe = spawn('redis-server', ['--version'], { stdio: 'ignore' });
    probe.on('error', () => {
      resolve(false);
    });
    probe.on('exit', (code) => {
      resolve(code === 0);
    });
  });
  if (!installed) {
    if (underCi) throw new Error('redis-server is not installed; CI requires it.');
    console.warn(`\n!!! redis-server is not installed: SKIPPING ${what}.\n`);
  }
  return installed;
}

/**
 * Starts a `redis-server` of the caller's own on `127.0.0.1:port` that keeps nothing on disk, and resolves once it
 * answers `PING` (or after about 5 seconds of trying). Kill the returned process to imitate an outage; start it
 * again on the same port to imitate a restart.
 */
export async function startRedisServer(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 50 });
  probe.on('error', () => undefined);
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await probe.connect().catch(() => undefined);
      await probe.ping();
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  probe.disconnect();
  return child;
}
