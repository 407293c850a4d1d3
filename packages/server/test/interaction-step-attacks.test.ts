import {
  authorizeUrl,
  postgresAvailable,
  signInThrough,
  startInteractiveServer,
  TestBrowser,
} from '@tessera/testkit';
import type { BrowserResponse, InteractiveScenario, TestServer } from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Step confusion in the sign-in interaction (prompt=login / max_age bypass): each page's step is kept
// server-side with the actions it offered, and a form may only answer its own page. For every step, every action
// (and every field) the page did not offer is refused with the exact error page, and no code is issued.
const postgresUp = await postgresAvailable();

type StepName =
  'sign-in page for prompt=login' | 'sign-in page for max_age' | 'account picker' | 'consent page';

/** The actions any page of the sign-in UI has: what an attacker may post to each. */
type Attempt =
  | 'signin'
  | 'select'
  | 'use_another'
  | 'consent'
  | 'decline'
  | 'unknown action'
  | 'no action'
  | 'signin with a session field'
  | 'select with a reference this page did not offer'
  | 'use_another with a session field'
  | 'consent for the organization (not offered)';

const OFFERED: Record<StepName, readonly Attempt[]> = {
  'sign-in page for prompt=login': ['signin'],
  'sign-in page for max_age': ['signin'],
  'account picker': ['select', 'use_another'],
  'consent page': ['consent', 'decline'],
};

/** Attempts that are an offered action with a field (or value) the page did not offer, per step. */
const FIELD_ATTEMPTS: Record<StepName, readonly Attempt[]> = {
  'sign-in page for prompt=login': ['signin with a session field'],
  'sign-in page for max_age': ['signin with a session field'],
  'account picker': ['select with a reference this page did not offer', 'use_another with a session field'],
  'consent page': ['consent for the organization (not offered)'],
};

const ACTIONS: readonly Attempt[] = [
  'signin',
  'select',
  'use_another',
  'consent',
  'decline',
  'unknown action',
  'no action',
];
const STEPS: readonly StepName[] = [
  'sign-in page for prompt=login',
  'sign-in page for max_age',
  'account picker',
  'consent page',
];

const rows: [StepName, Attempt][] = STEPS.flatMap((step) => [
  ...ACTIONS.filter((a) => !OFFERED[step].includes(a)).map((a): [StepName, Attempt] => [step, a]),
  ...FIELD_ATTEMPTS[step].map((a): [StepName, Attempt] => [step, a]),
]);

const hiddenOf = (page: BrowserResponse, name: string) =>
  new RegExp(`name="${name}" value="([^"]+)"`).exec(page.body)?.[1];

describe.each([
  ['SQLite', 'sqlite', true],
  ['PostgreSQL', 'postgres', postgresUp],
] as const)('interaction steps accept only what their page offered (%s)', (_name, database, available) => {
  let server: TestServer;
  let s: InteractiveScenario;
  /** Signed in as alice more than a second ago (so `max_age=0` has elapsed). */
  let browser: TestBrowser;
  let firstAuthTime: number;

  const authorize = (overrides: Record<string, string> = {}) =>
    authorizeUrl(server.url, s.tenantId, s.web, overrides);
  const login = () => `${server.url}/${s.tenantId}/login`;

  async function idTokenOf(redirect: BrowserResponse): Promise<Record<string, unknown>> {
    expect(redirect.status).toBe(302);
    const code = new URL(redirect.location ?? '').searchParams.get('code');
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const response = await fetch(`${server.url}/${s.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: s.web.appId,
        client_secret: s.web.secret,
        code: code ?? '',
        redirect_uri: s.web.redirectUri,
      }),
    });
    expect(response.status).toBe(200);
    return decodeJwt(((await response.json()) as { id_token: string }).id_token);
  }

  beforeAll(async () => {
    if (!available) return;
    ({ server, scenario: s } = await startInteractiveServer({ database }));
    browser = new TestBrowser();
    const back = await signInThrough(browser, authorize(), {
      userName: s.user.userPrincipalName,
      password: s.password,
    });
    firstAuthTime = (await idTokenOf(back)).auth_time as number;
    await new Promise((resolve) => setTimeout(resolve, 1100));
  });
  afterAll(async () => {
    if (available) await server.close();
  });

  /** Opens the page of a step in the signed-in browser. */
  async function open(step: StepName): Promise<BrowserResponse> {
    const url =
      step === 'sign-in page for prompt=login'
        ? authorize({ prompt: 'login' })
        : step === 'sign-in page for max_age'
          ? authorize({ max_age: '0' })
          : step === 'account picker'
            ? authorize({ prompt: 'select_account' })
            : authorize({ scope: `openid ${s.api.identifierUri}/Files.Read`, prompt: 'consent' });
    const page = await browser.get(url);
    expect(page.status).toBe(200);
    const marker =
      step === 'account picker'
        ? 'name="session"'
        : step === 'consent page'
          ? 'value="consent"'
          : 'name="password"';
    expect(page.body).toContain(marker);
    return page;
  }

  /** The fields an attacker posts for an attempt; `ref` is a picker reference of another page. */
  function attemptFields(attempt: Attempt, ref: string): Record<string, string> {
    const credentials = { username: s.user.userPrincipalName, password: s.password };
    switch (attempt) {
      case 'signin':
        return { action: 'signin', ...credentials };
      case 'select':
      case 'select with a reference this page did not offer':
        return { action: 'select', session: ref };
      case 'use_another':
        return { action: 'use_another' };
      case 'consent':
        return { action: 'consent' };
      case 'decline':
        return { action: 'decline' };
      case 'unknown action':
        return { action: 'skip_password' };
      case 'no action':
        return {};
      case 'signin with a session field':
        return { action: 'signin', ...credentials, session: ref };
      case 'use_another with a session field':
        return { action: 'use_another', session: ref };
      case 'consent for the organization (not offered)':
        return { action: 'consent', consent_organization: 'true' };
    }
  }

  it.skipIf(!available).each(rows)('%s: refuses %s (9100022, no code)', async (step, attempt) => {
    // The attacker's material: a genuine picker reference, from another page of the same browser.
    const picker = await open('account picker');
    const ref = hiddenOf(picker, 'session') ?? '';
    const page = await open(step);
    const answer = await browser.post(login(), {
      interaction: hiddenOf(page, 'interaction') ?? '',
      csrf_token: hiddenOf(page, 'csrf_token') ?? '',
      ...attemptFields(attempt, ref),
    });
    expect(answer.status).toBe(400);
    expect(answer.location).toBeUndefined();
    expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(answer.body).toContain('Error code: TSS9100022');
    expect(answer.body).toContain(
      'The sign-in page did not offer this choice. Go back to the application and sign in again.',
    );
    expect(answer.body).not.toContain('code=');
    expect(answer.headers.get('set-cookie') ?? '').not.toContain('tessera_sso=');
  });

  it.skipIf(!available)(
    'refuses a page of another browser (9100014), even with a valid anti-CSRF token',
    async () => {
      const page = await open('sign-in page for prompt=login');
      const attacker = new TestBrowser();
      const own = await attacker.get(authorize());
      const answer = await attacker.post(login(), {
        interaction: hiddenOf(page, 'interaction') ?? '',
        csrf_token: hiddenOf(own, 'csrf_token') ?? '',
        action: 'signin',
        username: s.user.userPrincipalName,
        password: s.password,
      });
      expect(answer.status).toBe(400);
      expect(answer.body).toContain('Error code: TSS9100014');
      expect(answer.body).toContain(
        'The sign-in request expired. Go back to the application and sign in again.',
      );
    },
  );

  it.skipIf(!available)(
    'never sends SSO session ids to the browser: the picker offers per-page references',
    async () => {
      const first = hiddenOf(await open('account picker'), 'session');
      const second = hiddenOf(await open('account picker'), 'session');
      expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(second).not.toBe(first);
    },
  );

  it.skipIf(!available)(
    'prompt=login: only the password answers, and the id_token carries the new auth_time',
    async () => {
      const page = await open('sign-in page for prompt=login');
      const back = await browser.submit(server.url, page, {
        username: s.user.userPrincipalName,
        password: s.password,
      });
      const claims = await idTokenOf(back);
      expect(claims.auth_time as number).toBeGreaterThan(firstAuthTime);
    },
  );

  it.skipIf(!available)(
    'max_age: an account picked on the picker is held to max_age (sign-in page, not a code with the old auth_time)',
    async () => {
      const fresh = new TestBrowser();
      await signInThrough(fresh, authorize(), { userName: s.user.userPrincipalName, password: s.password });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const picker = await fresh.get(authorize({ prompt: 'select_account', max_age: '0' }));
      expect(picker.body).toContain('name="session"');
      const next = await fresh.submit(server.url, picker, {}, s.user.userPrincipalName);
      expect(next.status).toBe(200);
      expect(next.location).toBeUndefined();
      expect(next.body).toContain('name="password"');
      const back = await fresh.submit(server.url, next, {
        username: s.user.userPrincipalName,
        password: s.password,
      });
      const claims = await idTokenOf(back);
      expect(Math.abs((claims.auth_time as number) - Date.now() / 1000)).toBeLessThan(5);
    },
  );

  it.skipIf(!available).each([['prompt', 'login'] as const, ['max_age', '0'] as const])(
    '%s=%s with consent to give: the password, then the consent page, then a code with the new auth_time',
    async (name, value) => {
      const user = await server.directory.users.create({
        tenant: s.tenantId,
        userPrincipalName: `fresh-${name}-${Date.now()}@${s.domain}`,
        password: s.password,
        displayName: 'Fresh Consent',
      });
      const own = new TestBrowser();
      await signInThrough(own, authorize(), { userName: user.userPrincipalName, password: s.password });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const since = Math.floor(Date.now() / 1000);
      const url = authorize({ scope: `openid ${s.api.identifierUri}/Files.Read`, [name]: value });
      const signIn = await own.get(url);
      expect(signIn.body).toContain('name="password"');
      const consent = await own.submit(server.url, signIn, {
        username: user.userPrincipalName,
        password: s.password,
      });
      expect(consent.body).toContain('value="consent"');
      const back = await own.submit(server.url, consent, { action: 'consent' });
      expect((await idTokenOf(back)).auth_time as number).toBeGreaterThanOrEqual(since);
    },
  );

  it.skipIf(!available)(
    'parallel answers to one consent page (a double click) all continue, and record one grant',
    async () => {
      const user = await server.directory.users.create({
        tenant: s.tenantId,
        userPrincipalName: `clicker-${Date.now()}@${s.domain}`,
        password: s.password,
        displayName: 'Double Clicker',
      });
      const clicker = new TestBrowser();
      const signIn = await clicker.get(authorize({ scope: `openid ${s.api.identifierUri}/Files.Read` }));
      const consent = await clicker.submit(server.url, signIn, {
        username: user.userPrincipalName,
        password: s.password,
      });
      expect(consent.body).toContain('value="consent"');
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => clicker.submit(server.url, consent, { action: 'consent' })),
      );
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 6 }, () => 302));
      const store = server.directory.store;
      const [clientSp, resourceSp] = await Promise.all([
        store.servicePrincipals.find(s.tenantId, s.web.appId),
        store.servicePrincipals.find(s.tenantId, s.api.appId),
      ]);
      const grants = await store.permissionGrants.listBetween(clientSp?.id ?? '', resourceSp?.id ?? '');
      expect(grants.filter((g) => g.principalId === user.id).map((g) => g.scope)).toEqual(['Files.Read']);
    },
  );

  it.skipIf(!available)('the picker answers with an offered account (its own auth_time)', async () => {
    const picker = await open('account picker');
    const back = await browser.submit(server.url, picker, {}, s.user.userPrincipalName);
    expect((await idTokenOf(back)).auth_time as number).toBeGreaterThanOrEqual(firstAuthTime);
  });
});
