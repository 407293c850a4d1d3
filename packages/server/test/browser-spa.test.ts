import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  chromiumAvailable,
  type ChromiumProfile,
  openChromiumProfile,
  packageFile,
  seedInteractiveScenario,
  signInOnPage,
  spaConfigFiles,
  startStaticSite,
  startTestServer,
  type InteractiveScenario,
  type StaticSite,
  type TestServer,
  watchPage,
} from '@tessera/testkit';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import type { BrowserContext, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The unmodified oidc-client-ts browser bundle in headless Debian Chromium (playwright-core), inside a tiny SPA
// (test/fixtures/spa) served from https://127.0.0.1:{port}: another *site* than the identity server on
// https://localhost:{port}, so the discovery and token calls are cross-origin (CORS) and the hidden renewal
// iframe is a third-party frame that only carries the SSO cookie because it is `SameSite=None; Secure`.
// Each test is a fresh Chromium profile whose cookie setting allows third-party cookies (Chromium now blocks
// them by default, like Safari and Firefox: there, hidden-iframe renewal cannot work and SPAs use refresh
// tokens). Chromium trusts the test CA by key only (`--ignore-certificate-errors-spki-list`, see
// openChromiumProfile). The user signs in by typing into the server's real sign-in form and pressing its buttons.

const fixtures = fileURLToPath(new URL('./fixtures/spa', import.meta.url));
/** The SPA's pages besides index.html: one document (app.js acts on the path), served at each redirect URI. */
const REDIRECT_PAGES = ['/callback.html', '/silent.html', '/signed-out.html'] as const;
const bundle = packageFile(import.meta.url, 'oidc-client-ts', 'dist/browser/oidc-client-ts.min.js');

/** What `window.spa.user()` returns (see fixtures/spa/app.js). */
interface SpaUser {
  readonly profile: Record<string, unknown>;
  readonly access_token: string;
  readonly id_token: string;
  readonly refresh_token: string | null;
  readonly token_type: string;
  readonly scope: string;
  readonly expires_at: number;
  readonly expired: boolean;
}
interface SpaFailure {
  readonly error: string | null;
  readonly error_description: string | null;
  readonly message: string;
}

/** Evaluates `window.spa.{call}` in the page (the test's tsconfig has no DOM types, so it is sent as text). */
function spa<T>(page: Page, call: string): Promise<T> {
  return page.evaluate<T>(`window.spa.${call}`);
}

/** Every request a page (and its frames) makes, with where it came from and how it ended. */
interface Seen {
  readonly url: URL;
  readonly method: string;
  readonly mainFrame: boolean;
  readonly postData: string | null;
  readonly request: Request;
}

function record(page: Page): Seen[] {
  const seen: Seen[] = [];
  page.on('request', (request) => {
    seen.push({
      url: new URL(request.url()),
      method: request.method(),
      mainFrame: request.frame() === page.mainFrame(),
      postData: request.postData(),
      request,
    });
  });
  return seen;
}

const available = chromiumAvailable();
if (!existsSync(bundle)) throw new Error(`oidc-client-ts browser bundle missing at ${bundle}`);

describe.skipIf(!available)('oidc-client-ts in Chromium (cross-site SPA)', () => {
  let server: TestServer;
  let s: InteractiveScenario;
  let site: StaticSite;
  const profiles: ChromiumProfile[] = [];

  const authority = () => `${server.url}/${s.tenantId}/v2.0`;
  const jwks = () => createRemoteJWKSet(new URL(`${server.url}/${s.tenantId}/discovery/v2.0/keys`));
  const isAuthorize = (seen: Seen) =>
    seen.url.origin === server.url && seen.url.pathname === `/${s.tenantId}/oauth2/v2.0/authorize`;
  const isToken = (seen: Seen) =>
    seen.url.origin === server.url && seen.url.pathname === `/${s.tenantId}/oauth2/v2.0/token`;

  beforeAll(async () => {
    site = await startStaticSite({
      root: fixtures,
      files: {
        '/oidc-client-ts.min.js': bundle,
        ...Object.fromEntries(REDIRECT_PAGES.map((page) => [page, `${fixtures}/index.html`])),
      },
      generated: spaConfigFiles('SPA_CONFIG', () => ({
        authority: authority(),
        clientId: s.spa.appId,
        apiIdentifierUri: s.api.identifierUri,
      })),
    });
    server = await startTestServer();
    s = await seedInteractiveScenario(server.directory, {
      spaRedirectUris: REDIRECT_PAGES.map((p) => site.origin + p),
    });
  });
  afterAll(async () => {
    for (const profile of profiles) await profile.close();
    await site.close();
    await server.close();
  });

  async function newPage(context?: BrowserContext): Promise<{ page: Page; seen: Seen[] }> {
    let owner = context;
    if (owner === undefined) {
      const profile = await openChromiumProfile();
      profiles.push(profile);
      owner = profile.context;
    }
    const page = await owner.newPage();
    watchPage(page, 10_000);
    const seen = record(page);
    await page.goto(`${site.origin}/index.html`);
    await page
      .locator('#status')
      .filter({ hasText: /anonymous|signed in/ })
      .waitFor();
    return { page, seen };
  }

  /**
   * Starts `start` (a redirect to the authorization endpoint), then acts as the user: types the UPN and
   * password into the sign-in form and submits it, accepts consent when asked, and waits until the SPA shows
   * the signed-in user.
   */
  async function signInAsUser(page: Page, start: string): Promise<void> {
    await signInOnPage(page, {
      serverOrigin: server.url,
      appOrigin: site.origin,
      userName: s.user.userPrincipalName,
      password: s.password,
      start: () => spa(page, start),
    });
    const status = page.locator('#status');
    await status.filter({ hasText: /^(signed in|error)/ }).waitFor();
    expect(await status.textContent()).toBe('signed in: Alice Adams');
    expect(page.url()).toBe(`${site.origin}/index.html`);
  }

  async function verifyAccessToken(token: string) {
    const { payload } = await jwtVerify(token, jwks(), { issuer: authority(), audience: s.api.appId });
    expect(payload).toMatchObject({
      azp: s.spa.appId,
      scp: 'Files.Read',
      oid: s.user.id,
      tid: s.tenantId,
      ver: '2.0',
    });
    return payload;
  }

  function expectFreshExpiry(user: SpaUser) {
    const now = Math.floor(Date.now() / 1000);
    expect(user.expired).toBe(false);
    expect(user.expires_at).toBeGreaterThan(now + 300);
    expect(user.expires_at).toBeLessThanOrEqual(now + 24 * 3600);
    expect(user.expires_at).toBeCloseTo(decodeJwt(user.access_token).exp!, -1);
  }

  it('code + PKCE: real sign-in and consent; profile, verifiable access token, expires_at; CORS; refresh', async () => {
    const { page, seen } = await newPage();
    await spa(page, "use('code')");
    await signInAsUser(page, 'signIn()');

    const user = (await spa<SpaUser | null>(page, 'user()'))!;
    expect(user.profile).toMatchObject({
      name: 'Alice Adams',
      preferred_username: s.user.userPrincipalName,
      oid: s.user.id,
      tid: s.tenantId,
      aud: s.spa.appId,
      iss: authority(),
    });
    expect(user.token_type.toLowerCase()).toBe('bearer');
    expect(user.scope.split(' ')).toEqual(expect.arrayContaining([`${s.api.identifierUri}/Files.Read`]));
    expect(user.refresh_token).toEqual(expect.any(String));
    await verifyAccessToken(user.access_token);
    await jwtVerify(user.id_token, jwks(), { issuer: authority(), audience: s.spa.appId });
    expectFreshExpiry(user);

    // The request was code + S256 PKCE, through the front door; the code came back in the query.
    const authorize = seen.find(isAuthorize)!;
    expect(authorize.url.searchParams.get('response_type')).toBe('code');
    expect(authorize.url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Cross-origin discovery and token calls worked because of CORS; check the headers the browser saw.
    const discovery = seen.find((x) => x.url.pathname.endsWith('/.well-known/openid-configuration'))!;
    expect((await discovery.request.response())?.headers()['access-control-allow-origin']).toBe('*');
    const exchange = seen.find((x) => isToken(x) && x.postData?.includes('grant_type=authorization_code'))!;
    expect(exchange.postData).toContain('code_verifier=');
    expect((await exchange.request.response())?.headers()['access-control-allow-origin']).toBe(site.origin);

    // The SSO cookie a hidden iframe needs: HttpOnly; Secure; SameSite=None.
    const cookies = await page.context().cookies(server.url);
    expect(cookies.find((c) => c.name === 'tessera_sso')).toMatchObject({
      httpOnly: true,
      secure: true,
      sameSite: 'None',
    });

    // Token errors are readable cross-origin too (CORS on errors), so the SPA sees the real error.
    const error = await page.evaluate(
      `fetch(${JSON.stringify(`${server.url}/${s.tenantId}/oauth2/v2.0/token`)}, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', client_id: ${JSON.stringify(s.spa.appId)},
          code: 'not-a-code', redirect_uri: location.origin + '/callback.html', code_verifier: 'x'.repeat(43) }),
      }).then(async (r) => ({ status: r.status, body: await r.json() }))`,
    );
    expect(error).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    // signinSilent() with a refresh token: a cross-origin refresh_token grant, rotated, no authorize request.
    const authorizeCount = seen.filter(isAuthorize).length;
    const renewed = await spa<{ user: SpaUser } | SpaFailure>(page, 'silent()');
    expect(renewed).toHaveProperty('user');
    const next = (renewed as { user: SpaUser }).user;
    expect(next.refresh_token).toEqual(expect.any(String));
    expect(next.refresh_token).not.toBe(user.refresh_token);
    expect(next.access_token).not.toBe(user.access_token);
    await verifyAccessToken(next.access_token);
    expect(seen.filter(isAuthorize)).toHaveLength(authorizeCount);
    const refresh = seen.find((x) => isToken(x) && x.postData?.includes('grant_type=refresh_token'))!;
    expect((await refresh.request.response())?.headers()['access-control-allow-origin']).toBe(site.origin);
  });

  it('loadUserInfo: true and revokeTokens() work cross-origin (CORS on userinfo and revocation)', async () => {
    const { page, seen } = await newPage();
    await spa(page, "use('userinfo')");
    await signInAsUser(page, 'signIn()');
    const user = (await spa<SpaUser | null>(page, 'user()'))!;
    // The profile was merged from the userinfo endpoint (email is only there), called cross-origin.
    expect(user.profile).toMatchObject({ name: 'Alice Adams', email: s.user.userPrincipalName });
    const userinfo = seen.find((x) => x.url.origin === server.url && x.url.pathname === '/oidc/userinfo')!;
    const answered = await userinfo.request.response();
    expect(answered?.status()).toBe(200);
    expect(answered?.headers()['access-control-allow-origin']).toBe(site.origin);

    expect(await spa(page, 'revoke()')).toBeNull();
    const revocations = seen.filter(
      (x) => x.url.origin === server.url && x.url.pathname === `/${s.tenantId}/oauth2/v2.0/revoke`,
    );
    expect(
      revocations.map((x) => new URLSearchParams(x.postData ?? '').get('token_type_hint')).sort(),
    ).toEqual(['access_token', 'refresh_token']);
    for (const revocation of revocations) {
      const response = await revocation.request.response();
      expect(response?.status()).toBe(200);
      expect(response?.headers()['access-control-allow-origin']).toBe(site.origin);
    }
    // The refresh token is dead: redeeming it (as the spa would, cross-origin) fails.
    const redeemed = await fetch(`${server.url}/${s.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: site.origin },
      body: new URLSearchParams({
        client_id: s.spa.appId,
        grant_type: 'refresh_token',
        refresh_token: user.refresh_token ?? '',
      }),
    });
    expect(redeemed.status).toBe(400);
    expect(await redeemed.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('implicit id_token token: tokens in the fragment, nonce and at_hash, no refresh token', async () => {
    const { page, seen } = await newPage();
    await spa(page, "use('implicit')");
    // oidc-client-ts 3 dropped the implicit flow (it neither builds the request nor reads tokens from a callback),
    // so the SPA runs it around the library, as oidc-client 1.x did (see fixtures/spa/app.js).
    expect(await spa<SpaFailure | null>(page, 'signIn()')).toMatchObject({
      message: 'Only the Authorization Code flow (with PKCE) is supported',
    });
    await signInAsUser(page, 'signInImplicit()');

    const user = (await spa<SpaUser | null>(page, 'user()'))!;
    expect(user.profile).toMatchObject({ name: 'Alice Adams', oid: s.user.id, aud: s.spa.appId });
    expect(user.refresh_token).toBeNull();
    await verifyAccessToken(user.access_token);
    expectFreshExpiry(user);
    const nonce = seen.find(isAuthorize)!.url.searchParams.get('nonce');
    expect(nonce).toEqual(expect.any(String));
    const { payload } = await jwtVerify(user.id_token, jwks(), {
      issuer: authority(),
      audience: s.spa.appId,
    });
    const digest = createHash('sha256').update(user.access_token).digest();
    expect(payload).toMatchObject({ nonce, at_hash: digest.subarray(0, 16).toString('base64url') });

    // Tokens arrived in the fragment of the redirect, never in a query; the token endpoint was never called.
    const callback = seen.find((x) => x.url.origin === site.origin && x.url.pathname === '/callback.html')!;
    expect(callback.url.search).toBe('');
    expect(seen.some(isToken)).toBe(false);
    const hop = await callback.request.redirectedFrom()?.response();
    const location = hop?.headers().location ?? '';
    expect(location.startsWith(`${site.origin}/callback.html#`)).toBe(true);
    const fragment = new URLSearchParams(location.split('#')[1]);
    expect([...fragment.keys()].sort()).toEqual(
      expect.arrayContaining([
        'access_token',
        'expires_in',
        'id_token',
        'iss',
        'scope',
        'state',
        'token_type',
      ]),
    );
    expect(fragment.has('refresh_token')).toBe(false);
    expect(fragment.get('iss')).toBe(authority());
  });

  it('after the SPA reloads, signinSilent() renews through a hidden iframe with prompt=none', async () => {
    const { page, seen } = await newPage();
    await spa(page, "use('iframe')");
    await signInAsUser(page, 'signIn()');
    const first = (await spa<SpaUser | null>(page, 'user()'))!;
    expect(first.refresh_token).toBeNull();

    await page.reload();
    await page.locator('#status').filter({ hasText: 'signed in: Alice Adams' }).waitFor();
    const before = seen.length;
    const renewed = await spa<{ user: SpaUser } | SpaFailure>(page, 'silent()');
    expect(renewed).toHaveProperty('user');
    const next = (renewed as { user: SpaUser }).user;
    expect(next.profile.sub).toBe(first.profile.sub);
    expect(next.access_token).not.toBe(first.access_token);
    await verifyAccessToken(next.access_token);
    expectFreshExpiry(next);

    const during = seen.slice(before);
    const authorize = during.filter(isAuthorize);
    expect(authorize).toHaveLength(1);
    expect(authorize[0]!.mainFrame).toBe(false);
    expect(authorize[0]!.url.searchParams.get('prompt')).toBe('none');
    // The server answered the iframe at once with a redirect to the silent page: no sign-in UI was rendered.
    const response = await authorize[0]!.request.response();
    expect(response?.status()).toBe(302);
    expect(new URL(response?.headers().location ?? '').pathname).toBe('/silent.html');
    expect(during.some((x) => x.url.origin === server.url && x.url.pathname.endsWith('/login'))).toBe(false);
    const pages = during.filter(
      (x) => x.url.origin === server.url && x.request.resourceType() === 'document',
    );
    expect(pages).toHaveLength(1);
    expect(page.url()).toBe(`${site.origin}/index.html`);
    const exchange = during.find(isToken)!;
    expect(exchange.mainFrame).toBe(true);
    expect((await exchange.request.response())?.headers()['access-control-allow-origin']).toBe(site.origin);
  });

  it('after signoutRedirect() in one tab, signinSilent() in a second tab fails with login_required', async () => {
    const { page: first } = await newPage();
    await spa(first, "use('iframe')");
    await signInAsUser(first, 'signIn()');

    // A second tab of the same browser shares the SSO cookie: it signs in silently at first.
    const { page: second, seen } = await newPage(first.context());
    await spa(second, "use('iframe')");
    expect(await spa(second, 'silent()')).toHaveProperty('user.profile.name', 'Alice Adams');

    const signedOut = first.waitForURL(`${site.origin}/signed-out.html`);
    await spa(first, 'signOut()').catch(() => undefined);
    await signedOut;
    await first.locator('#status').filter({ hasText: 'signed out' }).waitFor();
    expect((await first.context().cookies(server.url)).some((c) => c.name === 'tessera_sso')).toBe(false);

    const before = seen.length;
    expect(await spa(second, 'silent()')).toMatchObject({ error: 'login_required' });
    const renewal = seen.slice(before).find(isAuthorize)!;
    expect(renewal.url.searchParams.get('prompt')).toBe('none');
    expect((await renewal.request.response())?.status()).toBe(302);
  });
});
