import type { ErrorCode } from '@tessera/protocol';
import {
  authorizeUrl,
  endpointUrl,
  escapeHtml,
  postgresAvailable,
  signInThrough,
  startInteractiveServer,
  TestBrowser,
} from '@tessera/testkit';
import type { BrowserResponse, InteractiveScenario, TestServer } from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Attacks on RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0, docs/endpoints.md), each class a table:
// - the return address is bound to an app that took part in the session being ended, in that tenant (no open
//   redirect for whoever can register an app), and refusing it never leaves the session alive;
// - a sign-out that nothing proves the user asked for (no id_token_hint, no logout_hint of an account signed in
//   here) asks first, on a page that cannot be framed and whose form carries an anti-CSRF token;
// - the picker's form only works from Tessera's own page;
// - bodies and methods that are no sign-out request get a catalogue 4xx, never a 500;
// - MSAL Browser's default `logoutRedirect()` (post_logout_redirect_uri + state + client-request-id + logout_hint,
//   no client_id, no id_token_hint) ends the session and returns with `state`.
// Sessions live in the store: every table runs on SQLite and PostgreSQL.

const pgAvailable = await postgresAvailable();
const dialects = [
  { name: 'SQLite', database: 'sqlite' as const, available: true },
  { name: 'PostgreSQL', database: 'postgres' as const, available: pgAvailable },
];

/** Apps beside the scenario's: another app of the tenant nobody signs in to, and an app of another tenant. */
const otherApp = { appId: '', redirectUri: 'https://other.example/cb' };
const foreignApp = { appId: '', redirectUri: 'https://foreign.example/cb', tenantId: '' };

describe.each(dialects)('RP-initiated logout attacks ($name)', ({ database, available }) => {
  let server: TestServer;
  let s: InteractiveScenario;

  beforeAll(async () => {
    if (!available) return;
    ({ server, scenario: s } = await startInteractiveServer({ database }));
    const other = await server.directory.applications.create({
      tenant: s.tenantId,
      displayName: 'Other app',
      redirectUris: { web: [otherApp.redirectUri] },
    });
    otherApp.appId = other.application.appId;
    const foreignTenant = await server.directory.tenants.create({
      displayName: 'Fabrikam',
      domains: [`f${Date.now().toString(36)}${database}.test`],
    });
    foreignApp.tenantId = foreignTenant.id;
    const foreign = await server.directory.applications.create({
      tenant: foreignTenant.id,
      displayName: 'Foreign app',
      redirectUris: { web: [foreignApp.redirectUri] },
    });
    foreignApp.appId = foreign.application.appId;
  });
  afterAll(async () => {
    if (available) await server.close();
  });

  const endpoint = (name: string, tenant = s.tenantId) => endpointUrl(server.url, tenant, name);
  const logoutUrl = (params: Record<string, string>, tenant?: string) =>
    `${endpoint('logout', tenant)}?${new URLSearchParams(params).toString()}`;
  const authorize = (extra: Record<string, string> = {}) =>
    authorizeUrl(server.url, s.tenantId, s.web, extra);

  /** A browser where `who` signed in to the web app, and the ID token the web app got. */
  async function signedIn(
    who: 'user' | 'admin' = 'user',
    browser = new TestBrowser(),
  ): Promise<{ browser: TestBrowser; idToken: string }> {
    const userName = who === 'user' ? s.user.userPrincipalName : s.admin.userPrincipalName;
    const back = await signInThrough(browser, authorize(who === 'admin' ? { prompt: 'login' } : {}), {
      userName,
      password: s.password,
    });
    const code = new URL(back.location ?? '').searchParams.get('code') ?? '';
    const response = await fetch(endpoint('token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: s.web.appId,
        client_secret: s.web.secret,
        grant_type: 'authorization_code',
        code,
        redirect_uri: s.web.redirectUri,
      }),
    });
    expect(response.status).toBe(200);
    return { browser, idToken: ((await response.json()) as { id_token: string }).id_token };
  }

  /** The `login_hint` claim of an ID token: what MSAL sends back as `logout_hint`. */
  const loginHintOf = (idToken: string) => String(decodeJwt(idToken).login_hint);

  /** Whether `login_hint` (a UPN) still has a live session in the browser: prompt=none answers a code. */
  async function signedInAs(browser: TestBrowser, userName: string): Promise<boolean> {
    const answer = await browser.get(authorize({ prompt: 'none', login_hint: userName }));
    const fields = new URL(answer.location ?? 'https://x.invalid/').searchParams;
    if (fields.has('code')) return true;
    expect(fields.get('error')).toBe('login_required');
    return false;
  }

  function expectSignedOutWithRefusal(page: BrowserResponse, code: ErrorCode, description: string): void {
    expect({ status: page.status, location: page.location }).toEqual({ status: 400, location: undefined });
    expect(page.body).toContain('<h1>You signed out</h1>');
    expect(page.body).toContain(`Error code: TSS${code}</p>`);
    expect(page.body).toContain(escapeHtml(description));
  }

  function expectErrorPage(page: BrowserResponse, status: number, code: ErrorCode, description: string) {
    expect({ status: page.status, location: page.location }).toEqual({ status, location: undefined });
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.body).toContain(`Error code: TSS${code}<br>`);
    expect(page.body).toContain(escapeHtml(description));
  }

  function expectPicker(page: BrowserResponse, accounts: readonly string[]): void {
    expect({ status: page.status, location: page.location }).toEqual({ status: 200, location: undefined });
    expect(page.body).toContain('<h1>Pick an account to sign out</h1>');
    for (const account of accounts) expect(page.body).toContain(escapeHtml(account));
    // Not frameable (a click-jacked "sign out" button), never cached, the form protected against CSRF.
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.body).toMatch(/<input type="hidden" name="csrf_token" value="[A-Za-z0-9_-]{43}">/);
    expect(page.body).toContain(`action="/${s.tenantId}/oauth2/v2.0/logout/confirm"`);
  }

  describe.skipIf(!available)('the return address is bound to an app of the ended session', () => {
    // Each row proves intent (logout_hint of the signed-in account), so the session ends; only the return
    // address is wrong, so the browser stays on Tessera's signed-out page.
    const rows: [string, (hint: string) => Record<string, string>, ErrorCode, () => string][] = [
      [
        "a foreign tenant's app by client_id, with its registered URI",
        (hint) => ({
          logout_hint: hint,
          client_id: foreignApp.appId,
          post_logout_redirect_uri: foreignApp.redirectUri,
        }),
        9100060,
        () =>
          `The post_logout_redirect_uri '${foreignApp.redirectUri}' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.`,
      ],
      [
        "a foreign tenant's app's URI, no client named",
        (hint) => ({ logout_hint: hint, post_logout_redirect_uri: foreignApp.redirectUri }),
        9100060,
        () =>
          `The post_logout_redirect_uri '${foreignApp.redirectUri}' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.`,
      ],
      [
        'an app of this tenant that took no part in the session, by client_id',
        (hint) => ({
          logout_hint: hint,
          client_id: otherApp.appId,
          post_logout_redirect_uri: otherApp.redirectUri,
        }),
        9100060,
        () =>
          `The post_logout_redirect_uri '${otherApp.redirectUri}' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.`,
      ],
      [
        "an app's URI that took no part in the session, no client named",
        (hint) => ({ logout_hint: hint, post_logout_redirect_uri: otherApp.redirectUri }),
        9100060,
        () =>
          `The post_logout_redirect_uri '${otherApp.redirectUri}' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.`,
      ],
      [
        "the session's app, another app's URI",
        (hint) => ({
          logout_hint: hint,
          client_id: s.web.appId,
          post_logout_redirect_uri: otherApp.redirectUri,
        }),
        9100017,
        () =>
          `The post_logout_redirect_uri '${otherApp.redirectUri}' is not registered for the application '${s.web.appId}'.`,
      ],
      [
        "the session's app, a near-miss of its URI",
        (hint) => ({
          logout_hint: hint,
          client_id: s.web.appId,
          post_logout_redirect_uri: `${s.web.redirectUri}/`,
        }),
        9100017,
        () =>
          `The post_logout_redirect_uri '${s.web.redirectUri}/' is not registered for the application '${s.web.appId}'.`,
      ],
      [
        'an unregistered URI, no client named',
        (hint) => ({ logout_hint: hint, post_logout_redirect_uri: 'https://evil.example/' }),
        9100060,
        () =>
          "The post_logout_redirect_uri 'https://evil.example/' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.",
      ],
      [
        'a javascript: URI',
        (hint) => ({ logout_hint: hint, post_logout_redirect_uri: 'javascript:alert(1)' }),
        9100060,
        () =>
          "The post_logout_redirect_uri 'javascript:alert(1)' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.",
      ],
    ];
    it.each(rows)('%s: session ended, no redirect (%s)', async (_name, params, code, description) => {
      const { browser, idToken } = await signedIn();
      const page = await browser.get(logoutUrl(params(loginHintOf(idToken))));
      expectSignedOutWithRefusal(page, code, description());
      expect(await signedInAs(browser, s.user.userPrincipalName)).toBe(false);
      expect(browser.cookie('tessera_sso')).toBeUndefined();
    });

    it('with the same hint, the registered URI of the session app returns at once with state', async () => {
      const { browser, idToken } = await signedIn();
      const page = await browser.get(
        logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: s.web.redirectUri, state: 'bye' }),
      );
      expect([page.status, page.location]).toEqual([302, `${s.web.redirectUri}?state=bye`]);
      expect(await signedInAs(browser, s.user.userPrincipalName)).toBe(false);
    });

    it("a sign-out at another tenant's endpoint neither ends this tenant's session nor returns to its app", async () => {
      const { browser, idToken } = await signedIn();
      const page = await browser.get(
        logoutUrl(
          { id_token_hint: idToken, post_logout_redirect_uri: s.web.redirectUri },
          foreignApp.tenantId,
        ),
      );
      expectSignedOutWithRefusal(
        page,
        9100060,
        `The post_logout_redirect_uri '${s.web.redirectUri}' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.`,
      );
      expect(await signedInAs(browser, s.user.userPrincipalName)).toBe(true);
    });
  });

  describe.skipIf(!available)('a sign-out nothing proves asks the user first', () => {
    const rows: [string, (idToken: string) => Record<string, string>][] = [
      ['no parameters (a cross-site link)', () => ({})],
      [
        'client_id and a registered post_logout_redirect_uri',
        () => ({ client_id: s.web.appId, post_logout_redirect_uri: s.web.redirectUri }),
      ],
      ['a logout_hint that is a user name (guessable)', () => ({ logout_hint: s.user.userPrincipalName })],
      [
        'a forged logout_hint',
        (idToken) => {
          const hint = Buffer.from(loginHintOf(idToken), 'base64url').toString('utf8');
          const forged = hint.replace(/\|[^|]+$/, `|${'A'.repeat(22)}`);
          return { logout_hint: Buffer.from(forged).toString('base64url') };
        },
      ],
      ['a genuine logout_hint of another account, not signed in here', () => ({ logout_hint: adminHint })],
      ['an unsigned id_token_hint', () => ({ id_token_hint: 'eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.' })],
      [
        'an id_token_hint whose audience is not the client_id',
        (idToken) => ({ id_token_hint: idToken, client_id: otherApp.appId }),
      ],
      ['an access token as id_token_hint', () => ({ id_token_hint: accessToken })],
    ];
    let adminHint = '';
    let accessToken = '';
    beforeAll(async () => {
      if (!available) return;
      adminHint = loginHintOf((await signedIn('admin')).idToken);
      const response = await fetch(endpoint('token'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          client_id: s.web.appId,
          client_secret: s.web.secret,
          grant_type: 'client_credentials',
          scope: `${s.api.identifierUri}/.default`,
        }),
      });
      accessToken = ((await response.json()) as { access_token: string }).access_token;
    });
    it.each(rows)('%s: the account picker, nothing ended', async (_name, params) => {
      const { browser, idToken } = await signedIn();
      expectPicker(await browser.get(logoutUrl(params(idToken))), [s.user.userPrincipalName]);
      expect(await signedInAs(browser, s.user.userPrincipalName)).toBe(true);
    });

    it('an id_token_hint ends only its account; the other stays signed in, the cookie stays', async () => {
      const { browser, idToken } = await signedIn();
      await signedIn('admin', browser);
      const page = await browser.get(logoutUrl({ id_token_hint: idToken }));
      expect(page.status).toBe(200);
      expect(page.body).toContain('<h1>You signed out</h1>');
      expect(await signedInAs(browser, s.user.userPrincipalName)).toBe(false);
      expect(await signedInAs(browser, s.admin.userPrincipalName)).toBe(true);
    });

    it('one click on the picker ends that account and returns to the session app with state', async () => {
      const { browser } = await signedIn();
      await signedIn('admin', browser);
      const params = { post_logout_redirect_uri: s.web.redirectUri, state: 'bye' };
      const page = await browser.get(logoutUrl(params));
      expectPicker(page, [s.user.userPrincipalName, s.admin.userPrincipalName]);
      expect(page.body).toContain('Sign out of every account');
      // The form's POST answers with a redirect to the app, which Chromium checks against form-action.
      expect(page.headers.get('content-security-policy')).toContain("form-action 'self' https://app.example");
      const out = await browser.submit(endpoint('logout'), page, {}, s.admin.userPrincipalName);
      expect([out.status, out.location]).toEqual([302, `${s.web.redirectUri}?state=bye`]);
      expect(await signedInAs(browser, s.admin.userPrincipalName)).toBe(false);
      expect(await signedInAs(browser, s.user.userPrincipalName)).toBe(true);
      const again = await browser.get(logoutUrl({}));
      expectPicker(again, [s.user.userPrincipalName]);
      const last = await browser.submit(endpoint('logout'), again, {});
      expect(last.status).toBe(200);
      expect(browser.cookie('tessera_sso')).toBeUndefined();
    });

    it('"Sign out of every account" ends them all', async () => {
      const { browser } = await signedIn();
      await signedIn('admin', browser);
      const page = await browser.get(logoutUrl({}));
      await browser.submit(endpoint('logout'), page, {}, 'value="all"');
      expect(await signedInAs(browser, s.user.userPrincipalName)).toBe(false);
      expect(await signedInAs(browser, s.admin.userPrincipalName)).toBe(false);
      expect(browser.cookie('tessera_sso')).toBeUndefined();
    });
  });

  describe.skipIf(!available)("the picker's form works only from Tessera's page", () => {
    /** The hidden fields of the picker's first form. */
    function fieldsOf(page: BrowserResponse): Record<string, string> {
      const fields: Record<string, string> = {};
      const form = /<form method="post"[^>]*>([\s\S]*?)<\/form>/.exec(page.body)?.[1] ?? '';
      for (const m of form.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g))
        fields[m[1] ?? ''] = (m[2] ?? '').replaceAll('&amp;', '&');
      return fields;
    }
    const rows: [
      string,
      (fields: Record<string, string>, victim: TestBrowser) => Promise<BrowserResponse>,
    ][] = [
      ['no csrf_token', (f, b) => b.post(endpoint('logout/confirm'), { ...f, csrf_token: '' })],
      [
        'a wrong csrf_token',
        (f, b) => b.post(endpoint('logout/confirm'), { ...f, csrf_token: 'A'.repeat(43) }),
      ],
      [
        "another browser's csrf_token",
        async (f, b) => {
          const attacker = new TestBrowser();
          const page = await attacker.get(logoutUrl({}));
          const token = /name="csrf_token" value="([^"]*)"/.exec(page.body)?.[1];
          return b.post(endpoint('logout/confirm'), { ...f, csrf_token: token ?? 'none' });
        },
      ],
      [
        'a tampered logout_request',
        (f, b) =>
          b.post(endpoint('logout/confirm'), {
            ...f,
            logout_request: `${f.logout_request?.slice(0, -2) ?? ''}AA`,
          }),
      ],
      [
        "the sign-in page's sealed interaction as logout_request",
        async (f, b) => {
          const signIn = await b.get(authorize({ prompt: 'login' }));
          const sealed = /name="interaction" value="([^"]*)"/.exec(signIn.body)?.[1] ?? 'e30.AAAA';
          return b.post(endpoint('logout/confirm'), { ...f, logout_request: sealed });
        },
      ],
      [
        'the form posted to another tenant',
        (f, b) => b.post(endpoint('logout/confirm', foreignApp.tenantId), f),
      ],
      [
        'a session the page did not offer',
        (f, b) => b.post(endpoint('logout/confirm'), { ...f, session: 'x' }),
      ],
    ];
    it.each(rows)('%s: 403 9100061, nothing ended', async (_name, forge) => {
      const { browser } = await signedIn();
      const page = await browser.get(logoutUrl({}));
      expectPicker(page, [s.user.userPrincipalName]);
      expectErrorPage(
        await forge(fieldsOf(page), browser),
        403,
        9100061,
        'The sign-out form expired or was not submitted from this site. Go back to the application and sign out again.',
      );
      expect(await signedInAs(browser, s.user.userPrincipalName)).toBe(true);
    });
  });

  describe.skipIf(!available)(
    'bodies and methods that are no sign-out request: a catalogue 4xx, never a 500',
    () => {
      const rows: [string, () => RequestInit & { url?: string }, number, ErrorCode, string][] = [
        [
          'HEAD',
          () => ({ method: 'HEAD' }),
          405,
          9100062,
          'The endpoint /{tenant}/oauth2/v2.0/logout does not accept the HEAD method; use GET or POST.',
        ],
        [
          'POST with a JSON null body',
          () => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: 'null' }),
          415,
          9100007,
          "The request body must be 'application/x-www-form-urlencoded'.",
        ],
        [
          'POST with a JSON object body',
          () => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"state":"x"}' }),
          415,
          9100007,
          "The request body must be 'application/x-www-form-urlencoded'.",
        ],
        [
          'POST with a text body',
          () => ({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'state=x' }),
          415,
          9100007,
          "The request body must be 'application/x-www-form-urlencoded'.",
        ],
        [
          'GET with a repeated parameter',
          () => ({ method: 'GET', url: logoutUrl({}) + '&state=a&state=b' }),
          400,
          9100004,
          "The request must not contain the parameter 'state' more than once.",
        ],
        [
          'a confirmation that is not a form',
          () => ({
            method: 'POST',
            url: endpoint('logout/confirm'),
            headers: { 'content-type': 'application/json' },
            body: 'null',
          }),
          415,
          9100007,
          "The request body must be 'application/x-www-form-urlencoded'.",
        ],
      ];
      it.each(rows)('%s', async (_name, init, status, code, description) => {
        const { url, ...rest } = init();
        const response = await fetch(url ?? endpoint('logout'), { redirect: 'manual', ...rest });
        const body = await response.text();
        expect(response.status).toBe(status);
        if (rest.method === 'HEAD') {
          expect(response.headers.get('allow')).toBe('GET, POST');
          expect(body).toBe('');
          return;
        }
        expectErrorPage(
          { status: response.status, headers: response.headers, body, location: undefined },
          status,
          code,
          description,
        );
      });

      it('POST with no body is a sign-out request without parameters (the picker once signed in)', async () => {
        const anonymous = await fetch(endpoint('logout'), { method: 'POST', redirect: 'manual' });
        expect(anonymous.status).toBe(200);
        expect(await anonymous.text()).toContain('<h1>You signed out</h1>');
        const { browser } = await signedIn();
        const page = await browser.post(endpoint('logout'), {});
        expectPicker(page, [s.user.userPrincipalName]);
      });

      it('HEAD never signs anyone out', async () => {
        const { browser, idToken } = await signedIn();
        const cookie = `tessera_sso=${browser.cookie('tessera_sso') ?? ''}`;
        const head = await fetch(logoutUrl({ id_token_hint: idToken }), {
          method: 'HEAD',
          headers: { cookie },
        });
        expect(head.status).toBe(405);
        expect(await signedInAs(browser, s.user.userPrincipalName)).toBe(true);
      });
    },
  );

  describe.skipIf(!available)("MSAL Browser's default logoutRedirect()", () => {
    const msalParams = (extra: Record<string, string>) => ({
      post_logout_redirect_uri: s.web.redirectUri,
      'client-request-id': '4f8d2a3c-1b6e-4e1a-9c2d-7a5b3c9e0f11',
      state: 'eyJpZCI6IjAxOTMifQ',
      ...extra,
    });

    it('with logout_hint (the login_hint claim): ends the session, returns with state, no page', async () => {
      const { browser, idToken } = await signedIn();
      const hint = loginHintOf(idToken);
      expect(hint).toMatch(/^[A-Za-z0-9_-]{40,200}$/);
      expect(hint).not.toContain(s.user.id); // opaque
      const out = await browser.get(logoutUrl(msalParams({ logout_hint: hint })));
      expect([out.status, out.location]).toEqual([302, `${s.web.redirectUri}?state=eyJpZCI6IjAxOTMifQ`]);
      expect(await signedInAs(browser, s.user.userPrincipalName)).toBe(false);
      expect(browser.cookie('tessera_sso')).toBeUndefined();
    });

    it('without logout_hint: one click on the picker, then the same', async () => {
      const { browser } = await signedIn();
      const page = await browser.get(logoutUrl(msalParams({})));
      expectPicker(page, [s.user.userPrincipalName]);
      const out = await browser.submit(endpoint('logout'), page, {});
      expect([out.status, out.location]).toEqual([302, `${s.web.redirectUri}?state=eyJpZCI6IjAxOTMifQ`]);
      expect(await signedInAs(browser, s.user.userPrincipalName)).toBe(false);
    });

    it('the login_hint claim as login_hint at authorize signs in silently to that account', async () => {
      const { browser, idToken } = await signedIn();
      await signedIn('admin', browser);
      const pick = (hint: string) => browser.get(authorize({ prompt: 'none', login_hint: hint }));
      const silent = new URL((await pick(loginHintOf(idToken))).location ?? '').searchParams;
      expect(silent.has('code')).toBe(true);
      // A forged hint names no account: with two signed in and no UI allowed, login_required.
      const forged = `${loginHintOf(idToken).slice(0, -4)}AAAA`;
      expect(new URL((await pick(forged)).location ?? '').searchParams.get('error')).toBe('login_required');
    });
  });
});
