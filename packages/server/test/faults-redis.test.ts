import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  freePort,
  redisServerInstalled,
  seedInteractiveScenario,
  startRedisServer,
  startTestServer,
  TestBrowser,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Redis faults under the sign-in throttle, against a redis-server of this suite's own on a free port: a stalled
// Redis (CLIENT PAUSE) delays a password sign-in by at most the command timeout; a stopped Redis moves counting to
// the database, where the lockout still holds; once Redis answers again it counts there again.
const redisServer = await redisServerInstalled('the Redis fault tests');

const MAX_FAILURES = 3;
const COMMAND_TIMEOUT_MS = 300;

describe.runIf(redisServer)('sign-in throttling when Redis stalls or stops', () => {
  let port: number;
  let redis: ChildProcess;
  let probe: Redis;
  let server: TestServer;
  let s: InteractiveScenario;

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedisServer(port);
    probe = new Redis(port, '127.0.0.1', { retryStrategy: () => 100 });
    probe.on('error', () => undefined);
    server = await startTestServer({
      config: {
        redisUrl: `redis://127.0.0.1:${port}`,
        redisCommandTimeoutMs: COMMAND_TIMEOUT_MS,
        signInMaxFailuresPerAccount: MAX_FAILURES,
      },
    });
    s = await seedInteractiveScenario(server.directory);
  });
  afterAll(async () => {
    await server.close();
    probe.disconnect();
    redis.kill('SIGKILL');
  });

  const authorize = () =>
    `${server.url}/${s.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({
      client_id: s.web.appId,
      response_type: 'code',
      redirect_uri: s.web.redirectUri,
      scope: 'openid',
    }).toString()}`;
  /** One password sign-in as `userName`; its status (200 / 302 signed in, 400 wrong password, 429 locked). */
  const signIn = async (userName: string, password: string) => {
    const browser = new TestBrowser();
    const page = await browser.get(authorize());
    const answer = await browser.submit(server.url, page, { username: userName, password });
    return answer.status;
  };
  const counters = () => probe.keys('tessera:sign-in-attempts:*');

  it('counts in Redis with an expiry on every counter', async () => {
    expect(await signIn(s.user.userPrincipalName, 'wrong-password-1')).toBe(400);
    const keys = await counters();
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const ttl = await probe.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(900_000);
    }
    await probe.flushall();
  });

  it('a stalled Redis delays a sign-in by at most the command timeout', async () => {
    await probe.call('CLIENT', 'PAUSE', '3000', 'ALL');
    const started = performance.now();
    expect([200, 302]).toContain(await signIn(s.user.userPrincipalName, s.password));
    const elapsedMs = performance.now() - started;
    // One command timeout (the throttle then counts in the database), plus the pages and one argon2id verify.
    expect(elapsedMs).toBeLessThan(COMMAND_TIMEOUT_MS + 1500);
    await probe.call('CLIENT', 'UNPAUSE');
  });

  it('a stopped Redis: lockout still enforced through the database; after a restart Redis counts again', async () => {
    redis.kill('SIGKILL');
    await once(redis, 'exit');
    const user = s.user.userPrincipalName;
    for (let i = 0; i < MAX_FAILURES; i++) expect(await signIn(user, `wrong-password-${i}`)).toBe(400);
    // Locked through the database: the right password is refused unchecked.
    expect(await signIn(user, s.password)).toBe(429);

    redis = await startRedisServer(port);
    // The throttle tries Redis again within its retry interval (2 s): a sign-in then counts in Redis.
    const deadline = Date.now() + 10_000;
    let keys: string[] = [];
    while (Date.now() < deadline) {
      await signIn(`someone-${Date.now()}@contoso.test`, 'wrong-password');
      keys = await counters().catch(() => []);
      if (keys.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(keys.length).toBeGreaterThan(0);
  }, 30_000);
});
