import type { ErrorCode } from '@tessera/protocol';
import {
  authorizationCodeFields,
  authorizeUrl,
  createPkcePair,
  endpointUrl,
  escapeHtml,
  expectedErrorResponse,
  fetchManual,
  readErrorResponse,
  seedInteractiveScenario,
  signInThrough,
  startInteractiveServer,
  startTestServer,
  TestBrowser,
} from '@tessera/testkit';
import type { BrowserResponse, InteractiveScenario, TestServer } from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Attacks on the interactive half (docs/endpoints.md): every refusal asserts the exact error (page or redirect) it gets.
let server: TestServer;
let s: InteractiveScenario;

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer());
});
afterAll(() => server.close());

const tokenUrl = () => endpointUrl(server.url, s.tenantId, 'token');

/** An authorization URL of the web app, `offline_access` included; `undefined` removes a parameter. */
const webAuthorize = (overrides: Record<string, string | undefined> = {}, suffix = '') =>
  authorizeUrl(
    server.url,
    s.tenantId,
    s.web,
    { scope: 'openid profile offline_access', ...overrides },
    suffix,
  );

function expectErrorPage(page: BrowserResponse, code: ErrorCode, description: string, status = 400): void {
  expect(page.status).toBe(status);
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(page.location).toBeUndefined();
  expect(page.body).toContain(`Error code: TSS${code}`);
  expect(page.body).toContain(escapeHtml(description));
}

function expectRedirectError(
  page: BrowserResponse,
  redirectUri: string,
  error: string,
  code: ErrorCode,
  description: string,
  mode: 'query' | 'fragment' = 'query',
): URLSearchParams {
  expect(page.status).toBe(302);
  const location = page.location ?? '';
  const separator = mode === 'query' ? '?' : '#';
  expect(location.startsWith(`${redirectUri}${separator}`)).toBe(true);
  const fields = new URLSearchParams(location.slice(redirectUri.length + 1));
  expect(fields.get('error')).toBe(error);
  expect(fields.get('error_description')?.split('\r\n')[0]).toBe(`TSS${code}: ${description}`);
  expect(fields.get('iss')).toBe(`${server.url}/${s.tenantId}/v2.0`);
  return fields;
}

describe('authorization endpoint: refusals before the redirect URI is proven render the error page', () => {
  const near = () => s.web.redirectUri;
  const cases: [string, () => string, ErrorCode, () => string][] = [
    [
      'no client_id',
      () => webAuthorize({ client_id: undefined }),
      900144,
      () => "The request body must contain the following parameter: 'client_id'.",
    ],
    [
      'unknown client_id',
      () => webAuthorize({ client_id: '11111111-1111-1111-1111-111111111111' }),
      700016,
      () =>
        `Application with identifier '11111111-1111-1111-1111-111111111111' was not found in the directory '${s.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
    ],
    [
      'no redirect_uri',
      () => webAuthorize({ redirect_uri: undefined }),
      900971,
      () => 'No reply address provided.',
    ],
    ...(
      [
        ['trailing slash', () => `${near()}/`],
        ['upper-case path', () => near().replace('callback', 'Callback')],
        ['upper-case host', () => near().replace('app.example', 'APP.example')],
        ['explicit port', () => near().replace('app.example', 'app.example:443')],
        ['other port', () => near().replace('app.example', 'app.example:8443')],
        ['http scheme', () => near().replace('https:', 'http:')],
        ['userinfo trick', () => 'https://app.example@evil.example/callback'],
        ['evil host with good prefix', () => 'https://app.example.evil.example/callback'],
        ['encoded slash', () => 'https://app.example/callback%2F..%2F'],
        ['percent-encoded letter', () => 'https://app.example/c%61llback'],
        ['path traversal', () => 'https://app.example/callback/../callback'],
        ['extra query', () => `${near()}?next=https://evil.example`],
        ['fragment', () => `${near()}#x`],
        ['spa URI for the web app', () => s.spa.redirectUri],
        ['loopback any-port is for public clients only', () => 'http://127.0.0.1:8080/callback'],
      ] as const
    ).map(([name, uri]): [string, () => string, ErrorCode, () => string] => [
      `redirect_uri near-miss: ${name}`,
      () => webAuthorize({ redirect_uri: uri() }),
      50011,
      () =>
        `The redirect URI '${uri()}' specified in the request does not match the redirect URIs configured for the application '${s.web.appId}'. Make sure the redirect URI sent in the request matches one added to your application.`,
    ]),
    [
      'repeated client_id',
      () => webAuthorize({}, `&client_id=${s.native.appId}`),
      9100004,
      () => "The request must not contain the parameter 'client_id' more than once.",
    ],
    [
      'repeated redirect_uri',
      () => webAuthorize({}, `&redirect_uri=${encodeURIComponent('https://evil.example/')}`),
      9100004,
      () => "The request must not contain the parameter 'redirect_uri' more than once.",
    ],
  ];
  it.each(cases)('%s', async (_name, url, code, description) => {
    const page = await fetchManual(url());
    expectErrorPage(page, code, description());
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('authorization endpoint: refusals after the redirect URI is proven go back to it', () => {
  const native = (overrides: Record<string, string | undefined>) => {
    const { challenge } = createPkcePair();
    return webAuthorize({
      client_id: s.native.appId,
      redirect_uri: 'http://127.0.0.1:49152/callback',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...overrides,
    });
  };
  const cases: [
    string,
    () => string,
    () => string,
    string,
    ErrorCode,
    () => string,
    ('query' | 'fragment')?,
  ][] = [
    [
      'unknown response_type',
      () => webAuthorize({ response_type: 'code token_x' }),
      () => s.web.redirectUri,
      'unsupported_response_type',
      70005,
      () =>
        "The response type 'code token_x' is not supported: use code, token, id_token, id_token token or code id_token.",
    ],
    [
      'tokens in a query string',
      () =>
        webAuthorize({
          client_id: s.spa.appId,
          redirect_uri: s.spa.redirectUri,
          response_type: 'id_token',
          response_mode: 'query',
        }),
      () => s.spa.redirectUri,
      'invalid_request',
      70007,
      () =>
        "The response mode 'query' is not supported: tokens are never sent in a query string; use fragment or form_post.",
      'fragment',
    ],
    [
      'implicit token not enabled',
      () => webAuthorize({ response_type: 'token', response_mode: 'fragment' }),
      () => s.web.redirectUri,
      'unsupported_response_type',
      70005,
      () =>
        "The response type 'token' is not supported: response type 'token' is not enabled for the application.",
      'fragment',
    ],
    [
      'implicit id_token not enabled',
      () => webAuthorize({ response_type: 'id_token', response_mode: 'fragment' }),
      () => s.web.redirectUri,
      'unauthorized_client',
      700054,
      () => `Response_type 'id_token' is not enabled for the application '${s.web.appId}'.`,
      'fragment',
    ],
    [
      'id_token without nonce',
      () =>
        webAuthorize({
          client_id: s.spa.appId,
          redirect_uri: s.spa.redirectUri,
          response_type: 'id_token',
          nonce: undefined,
        }),
      () => s.spa.redirectUri,
      'invalid_request',
      900144,
      () => "The request body must contain the following parameter: 'nonce'.",
      'fragment',
    ],
    [
      'PKCE plain refused',
      () => native({ code_challenge_method: 'plain' }),
      () => 'http://127.0.0.1:49152/callback',
      'invalid_request',
      9100012,
      () => "The code_challenge_method 'plain' is not supported; use 'S256'.",
    ],
    [
      'PKCE challenge without method (= plain)',
      () => native({ code_challenge_method: undefined }),
      () => 'http://127.0.0.1:49152/callback',
      'invalid_request',
      9100012,
      () => "The code_challenge_method 'plain' is not supported; use 'S256'.",
    ],
    [
      'PKCE missing for a public client',
      () => native({ code_challenge: undefined, code_challenge_method: undefined }),
      () => 'http://127.0.0.1:49152/callback',
      'invalid_request',
      9100011,
      () =>
        "Proof Key for Code Exchange (code_challenge with code_challenge_method 'S256') is required for public clients.",
    ],
    [
      'PKCE missing for a spa',
      () => webAuthorize({ client_id: s.spa.appId, redirect_uri: s.spa.redirectUri }),
      () => s.spa.redirectUri,
      'invalid_request',
      9100011,
      () =>
        "Proof Key for Code Exchange (code_challenge with code_challenge_method 'S256') is required for single-page application clients.",
    ],
    [
      'malformed challenge',
      () => native({ code_challenge: 'short' }),
      () => 'http://127.0.0.1:49152/callback',
      'invalid_request',
      50147,
      () =>
        'The size of the code challenge parameter is not valid: it must be 43 to 128 characters of the base64url alphabet.',
    ],
    [
      'prompt none with login',
      () => webAuthorize({ prompt: 'none login' }),
      () => s.web.redirectUri,
      'invalid_request',
      9002313,
      () => "Request is malformed or invalid: prompt 'none' cannot be combined with other values.",
    ],
    [
      'malformed claims',
      () => webAuthorize({ claims: '{oops' }),
      () => s.web.redirectUri,
      'invalid_request',
      9002313,
      () => "Request is malformed or invalid: 'claims' must be a JSON object.",
    ],
    [
      'prompt=none without a session',
      () => webAuthorize({ prompt: 'none' }),
      () => s.web.redirectUri,
      'login_required',
      50058,
      () =>
        'Session information is not sufficient for single-sign-on. The user is not signed in, and the request asked for no interaction (prompt=none).',
    ],
    [
      'unknown scope',
      () => webAuthorize({ scope: `openid ${s.api.identifierUri}/Files.Delete`, prompt: undefined }),
      () => s.web.redirectUri,
      'invalid_scope',
      70011,
      () =>
        "The provided value for the input parameter 'scope' is not valid. The scope Files.Delete is not valid.",
    ],
  ];
  it.each(cases)('%s', async (_name, url, redirect, error, code, description, mode) => {
    const page = await fetchManual(url());
    const fields = expectRedirectError(page, redirect(), error, code, description(), mode ?? 'query');
    expect(fields.get('state')).toBe('st');
  });

  it('answers prompt=none at once (never a page), with consent_required for a signed-in user who did not consent', async () => {
    const browser = new TestBrowser();
    await signInThrough(browser, webAuthorize(), {
      userName: s.user.userPrincipalName,
      password: s.password,
    });
    const silent = await browser.get(
      webAuthorize({ prompt: 'none', scope: `openid ${s.api.identifierUri}/Files.Read` }),
    );
    const fields = expectRedirectError(
      silent,
      s.web.redirectUri,
      'consent_required',
      65001,
      `The user or administrator has not consented to use the application with ID '${s.web.appId}'. Send an interactive authorization request for this user and resource.`,
    );
    expect(fields.get('suberror')).toBe('consent_required');
    const ok = await browser.get(webAuthorize({ prompt: 'none' }));
    expect(ok.status).toBe(302);
    expect(new URL(ok.location!).searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('sends access_denied (90094) to the app when a non-admin user meets admin-only scopes', async () => {
    const page = await signInThrough(
      new TestBrowser(),
      webAuthorize({ scope: `openid ${s.api.identifierUri}/Files.Admin` }),
      {
        userName: s.user.userPrincipalName,
        password: s.password,
      },
    );
    expect(page.status).toBe(302);
    expectRedirectError(
      page,
      s.web.redirectUri,
      'access_denied',
      90094,
      'Administrator consent is required for: Files.Admin. Ask an administrator of your organization to grant it.',
    );
  });

  it('sends access_denied (65004) when the user declines consent', async () => {
    const page = await signInThrough(
      new TestBrowser(),
      webAuthorize({ scope: `openid ${s.api.identifierUri}/Files.Read`, prompt: 'consent' }),
      {
        userName: s.admin.userPrincipalName,
        password: s.password,
        consent: 'decline',
      },
    );
    expectRedirectError(
      page,
      s.web.redirectUri,
      'access_denied',
      65004,
      'The user declined to consent to access the app.',
    );
  });
});

describe('sign-in UI', () => {
  it('serves pages that cannot be framed, with a strict CSP, no referrer and no caching', async () => {
    const page = await fetchManual(webAuthorize());
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' https://app.example; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.body).toContain('<label for="password">Password</label>');
  });

  it("refuses a form without the anti-CSRF token, or with another browser's, with the exact error page", async () => {
    const victim = new TestBrowser();
    const page = await victim.get(webAuthorize());
    const attacker = new TestBrowser();
    const attackerPage = await attacker.get(webAuthorize());
    const token = /name="csrf_token" value="([^"]+)"/.exec(attackerPage.body)?.[1] ?? '';
    const interaction = /name="interaction" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const login = `${server.url}/${s.tenantId}/login`;
    const fields = {
      interaction,
      action: 'signin',
      username: s.user.userPrincipalName,
      password: s.password,
    };
    expectErrorPage(
      await victim.post(login, fields),
      9100013,
      'The form expired or was not submitted from this site. Go back to the application and sign in again.',
      403,
    );
    expectErrorPage(
      await victim.post(login, { ...fields, csrf_token: token }),
      9100013,
      'The form expired or was not submitted from this site. Go back to the application and sign in again.',
      403,
    );
    expect(victim.cookie('tessera_sso')).toBeUndefined();
  });

  it('refuses a tampered interaction', async () => {
    const browser = new TestBrowser();
    const page = await browser.get(webAuthorize());
    const forged = page.body.replace(
      /name="interaction" value="([^".]+)/,
      (_m, body: string) => `name="interaction" value="${body.slice(0, -2)}AA`,
    );
    expectErrorPage(
      await browser.submit(
        server.url,
        { ...page, body: forged },
        { username: s.user.userPrincipalName, password: s.password },
      ),
      9100014,
      'The sign-in request expired. Go back to the application and sign in again.',
    );
  });

  it('sets the SSO cookie HttpOnly; Secure; SameSite=None and never reveals whether a user exists', async () => {
    const browser = new TestBrowser();
    const page = await browser.get(webAuthorize());
    const unknown = await browser.submit(server.url, page, {
      username: `nobody@${s.domain}`,
      password: 'whatever-123',
    });
    const wrong = await browser.submit(server.url, page, {
      username: s.user.userPrincipalName,
      password: 'whatever-123',
    });
    for (const answer of [unknown, wrong]) {
      expect(answer.status).toBe(400);
      expect(answer.body).toContain(
        `role="alert" id="form-error">Error validating credentials due to invalid username or password.`,
      );
    }
    const ok = await fetch(new URL(`/${s.tenantId}/login`, server.url), {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `tessera_csrf=${browser.cookie('tessera_csrf') ?? ''}`,
      },
      body: new URLSearchParams({
        interaction: /name="interaction" value="([^"]+)"/.exec(page.body)?.[1] ?? '',
        csrf_token: /name="csrf_token" value="([^"]+)"/.exec(page.body)?.[1] ?? '',
        action: 'signin',
        username: s.user.userPrincipalName,
        password: s.password,
      }),
    });
    const cookie = ok.headers.getSetCookie().find((c) => c.startsWith('tessera_sso='));
    expect(cookie).toMatch(
      /^tessera_sso=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=None$/,
    );
  });

  it('locks an account after repeated failures (50053), for existing and unknown names alike', async () => {
    const limited = await startTestServer({ config: { signInMaxFailuresPerAccount: 3 } });
    try {
      const t = await seedInteractiveScenario(limited.directory);
      for (const name of [t.user.userPrincipalName, `ghost@${t.domain}`]) {
        const browser = new TestBrowser();
        const url = `${limited.url}/${t.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: t.web.appId, response_type: 'code', redirect_uri: t.web.redirectUri, scope: 'openid' }).toString()}`;
        let page = await browser.get(url);
        for (let i = 0; i < 3; i++)
          page = await browser.submit(limited.url, page, { username: name, password: 'bad-password-1' });
        const locked = await browser.submit(limited.url, page, { username: name, password: t.password });
        expect(locked.status).toBe(429);
        expect(locked.body).toContain(
          'Your account or IP address is temporarily locked to prevent unauthorized use. Try again later.',
        );
      }
    } finally {
      await limited.close();
    }
  });
});

describe('token endpoint: codes', () => {
  async function codeFor(
    options: { clientId?: string; redirectUri?: string; challenge?: string; scope?: string } = {},
  ) {
    const url = webAuthorize({
      client_id: options.clientId ?? s.web.appId,
      redirect_uri: options.redirectUri ?? s.web.redirectUri,
      scope: options.scope ?? 'openid profile offline_access',
      ...(options.challenge === undefined
        ? {}
        : { code_challenge: options.challenge, code_challenge_method: 'S256' }),
    });
    const back = await signInThrough(new TestBrowser(), url, {
      userName: s.user.userPrincipalName,
      password: s.password,
    });
    return new URL(back.location!).searchParams.get('code')!;
  }
  const redeem = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(tokenUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields),
    });
  const web = (code: string, extra: Record<string, string> = {}) =>
    authorizationCodeFields(s.web, code, extra);
  async function expectRefusal(
    response: Response,
    status: number,
    error: string,
    code: ErrorCode,
    description: string,
  ) {
    expect(await readErrorResponse(response)).toEqual(
      expectedErrorResponse(status, error, code, description),
    );
  }

  it('redeems a code once; a replay fails with 54005 and revokes the refresh token the first redemption issued', async () => {
    const code = await codeFor();
    const first = await redeem(web(code));
    expect(first.status).toBe(200);
    const tokens = (await first.json()) as { refresh_token: string };
    await expectRefusal(
      await redeem(web(code)),
      400,
      'invalid_grant',
      54005,
      'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
    );
    await expectRefusal(
      await redeem({
        grant_type: 'refresh_token',
        client_id: s.web.appId,
        client_secret: s.web.secret,
        refresh_token: tokens.refresh_token,
      }),
      400,
      'invalid_grant',
      70008,
      'The provided authorization code or refresh token has expired or was revoked. Send a new interactive authorization request for this user and resource.',
    );
  });

  it('refuses a code redeemed by another client (and burns it)', async () => {
    const code = await codeFor();
    await expectRefusal(
      await redeem({
        grant_type: 'authorization_code',
        client_id: s.native.appId,
        code,
        redirect_uri: s.web.redirectUri,
      }),
      400,
      'invalid_grant',
      70000,
      "The provided value for the 'code' parameter is not valid. The code was issued to another client.",
    );
    await expectRefusal(
      await redeem(web(code)),
      400,
      'invalid_grant',
      54005,
      'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
    );
  });

  it('refuses a redirect_uri that differs from the authorization request', async () => {
    const code = await codeFor();
    await expectRefusal(
      await redeem(web(code, { redirect_uri: 'https://app.example/other' })),
      400,
      'invalid_grant',
      70000,
      "The provided value for the 'redirect_uri' parameter is not valid. It does not match the redirect URI of the authorization request.",
    );
  });

  it('refuses a wrong PKCE verifier, a missing one, and a verifier for a code requested without a challenge', async () => {
    const { challenge } = createPkcePair();
    await expectRefusal(
      await redeem(web(await codeFor({ challenge }), { code_verifier: createPkcePair().verifier })),
      400,
      'invalid_grant',
      501481,
      'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
    );
    await expectRefusal(
      await redeem(web(await codeFor({ challenge }))),
      400,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'code_verifier'.",
    );
    await expectRefusal(
      await redeem(web(await codeFor(), { code_verifier: createPkcePair().verifier })),
      400,
      'invalid_grant',
      501481,
      'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
    );
  });

  it('refuses a web code without client credentials, and an unknown code', async () => {
    const code = await codeFor();
    await expectRefusal(
      await redeem({
        grant_type: 'authorization_code',
        client_id: s.web.appId,
        code,
        redirect_uri: s.web.redirectUri,
      }),
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
    await expectRefusal(
      await redeem(web('not-a-code')),
      400,
      'invalid_grant',
      70000,
      "The provided value for the 'code' parameter is not valid. The code is unknown or expired.",
    );
  });

  it('redeems spa codes only cross-origin (9002327), with CORS for the spa origin and a fixed 24 h refresh token', async () => {
    const fresh = createPkcePair();
    const url = webAuthorize({
      client_id: s.spa.appId,
      redirect_uri: s.spa.redirectUri,
      code_challenge: fresh.challenge,
      code_challenge_method: 'S256',
    });
    const back = await signInThrough(new TestBrowser(), url, {
      userName: s.user.userPrincipalName,
      password: s.password,
    });
    const code = new URL(back.location!).searchParams.get('code')!;
    const fields = {
      grant_type: 'authorization_code',
      client_id: s.spa.appId,
      code,
      redirect_uri: s.spa.redirectUri,
      code_verifier: fresh.verifier,
    };
    const sameOrigin = await redeem(fields);
    await expectRefusal(
      sameOrigin,
      400,
      'invalid_request',
      9002327,
      "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
    );

    const fresh2 = createPkcePair();
    const back2 = await signInThrough(
      new TestBrowser(),
      webAuthorize({
        client_id: s.spa.appId,
        redirect_uri: s.spa.redirectUri,
        code_challenge: fresh2.challenge,
        code_challenge_method: 'S256',
      }),
      { userName: s.user.userPrincipalName, password: s.password },
    );
    const ok = await redeem(
      { ...fields, code: new URL(back2.location!).searchParams.get('code')!, code_verifier: fresh2.verifier },
      { origin: s.spa.origin },
    );
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(s.spa.origin);
    const body = (await ok.json()) as { refresh_token_expires_in: number; refresh_token: string };
    expect(body.refresh_token_expires_in).toBe(86_400);
    const evil = await redeem(
      { grant_type: 'refresh_token', client_id: s.spa.appId, refresh_token: body.refresh_token },
      { origin: 'https://evil.example' },
    );
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(tokenUrl(), {
      method: 'OPTIONS',
      headers: { origin: s.spa.origin, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(s.spa.origin);
    const refused = await fetch(tokenUrl(), {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });

  it("counts every lifetime of a redemption from the grant's one instant, however long its commit takes", async () => {
    const fresh = createPkcePair();
    const back = await signInThrough(
      new TestBrowser(),
      webAuthorize({
        client_id: s.spa.appId,
        redirect_uri: s.spa.redirectUri,
        code_challenge: fresh.challenge,
        code_challenge_method: 'S256',
      }),
      { userName: s.user.userPrincipalName, password: s.password },
    );
    // Every read of the clock during the redemption is a second later than the one before: the seconds the grant,
    // its durable commit and the response builder see all differ unless the grant reads the clock once.
    const realNow = Date.now.bind(Date);
    let reads = 0;
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 1000 * ++reads);
    let answer: Response;
    try {
      answer = await redeem(
        {
          grant_type: 'authorization_code',
          client_id: s.spa.appId,
          code: new URL(back.location!).searchParams.get('code')!,
          redirect_uri: s.spa.redirectUri,
          code_verifier: fresh.verifier,
        },
        { origin: s.spa.origin },
      );
    } finally {
      clock.mockRestore();
    }
    expect(reads).toBeGreaterThan(1);
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as {
      refresh_token_expires_in: number;
      expires_in: number;
      access_token: string;
      id_token: string;
    };
    expect(body.refresh_token_expires_in).toBe(86_400);
    const access = decodeJwt(body.access_token);
    const id = decodeJwt(body.id_token);
    expect(access.exp! - access.iat!).toBe(body.expires_in);
    expect(id.iat).toBe(access.iat);
  });

  it('refuses a refresh token presented by another client without burning it, and a forged one', async () => {
    const code = await codeFor();
    const tokens = (await (await redeem(web(code))).json()) as { refresh_token: string };
    await expectRefusal(
      await redeem({
        grant_type: 'refresh_token',
        client_id: s.native.appId,
        refresh_token: tokens.refresh_token,
      }),
      400,
      'invalid_grant',
      70000,
      "The provided value for the 'refresh_token' parameter is not valid. The refresh token was issued to another client.",
    );
    const forged = `${tokens.refresh_token.slice(0, -4)}AAAA`;
    await expectRefusal(
      await redeem({
        grant_type: 'refresh_token',
        client_id: s.web.appId,
        client_secret: s.web.secret,
        refresh_token: forged,
      }),
      400,
      'invalid_grant',
      70000,
      "The provided value for the 'refresh_token' parameter is not valid. The refresh token is malformed or was not issued by this server.",
    );
    const ok = await redeem({
      grant_type: 'refresh_token',
      client_id: s.web.appId,
      client_secret: s.web.secret,
      refresh_token: tokens.refresh_token,
    });
    expect(ok.status).toBe(200);
  });

  it('moves a refresh token only to a consented resource (65001 otherwise)', async () => {
    const code = await codeFor();
    const tokens = (await (await redeem(web(code))).json()) as { refresh_token: string };
    await expectRefusal(
      await redeem({
        grant_type: 'refresh_token',
        client_id: s.web.appId,
        client_secret: s.web.secret,
        refresh_token: tokens.refresh_token,
        scope: `${s.api.identifierUri}/Files.Read`,
      }),
      400,
      // RFC 6749 §5.2: invalid_grant (with suberror consent_required, asserted in token-protocol-details.test.ts).
      'invalid_grant',
      65001,
      `The user or administrator has not consented to use the application with ID '${s.web.appId}'. Send an interactive authorization request for this user and resource.`,
    );
  });

  it('issues no refresh token without offline_access', async () => {
    const code = await codeFor({ scope: 'openid profile' });
    const body = (await (await redeem(web(code))).json()) as Record<string, unknown>;
    expect(body.refresh_token).toBeUndefined();
    expect(body.id_token).toBeTypeOf('string');
  });
});

describe('logout', () => {
  it('refuses an unregistered post_logout_redirect_uri (no open redirect)', async () => {
    const page = await fetchManual(
      `${server.url}/${s.tenantId}/oauth2/v2.0/logout?client_id=${s.web.appId}&post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`,
    );
    expectErrorPage(
      page,
      9100060,
      "The post_logout_redirect_uri 'https://evil.example/' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.",
    );
  });

  it('ends the SSO session: prompt=none then answers login_required', async () => {
    const browser = new TestBrowser();
    await signInThrough(browser, webAuthorize(), {
      userName: s.user.userPrincipalName,
      password: s.password,
    });
    expect((await browser.get(webAuthorize({ prompt: 'none' }))).location).toContain('code=');
    const logout = `${server.url}/${s.tenantId}/oauth2/v2.0/logout`;
    const picker = await browser.get(
      `${logout}?client_id=${s.web.appId}&post_logout_redirect_uri=${encodeURIComponent(s.web.redirectUri)}&state=bye`,
    );
    const out = await browser.submit(logout, picker, {});
    expect(out.status).toBe(302);
    expect(out.location).toBe(`${s.web.redirectUri}?state=bye`);
    expectRedirectError(
      await browser.get(webAuthorize({ prompt: 'none' })),
      s.web.redirectUri,
      'login_required',
      50058,
      'Session information is not sufficient for single-sign-on. The user is not signed in, and the request asked for no interaction (prompt=none).',
    );
  });
});
