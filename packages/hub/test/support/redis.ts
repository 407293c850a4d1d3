import { Redis } from 'ioredis';
import { underCi } from '@tessera/testkit';

/** The Redis tests use: `TESSERA_TEST_REDIS_URL`, default the local server. */
export const testRedisUrl = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let reachable: Promise<boolean> | undefined;

/**
 * Whether the test Redis answers. Locally an unreachable Redis makes suites skip, with a loud warning; under CI
 * it throws so the run fails (mirrors testkit's `postgresAvailable`).
 *
 * @throws Error under CI when Redis cannot be reached.
 */
export async function redisAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new Redis(testRedisUrl, {
      lazyConnect: true,
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      return true;
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  })();
  const ok = await reachable;
  if (!ok) {
    const message = `Redis at ${testRedisUrl} is not reachable`;
    if (underCi) throw new Error(`${message}; CI requires it.`);
    console.warn(`\n!!! ${message}: SKIPPING the Redis backplane runs. Start Redis to run them.\n`);
  }
  return ok;
}
