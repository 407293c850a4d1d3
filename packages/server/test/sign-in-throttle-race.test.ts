import { randomInt } from 'node:crypto';
import {
  TestBrowser,
  postgresAvailable,
  rawHttpsRequest,
  redisAvailable,
  seedInteractiveScenario,
  startTestServer,
  testRedisUrl,
  type InteractiveScenario,
  type RawAnswer,
  type TestServer,
  type TestServerOptions,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Check-then-act in sign-in throttling (lockout bypass): the attempt must be counted atomically before the
// argon2id verification, so parallel guesses cannot all pass the limit check before any failure is recorded.
// Run on every throttle backend: the database (SQLite, PostgreSQL) and Redis.
const postgresUp = await postgresAvailable();
const redisUp = await redisAvailable();

const LIMIT = 10;
const PARALLEL = 30;

const stores: [string, boolean, TestServerOptions['database'], boolean][] = [
  ['SQLite', true, 'sqlite', false],
  ['PostgreSQL', postgresUp, 'postgres', false],
  ['Redis', redisUp, 'sqlite', true],
];

/** A distinct loopback source address per call: the per-IP counters of parallel suites never meet. */
const freshIp = () => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

type Answer = RawAnswer;

describe.each(stores)('sign-in throttling is atomic (%s)', (_name, available, database, redis) => {
  let server: TestServer;
  let s: InteractiveScenario;

  beforeAll(async () => {
    if (!available) return;
    server = await startTestServer({
      database,
      config: {
        signInMaxFailuresPerAccount: LIMIT,
        signInMaxFailuresPerIp: 1000,
        // Short windows keep the shared Redis tidy between runs.
        ...(redis ? { redisUrl: testRedisUrl, signInLockoutSeconds: 10 } : {}),
      },
    });
    s = await seedInteractiveScenario(server.directory);
  });
  afterAll(async () => {
    if (available) await server.close();
  });

  interface SignInForm {
    readonly login: URL;
    readonly fields: Record<string, string>;
    readonly cookie: string;
  }

  /** A sign-in page's form (target, hidden fields, cookies), from a fresh browser. */
  async function signInForm(srv = server, sc = s): Promise<SignInForm> {
    const browser = new TestBrowser();
    const page = await browser.get(
      `${srv.url}/${sc.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({
        client_id: sc.web.appId,
        response_type: 'code',
        redirect_uri: sc.web.redirectUri,
        scope: 'openid',
      }).toString()}`,
    );
    expect(page.status).toBe(200);
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(page.body)?.[1] ?? '';
    return {
      login: new URL(`${srv.url}/${sc.tenantId}/login`),
      fields: { interaction: field('interaction'), csrf_token: field('csrf_token'), action: 'signin' },
      cookie: `tessera_csrf=${browser.cookie('tessera_csrf') ?? ''}`,
    };
  }

  /** POSTs the sign-in form from `localAddress`. */
  function post(
    form: SignInForm,
    credentials: { username: string; password: string },
    localAddress: string,
  ): Promise<Answer> {
    const url = form.login;
    const body = new URLSearchParams({ ...form.fields, ...credentials }).toString();
    return rawHttpsRequest(
      {
        port: url.port,
        path: url.pathname,
        method: 'POST',
        family: 4,
        localAddress,
        agent: false,
        headers: {
          host: url.host,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          cookie: form.cookie,
        },
      },
      body,
    );
  }

  /** The alert the sign-in page shows for each refusal it can answer here. */
  const ALERTS = {
    50126: 'Error validating credentials due to invalid username or password.',
    50053: 'Your account or IP address is temporarily locked to prevent unauthorized use. Try again later.',
  } as const;

  /** The sign-in page again, with the exact catalogue message of `code` as its alert. */
  function expectSignInPageWith(answer: Answer, status: number, code: keyof typeof ALERTS): void {
    expect(answer.status).toBe(status);
    expect(answer.location).toBeUndefined();
    expect(answer.body).toContain('name="password"');
    expect(answer.body).toContain(`<div class="alert" role="alert" id="form-error">${ALERTS[code]}</div>`);
  }

  /** Signed in: the redirect to the app, or the consent page that follows a sign-in. */
  const signedIn = (answer: Answer) =>
    answer.status === 302 || (answer.status === 200 && answer.body.includes('Permissions requested'));

  const tally = (answers: readonly Answer[]) => ({
    evaluated: answers.filter((a) => a.status === 400).length,
    locked: answers.filter((a) => a.status === 429).length,
    other: answers.filter((a) => a.status !== 400 && a.status !== 429).length,
  });

  it.skipIf(!available)(
    `${PARALLEL} parallel wrong passwords for one account: exactly ${LIMIT} are evaluated, the rest get 429 (50053); then the right password is refused too`,
    async () => {
      const form = await signInForm();
      const ip = freshIp();
      const answers = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) =>
          post(form, { username: s.user.userPrincipalName, password: `wrong-password-${i}` }, ip),
        ),
      );
      expect(tally(answers)).toEqual({ evaluated: LIMIT, locked: PARALLEL - LIMIT, other: 0 });
      for (const answer of answers) {
        if (answer.status === 400) expectSignInPageWith(answer, 400, 50126);
        else expectSignInPageWith(answer, 429, 50053);
      }
      // Locked means locked: the right password is not even verified, from this or any other address.
      expectSignInPageWith(
        await post(form, { username: s.user.userPrincipalName, password: s.password }, ip),
        429,
        50053,
      );
      expectSignInPageWith(
        await post(form, { username: s.user.userPrincipalName, password: s.password }, freshIp()),
        429,
        50053,
      );
    },
  );

  it.skipIf(!available)(
    `${PARALLEL} parallel wrong passwords for ${PARALLEL} names from one IP: exactly the per-IP limit are evaluated`,
    async () => {
      const limited = await startTestServer({
        database,
        config: {
          signInMaxFailuresPerAccount: 1000,
          signInMaxFailuresPerIp: LIMIT,
          ...(redis ? { redisUrl: testRedisUrl, signInLockoutSeconds: 10 } : {}),
        },
      });
      try {
        const t = await seedInteractiveScenario(limited.directory);
        {
          const form = await signInForm(limited, t);
          const ip = freshIp();
          const answers = await Promise.all(
            Array.from({ length: PARALLEL }, (_, i) =>
              post(form, { username: `guess-${i}@${t.domain}`, password: 'wrong-password' }, ip),
            ),
          );
          expect(tally(answers)).toEqual({ evaluated: LIMIT, locked: PARALLEL - LIMIT, other: 0 });
          expectSignInPageWith(
            await post(form, { username: t.user.userPrincipalName, password: t.password }, ip),
            429,
            50053,
          );
          // Another address is not blocked by this one's failures.
          const other = await post(
            form,
            { username: t.user.userPrincipalName, password: t.password },
            freshIp(),
          );
          expect(signedIn(other)).toBe(true);
        }
      } finally {
        await limited.close();
      }
    },
  );

  it.skipIf(!available)(
    'a successful sign-in takes back only its own attempt: earlier failures still count, nobody resets the counter',
    async () => {
      const form = await signInForm();
      const ip = freshIp();
      const name = s.admin.userPrincipalName;
      for (let i = 0; i < LIMIT - 1; i++)
        expectSignInPageWith(await post(form, { username: name, password: `wrong-${i}` }, ip), 400, 50126);
      const ok = await post(form, { username: name, password: s.password }, ip);
      expect(signedIn(ok)).toBe(true);
      // One failure left in this window, not a fresh budget.
      expectSignInPageWith(await post(form, { username: name, password: 'wrong-again' }, ip), 400, 50126);
      expectSignInPageWith(await post(form, { username: name, password: s.password }, ip), 429, 50053);
    },
  );

  it.skipIf(!available)(
    'the right password racing wrong ones never lets more than the limit of wrong ones be evaluated',
    async () => {
      const user = await server.directory.users.create({
        tenant: s.tenantId,
        userPrincipalName: `racer-${randomInt(1e9)}@${s.domain}`,
        password: s.password,
        displayName: 'Racer',
      });
      const form = await signInForm();
      const ip = freshIp();
      const wrong = Array.from({ length: PARALLEL }, (_, i) =>
        post(form, { username: user.userPrincipalName, password: `wrong-${i}` }, ip),
      );
      const right = post(form, { username: user.userPrincipalName, password: s.password }, ip);
      const answers = await Promise.all(wrong);
      const success = await right;
      if (!signedIn(success)) expectSignInPageWith(success, 429, 50053);
      expect(tally(answers)).toEqual({ evaluated: LIMIT, locked: PARALLEL - LIMIT, other: 0 });
    },
  );
});
