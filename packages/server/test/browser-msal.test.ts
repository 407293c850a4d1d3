import { fileURLToPath } from 'node:url';
import {
  chromiumAvailable,
  createPkcePair,
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
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The unmodified MSAL Browser bundle (@azure/msal-browser, default settings: only clientId, authority,
// knownAuthorities and redirectUri, as its quick start) in headless Debian Chromium, inside a tiny SPA
// (test/fixtures/msal-spa) served from https://127.0.0.1:{port}, another site than the identity server on
// https://localhost:{port}. loginRedirect → the user signs in on Tessera's real form → handleRedirectPromise redeems
// the code cross-origin → acquireTokenSilent → logoutRedirect() with no options, which sends
// post_logout_redirect_uri, client-request-id and state but no client_id, no id_token_hint and no logout_hint
// (MSAL sends the ID token's login_hint claim as logout_hint only when given an account). The SSO session must end
// (a later prompt=none answers login_required) with at most one click on Tessera's page, and the browser must come
// back to the app.

const fixtures = fileURLToPath(new URL('./fixtures/msal-spa', import.meta.url));
const bundle = packageFile(import.meta.url, '@azure/msal-browser', 'lib/msal-browser.min.js');

/** Evaluates `window.msalApp.{call}` in the page (the test's tsconfig has no DOM types, so it is sent as text). */
function msalApp<T>(page: Page, call: string): Promise<T> {
  return page.evaluate<T>(`window.msalApp.${call}`);
}

interface Seen {
  readonly url: URL;
  readonly method: string;
  readonly request: Request;
}

function record(page: Page): Seen[] {
  const seen: Seen[] = [];
  page.on('request', (request) => {
    seen.push({ url: new URL(request.url()), method: request.method(), request });
  });
  return seen;
}

/** Milliseconds one browser run may take: three sites' worth of navigations on a busy machine. */
const BROWSER_TEST_TIMEOUT_MS = 120_000;

const available = chromiumAvailable();

describe.skipIf(!available)(
  'MSAL Browser in Chromium (cross-site SPA): sign-in, token, logoutRedirect()',
  () => {
    let server: TestServer;
    let s: InteractiveScenario;
    let site: StaticSite;
    const profiles: ChromiumProfile[] = [];
    /** The protocol mode the next page load configures (undefined: MSAL's default, AAD). */
    let protocolMode: 'OIDC' | undefined;

    const scopes = ['User.Read'];
    const redirectUri = () => `${site.origin}/index.html`;

    beforeAll(async () => {
      site = await startStaticSite({
        root: fixtures,
        files: { '/msal-browser.min.js': bundle },
        generated: spaConfigFiles('MSAL_CONFIG', () => ({
          clientId: s.spa.appId,
          authority: `${server.url}/${s.tenantId}`,
          knownAuthorities: [new URL(server.url).host],
          redirectUri: redirectUri(),
          scopes,
          ...(protocolMode === undefined ? {} : { protocolMode }),
        })),
      });
      server = await startTestServer();
      s = await seedInteractiveScenario(server.directory, { spaRedirectUris: [`${site.origin}/index.html`] });
    });
    afterAll(async () => {
      for (const profile of profiles) await profile.close();
      await site.close();
      await server.close();
    });

    async function newPage(): Promise<{ page: Page; seen: Seen[] }> {
      const profile = await openChromiumProfile();
      profiles.push(profile);
      const page = await profile.context.newPage();
      watchPage(page, 15_000);
      const seen = record(page);
      await page.goto(redirectUri());
      await page
        .locator('#status')
        .filter({ hasText: /anonymous|signed in|error/ })
        .waitFor();
      expect(await page.locator('#status').textContent()).toBe('anonymous');
      return { page, seen };
    }

    /** loginRedirect(), then the user types into Tessera's sign-in form and accepts consent. */
    async function signIn(page: Page): Promise<void> {
      await signInOnPage(page, {
        serverOrigin: server.url,
        appOrigin: site.origin,
        userName: s.user.userPrincipalName,
        password: s.password,
        start: () => msalApp(page, 'login()'),
      });
      const status = page.locator('#status');
      await status.filter({ hasText: /^(signed in|error)/ }).waitFor();
      expect(await status.textContent()).toBe('signed in: Alice Adams');
    }

    /**
     * `prompt=none` for the spa from this browser profile (its cookies, a top-level navigation's view): the
     * `code` or the `error` it answers.
     */
    async function silentAuthorize(page: Page): Promise<URLSearchParams> {
      const { challenge } = createPkcePair();
      const params = new URLSearchParams({
        client_id: s.spa.appId,
        response_type: 'code',
        redirect_uri: redirectUri(),
        scope: 'openid profile',
        prompt: 'none',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 'probe',
      });
      const response = await page
        .context()
        .request.get(`${server.url}/${s.tenantId}/oauth2/v2.0/authorize?${params.toString()}`, {
          maxRedirects: 0,
        });
      expect(response.status()).toBe(302);
      const location = response.headers().location ?? '';
      expect(location.startsWith(`${redirectUri()}?`)).toBe(true);
      return new URL(location).searchParams;
    }

    /** Runs logoutRedirect() and follows it back to the app, clicking Tessera's picker at most once. */
    async function logOut(
      page: Page,
      seen: Seen[],
      call = 'logout()',
    ): Promise<{ clicks: number; request: Seen }> {
      const before = seen.length;
      await page.evaluate('window.beforeLogout = true');
      await msalApp(page, call).catch(() => undefined); // the page navigates away during the call
      // Wait until the browser shows either Tessera's picker or a fresh load of the app.
      const settled = async (): Promise<string> => {
        if (new URL(page.url()).origin === server.url) {
          const picker = page.getByRole('heading', { name: 'Pick an account to sign out' });
          return (await picker.count()) > 0 ? 'picker' : 'loading';
        }
        const fresh = await page
          .evaluate('window.beforeLogout === undefined && document.readyState === "complete"')
          .catch(() => false);
        return fresh === true ? 'app' : 'loading';
      };
      await expect.poll(settled, { timeout: 15_000 }).not.toBe('loading');
      let clicks = 0;
      if ((await settled()) === 'picker') {
        clicks += 1;
        const back = page.waitForURL((url) => url.origin === site.origin, { waitUntil: 'load' });
        await page.getByRole('button', { name: /Alice Adams/ }).click();
        await back;
      }
      await page
        .locator('#status')
        .filter({ hasText: /anonymous|signed in|error/ })
        .waitFor();
      const request = seen
        .slice(before)
        .find((x) => x.url.origin === server.url && x.url.pathname.endsWith('/oauth2/v2.0/logout'));
      expect(request).toBeDefined();
      return { clicks, request: request! };
    }

    // Plain logoutRedirect() names no account, so MSAL sends no logout_hint: one click on Tessera's picker. With
    // `{ account }` MSAL sends the ID token's login_hint claim as logout_hint: no click at all.
    const logouts: [string, string, number][] = [
      ['logoutRedirect() with no options', 'logout()', 1],
      ['logoutRedirect({ account })', 'logoutWithAccount()', 0],
    ];
    it.each(logouts)(
      'AAD mode: loginRedirect → token → %s ends the SSO session; prompt=none then login_required',
      async (_name, call, expectedClicks) => {
        protocolMode = undefined;
        const { page, seen } = await newPage();
        await signIn(page);

        const result = (await msalApp<{
          accessToken: string;
          idTokenClaims: Record<string, unknown>;
        } | null>(page, 'redirectResult'))!;
        expect(result.idTokenClaims).toMatchObject({ tid: s.tenantId, oid: s.user.id, aud: s.spa.appId });
        expect(result.idTokenClaims.login_hint).toEqual(expect.stringMatching(/^[A-Za-z0-9_-]+$/));
        const token = await msalApp<{ accessToken: string; fromCache: boolean }>(page, 'token()');
        expect(token.fromCache).toBe(true);
        const jwks = createRemoteJWKSet(new URL(`${server.url}/${s.tenantId}/discovery/v2.0/keys`));
        // The directory API (like Microsoft Graph) gets v1.0 tokens.
        await jwtVerify(token.accessToken, jwks, {
          issuer: [`${server.url}/${s.tenantId}/`, `${server.url}/${s.tenantId}/v2.0`],
        });
        // AAD mode discovers through the v2.0 path.
        expect(
          seen.some((x) => x.url.pathname === `/${s.tenantId}/v2.0/.well-known/openid-configuration`),
        ).toBe(true);

        // The SSO session is alive: a silent request gets a code.
        expect((await silentAuthorize(page)).has('code')).toBe(true);

        const { clicks, request } = await logOut(page, seen, call);
        // MSAL's request: no client_id, no id_token_hint, state and client-request-id.
        const params = request.url.searchParams;
        expect(params.get('post_logout_redirect_uri')).toBe(redirectUri());
        expect(params.get('client_id')).toBeNull();
        expect(params.get('id_token_hint')).toBeNull();
        expect(params.get('logout_hint')).toBe(expectedClicks === 0 ? result.idTokenClaims.login_hint : null);
        expect(params.get('client-request-id')).toEqual(expect.any(String));
        const state = params.get('state');
        expect(state).toEqual(expect.any(String));
        expect(clicks).toBe(expectedClicks);
        // Back at the app with the state MSAL sent, signed out there and at Tessera.
        const last = seen
          .filter((x) => x.url.origin === server.url && x.url.pathname.includes('/oauth2/v2.0/logout'))
          .at(-1)!;
        const response = await last.request.response();
        expect(response?.status()).toBe(302);
        expect(response?.headers().location).toBe(
          `${redirectUri()}?${new URLSearchParams({ state: state! }).toString()}`,
        );
        expect(await page.locator('#status').textContent()).toBe('anonymous');
        expect((await page.context().cookies(server.url)).some((c) => c.name === 'tessera_sso')).toBe(false);
        const silent = await silentAuthorize(page);
        expect(silent.get('error')).toBe('login_required');
        expect(silent.has('code')).toBe(false);
      },
      BROWSER_TEST_TIMEOUT_MS,
    );

    it(
      'OIDC protocol mode with a plain tenant authority discovers /{tenant}/.well-known/openid-configuration',
      async () => {
        protocolMode = 'OIDC';
        const { page, seen } = await newPage();
        await signIn(page);
        const discovery = seen.find((x) => x.url.pathname.endsWith('/.well-known/openid-configuration'));
        expect(discovery?.url.pathname).toBe(`/${s.tenantId}/.well-known/openid-configuration`);
        expect((await discovery?.request.response())?.status()).toBe(200);
        const token = await msalApp<{ accessToken?: string; errorCode?: string }>(page, 'token()');
        expect(token.accessToken).toEqual(expect.any(String));

        const { clicks } = await logOut(page, seen);
        expect(clicks).toBeLessThanOrEqual(1);
        expect(await page.locator('#status').textContent()).toBe('anonymous');
        expect((await silentAuthorize(page)).get('error')).toBe('login_required');
      },
      BROWSER_TEST_TIMEOUT_MS,
    );
  },
);
