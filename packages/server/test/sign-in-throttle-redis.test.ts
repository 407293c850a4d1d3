import { randomBytes, randomUUID } from 'node:crypto';
import { RedisSignInThrottle } from '@tessera/server';
import {
  TestBrowser,
  postgresAvailable,
  redisAvailable,
  seedInteractiveScenario,
  startTestServer,
  testRedisUrl,
} from '@tessera/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

// Under CI both services are mandatory (these throw); locally the suite skips loudly without them.
const redisUp = await redisAvailable();
const postgresUp = redisUp && (await postgresAvailable());

describe.skipIf(!redisUp)('sign-in throttling shared through Redis', () => {
  const clients: Redis[] = [];
  afterAll(() => {
    for (const client of clients) client.disconnect();
  });

  function node(windowMs: number, errors: unknown[] = []): RedisSignInThrottle {
    const client = new Redis(testRedisUrl);
    clients.push(client);
    return new RedisSignInThrottle(client, windowMs, (error) => errors.push(error));
  }

  it('shares attempt counts between nodes; a release takes back only its own attempt', async () => {
    const [a, b] = [node(60_000), node(60_000)];
    const key = `account:${randomUUID()}@contoso.test`;
    for (let i = 0; i < 2; i++) expect(await a.reserve(key, 3, Date.now())).toBeDefined();
    const third = await b.reserve(key, 3, Date.now());
    expect(third).toBeDefined();
    expect(await a.reserve(key, 3, Date.now())).toBeUndefined();
    expect(await b.reserve(key, 3, Date.now())).toBeUndefined();
    await b.release(third!);
    await b.release(third!);
    // One release frees one attempt, however often it is sent.
    expect(await a.reserve(key, 3, Date.now())).toBeDefined();
    expect(await b.reserve(key, 3, Date.now())).toBeUndefined();
  });

  it('ends a lockout when its window passes, and a release from an old window does not count in the new one', async () => {
    const throttle = node(300);
    const key = `ip:${randomUUID()}`;
    const old = await throttle.reserve(key, 1, Date.now());
    expect(old).toBeDefined();
    expect(await throttle.reserve(key, 1, Date.now())).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(await throttle.reserve(key, 1, Date.now())).toBeDefined();
    await throttle.release(old!);
    expect(await throttle.reserve(key, 1, Date.now())).toBeUndefined();
  });

  it('never leaves a counter without an expiry', async () => {
    const probe = new Redis(testRedisUrl);
    clients.push(probe);
    const throttle = node(60_000);
    const key = `account:${randomUUID()}@contoso.test`;
    await Promise.all(Array.from({ length: 20 }, () => throttle.reserve(key, 5, Date.now())));
    const keys = await probe.keys('tessera:sign-in-attempts:*');
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      const ttl = await probe.pttl(k);
      expect(ttl).toBeGreaterThan(0);
    }
  });

  it('stores no account name in Redis', async () => {
    const name = `secret-name-${randomUUID()}@contoso.test`;
    await node(60_000).reserve(`account:${name}`, 10, Date.now());
    const probe = new Redis(testRedisUrl);
    clients.push(probe);
    const keys = await probe.keys('tessera:sign-in-attempts:*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((k) => k.includes(name) || k.includes('secret-name'))).toBe(false);
  });

  it('without a fallback fails open, and reports the outage once, when Redis cannot be reached', async () => {
    const errors: unknown[] = [];
    const offline = new Redis('redis://127.0.0.1:1', {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    offline.on('error', () => undefined);
    clients.push(offline);
    const throttle = new RedisSignInThrottle(offline, 60_000, (error) => errors.push(error));
    const reservation = await throttle.reserve('account:x', 1, Date.now());
    expect(reservation).toBeDefined();
    await throttle.release(reservation!);
    expect(await throttle.reserve('account:x', 1, Date.now())).toBeDefined();
    expect(errors.length).toBe(1);
  });

  it.skipIf(!postgresUp)(
    'locks an account on node B after failures on node A (two servers, one PostgreSQL, one Redis)',
    async () => {
      const config = {
        signInMaxFailuresPerAccount: 3,
        redisUrl: testRedisUrl,
        masterKey: randomBytes(32).toString('base64'),
      };
      const a = await startTestServer({ database: 'postgres', config });
      const b = await startTestServer({ databaseUrl: a.databaseUrl, config });
      try {
        const t = await seedInteractiveScenario(a.directory);
        const authorize = (base: string) =>
          `${base}/${t.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({
            client_id: t.web.appId,
            response_type: 'code',
            redirect_uri: t.web.redirectUri,
            scope: 'openid',
          }).toString()}`;
        const onA = new TestBrowser();
        let page = await onA.get(authorize(a.url));
        for (let i = 0; i < 3; i++) {
          page = await onA.submit(a.url, page, {
            username: t.user.userPrincipalName,
            password: 'bad-password-1',
          });
          expect(page.status).toBe(400);
          expect(page.body).toContain('Error validating credentials due to invalid username or password.');
        }
        const onB = new TestBrowser();
        const signIn = await onB.get(authorize(b.url));
        const locked = await onB.submit(b.url, signIn, {
          username: t.user.userPrincipalName,
          password: t.password,
        });
        expect(locked.status).toBe(429);
        expect(locked.body).toContain(
          'Your account or IP address is temporarily locked to prevent unauthorized use. Try again later.',
        );
      } finally {
        await b.close();
        await a.close();
      }
    },
  );
});
