import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import cors from '@fastify/cors';
import { attachHubs, createHubServer, defineHub, type HubCallerContext, type HubServer } from '@tessera/hub';
import {
  authenticationContextClaims,
  BearerTokenError,
  createTokenValidator,
  requireAuthenticationContext,
} from '@tessera/resource';
import { tesseraAuth } from '@tessera/resource/fastify';
import {
  chromiumAvailable,
  type ChromiumProfile,
  openChromiumProfile,
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
import react from '@vitejs/plugin-react';
import Fastify, { type FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { generate } from 'otplib';
import type { BrowserContext, Page, Request } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// @tessera/spa in headless Debian Chromium (playwright-core): a small React app (fixtures/app) built with Vite
// and served from https://127.0.0.1:{port}, another site than the identity server (https://localhost:{port}) and
// the API (https://localhost:{port}, @tessera/resource on Fastify), so every call is cross-origin and the hidden
// renewal iframe is a third-party frame. The user types into the server's real sign-in form.

const fixtures = fileURLToPath(new URL('./fixtures/app', import.meta.url));
const spaSource = fileURLToPath(new URL('../src', import.meta.url));
/** The app's paths (one document; the app acts on the path). */
const PAGES = [
  '/',
  '/protected',
  '/authentication/login',
  '/authentication/login-callback',
  '/authentication/login-failed',
  '/authentication/logout',
  '/authentication/logout-callback',
  '/authentication/logged-out',
  '/authentication/profile',
] as const;

type Mode = 'code' | 'iframe' | 'implicit' | 'dpop';
interface SpaUser {
  readonly profile: Record<string, unknown>;
  readonly access_token: string;
  readonly refresh_token: string | null;
  readonly token_type: string;
  readonly scope: string;
  readonly expires_at: number;
}
interface Failure {
  readonly failure: {
    readonly code?: string;
    readonly error?: string;
    readonly reason?: string;
    readonly message?: string;
    readonly traceId?: string;
  };
}

/** Calls `window.spa[name](...args)` in the page (see fixtures/app/main.tsx). */
function spa<T>(page: Page, name: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    ({ name, args }) =>
      (window.spa[name] as (...a: unknown[]) => Promise<unknown>)(...args) as Promise<never>,
    { name, args },
  );
}

interface Seen {
  readonly url: URL;
  readonly mainFrame: boolean;
  readonly postData: string | null;
  readonly headers: Record<string, string>;
  readonly request: Request;
}

function record(page: Page): Seen[] {
  const seen: Seen[] = [];
  page.on('request', (request) => {
    seen.push({
      url: new URL(request.url()),
      mainFrame: request.frame() === page.mainFrame(),
      postData: request.postData(),
      headers: request.headers(),
      request,
    });
  });
  return seen;
}

/** An HTTPS server on localhost that records every request it receives (the "third origin"). */
interface ThirdOrigin {
  readonly origin: string;
  readonly received: { path: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

async function startThirdOrigin(tlsDir: string): Promise<ThirdOrigin> {
  const received: ThirdOrigin['received'] = [];
  const server: Server = createServer(
    { cert: readFileSync(join(tlsDir, 'server.pem')), key: readFileSync(join(tlsDir, 'server-key.pem')) },
    (request, response) => {
      received.push({ path: request.url ?? '', authorization: request.headers.authorization });
      response.writeHead(request.method === 'OPTIONS' ? 204 : 200, {
        'access-control-allow-origin': '*',
        'access-control-allow-headers': '*',
        'content-type': 'text/plain',
      });
      response.end('third');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `https://localhost:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

const available = chromiumAvailable();
/** The directory API (Microsoft Graph's appId). */
const DIRECTORY_APP_ID = '00000003-0000-0000-c000-000000000000';

describe.skipIf(!available)(
  '@tessera/spa in Chromium (cross-site SPA built with Vite)',
  { timeout: 120_000 },
  () => {
    let server: TestServer;
    let s: InteractiveScenario;
    /** A second tenant and app whose user has not consented (consent is declined there). */
    let fresh: InteractiveScenario;
    let current: () => InteractiveScenario;
    let site: StaticSite;
    let api: FastifyInstance;
    let apiOrigin: string;
    let third: ThirdOrigin;
    let hub: HubServer;
    let hubServer: Server;
    let hubUrl: string;
    let outDir: string;
    const profiles: ChromiumProfile[] = [];
    /** `uti`s of access tokens the API refused once (401 retry). */
    const refusedOnce = new Set<string>();
    /** The `acrs` of every token the step-up route saw (one entry per call). */
    const stepUpCalls: (readonly string[] | undefined)[] = [];

    const authority = (x = current()) => `${server.url}/${x.tenantId}/v2.0`;
    const isAuthorize = (seen: Seen) =>
      seen.url.origin === server.url && seen.url.pathname.endsWith('/oauth2/v2.0/authorize');
    const isToken = (seen: Seen) =>
      seen.url.origin === server.url && seen.url.pathname.endsWith('/oauth2/v2.0/token');

    beforeAll(async () => {
      const tlsDir = process.env.TESSERA_TEST_TLS_DIR ?? '';
      outDir = mkdtempSync(join(tmpdir(), 'tessera-spa-app-'));
      await build({
        root: fixtures,
        logLevel: 'error',
        configFile: false,
        plugins: [react()],
        resolve: {
          alias: [
            { find: /^@tessera\/spa\/react$/, replacement: join(spaSource, 'react/index.ts') },
            { find: /^@tessera\/spa$/, replacement: join(spaSource, 'index.ts') },
          ],
        },
        build: { outDir, emptyOutDir: true, minify: false, sourcemap: false },
      });
      site = await startStaticSite({
        root: outDir,
        files: Object.fromEntries(PAGES.map((page) => [page, join(outDir, 'index.html')])),
        generated: spaConfigFiles('SPA_CONFIG', () => ({
          authority: authority(),
          clientId: current().spa.appId,
          apiScope: `${current().api.identifierUri}/Files.Read`,
          apiBaseUrl: `${apiOrigin}/api`,
          hubUrl,
        })),
      });
      server = await startTestServer();
      const redirects = ['/authentication/login-callback', '/authentication/logout-callback'].map(
        (p) => site.origin + p,
      );
      s = await seedInteractiveScenario(server.directory, { spaRedirectUris: redirects });
      fresh = await seedInteractiveScenario(server.directory, { spaRedirectUris: redirects });
      // Alice consented to the directory API's User.Read for the app earlier (a second resource for the refresh token).
      await server.directory.grants.recordConsent({
        tenantId: s.tenantId,
        userId: s.user.id,
        forOrganization: false,
        items: [{ clientAppId: s.spa.appId, resourceAppId: DIRECTORY_APP_ID, scopes: ['User.Read'] }],
      });
      // Conditional access: the authentication context c1 requires MFA (the API's step-up route asks for it).
      await server.directory.conditionalAccessPolicies.create(s.tenantId, {
        displayName: 'MFA for authentication context c1',
        state: 'enabled',
        conditions: {
          users: { includeUsers: ['All'] },
          applications: { includeAuthenticationContextClassReferences: ['c1'] },
        },
        grantControls: { operator: 'OR', builtInControls: ['mfa'] },
      });
      current = () => s;
      third = await startThirdOrigin(tlsDir);

      api = Fastify({
        https: {
          cert: readFileSync(join(tlsDir, 'server.pem')),
          key: readFileSync(join(tlsDir, 'server-key.pem')),
        },
      });
      await api.register(cors, {
        origin: [site.origin],
        allowedHeaders: ['authorization', 'content-type', 'dpop'],
        exposedHeaders: ['www-authenticate', 'dpop-nonce'],
      });
      const validator = createTokenValidator({
        authority: `${server.url}/${s.tenantId}`,
        audience: [s.api.appId, s.api.identifierUri],
      });
      // Both schemes: Bearer, and DPoP with a proof (a DPoP-bound token is never accepted as Bearer).
      await api.register(tesseraAuth, { validator, dpop: {} });
      api.get('/api/files', { config: { auth: { scopes: ['Files.Read'] } } }, (request) => ({
        oid: request.auth?.oid,
        scp: request.auth?.scp,
      }));
      api.get('/api/redirect', { config: { auth: { scopes: ['Files.Read'] } } }, (_request, reply) =>
        reply.redirect(`${third.origin}/from-redirect`, 302),
      );
      // Refuses the first token it sees, as an API does whose key cache is behind: the library renews and retries.
      api.get(
        '/api/flaky',
        {
          config: {
            auth: {
              check: (claims) => {
                if (refusedOnce.size === 0 && claims.uti !== undefined) {
                  refusedOnce.add(claims.uti);
                  throw new BearerTokenError('signature_invalid');
                }
                if (claims.uti !== undefined && refusedOnce.has(claims.uti))
                  throw new BearerTokenError('signature_invalid');
              },
            },
          },
        },
        () => ({ ok: true }),
      );
      // Requires the authentication context c1 (`acrs`): a token without it gets the 401 `insufficient_claims`
      // challenge; the conditional access policy above makes the server ask for a second factor to grant it.
      api.post(
        '/api/step-up',
        {
          config: {
            auth: {
              scopes: ['Files.Read'],
              check: (claims) => {
                stepUpCalls.push(claims.acrs);
                requireAuthenticationContext(claims, 'c1');
              },
            },
          },
        },
        (request) => ({ replayed: request.body, acrs: request.auth?.acrs }),
      );
      await api.listen({ port: 0, host: '127.0.0.1' });
      apiOrigin = `https://localhost:${(api.server.address() as AddressInfo).port}`;

      // A hub (@tessera/hub) on its own HTTPS origin, accepting the API's tokens, open to the app's origin only.
      hub = await createHubServer({
        path: '/hubs/test',
        hub: defineHub({
          methods: {
            whoAmI: (context: HubCallerContext) => ({
              userIdentifier: context.userIdentifier,
              oid: context.user?.oid,
            }),
          },
        }),
        authentication: { validator },
        allowedOrigins: [site.origin],
      });
      hubServer = createServer({
        cert: readFileSync(join(tlsDir, 'server.pem')),
        key: readFileSync(join(tlsDir, 'server-key.pem')),
      });
      attachHubs(hubServer, [hub]);
      await new Promise<void>((resolve) => hubServer.listen(0, '127.0.0.1', resolve));
      hubUrl = `https://localhost:${(hubServer.address() as AddressInfo).port}/hubs/test`;
    }, 120_000);

    afterAll(async () => {
      for (const profile of profiles) await profile.close();
      await site.close();
      await api.close();
      await hub.close();
      hubServer.closeAllConnections();
      await new Promise<void>((resolve) =>
        hubServer.close(() => {
          resolve();
        }),
      );
      await third.close();
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    });

    async function newContext(options: { allowThirdPartyCookies?: boolean } = {}): Promise<BrowserContext> {
      const profile = await openChromiumProfile(options);
      profiles.push(profile);
      return profile.context;
    }

    /** Opens `path` of the app in a new tab of `context`, with the app flavour `mode`. */
    async function open(
      context: BrowserContext,
      path: string,
      mode: Mode = 'code',
      extra: Record<string, string> = {},
    ): Promise<{ page: Page; seen: Seen[] }> {
      const page = await context.newPage();
      watchPage(page, 15_000);
      await page.addInitScript(
        ({ mode, extra }) => {
          sessionStorage.setItem('spa.mode', mode);
          for (const [k, v] of Object.entries(extra)) sessionStorage.setItem(k, v);
        },
        { mode, extra },
      );
      const seen = record(page);
      await page.goto(`${site.origin}${path}`);
      return { page, seen };
    }

    const status = (page: Page) => page.locator('#status');

    /** Signs in on the server's page once the app went there, and waits until the app shows `expected`. */
    async function signIn(
      page: Page,
      start: () => Promise<unknown>,
      expected: string | RegExp,
      x = s,
    ): Promise<void> {
      await signInOnPage(page, {
        serverOrigin: server.url,
        appOrigin: site.origin,
        userName: x.user.userPrincipalName,
        password: x.password,
        start,
      });
      await status(page).filter({ hasText: expected }).waitFor();
    }

    it('protected route → sign-in → back on it; reload keeps the session; refresh-token renewal; tokens per resource', async () => {
      const context = await newContext();
      const { page, seen } = await open(context, '/protected?tab=2#files');
      await signIn(page, () => Promise.resolve(), 'protected: Alice Adams at /protected?tab=2');
      expect(page.url()).toBe(`${site.origin}/protected?tab=2#files`);

      // Code + S256 PKCE, offline_access and the API scope; the redirect URI is the login-callback route.
      const authorize = seen.find(isAuthorize)!;
      expect(authorize.url.searchParams.get('response_type')).toBe('code');
      expect(authorize.url.searchParams.get('code_challenge_method')).toBe('S256');
      expect(authorize.url.searchParams.get('redirect_uri')).toBe(
        `${site.origin}/authentication/login-callback`,
      );
      expect(authorize.url.searchParams.get('scope')?.split(' ').sort()).toEqual(
        ['offline_access', 'openid', 'profile', `${s.api.identifierUri}/Files.Read`].sort(),
      );
      const user = (await spa<SpaUser | null>(page, 'user'))!;
      expect(user.refresh_token).toEqual(expect.any(String));
      expect(decodeJwt(user.access_token)).toMatchObject({
        aud: s.api.appId,
        scp: 'Files.Read',
        oid: s.user.id,
      });

      await page.reload();
      await status(page).filter({ hasText: 'protected: Alice Adams' }).waitFor();
      expect((await spa<SpaUser | null>(page, 'user'))?.access_token).toBe(user.access_token);

      // Renewal with the refresh token: a refresh_token grant, rotated, no authorize request.
      const authorizations = seen.filter(isAuthorize).length;
      const renewed = await spa<{ user: SpaUser }>(page, 'renew');
      expect(renewed.user.access_token).not.toBe(user.access_token);
      expect(renewed.user.refresh_token).not.toBe(user.refresh_token);
      expect(seen.filter(isAuthorize)).toHaveLength(authorizations);
      expect(seen.some((x) => isToken(x) && x.postData?.includes('grant_type=refresh_token'))).toBe(true);
      expect(await spa(page, 'events')).toEqual(expect.arrayContaining([{ type: 'signedIn' }]));

      // A token for another resource (the directory API) from the refresh token, with that scope; the rotated
      // refresh token is stored back, and the next call is served from the per-resource cache.
      const before = seen.filter(isToken).length;
      const graph = await spa<{ token: string }>(page, 'token', ['https://graph.microsoft.com/User.Read']);
      expect(graph, JSON.stringify(graph)).toHaveProperty('token');
      expect(decodeJwt(graph.token)).toMatchObject({ aud: 'https://graph.microsoft.com' });
      const exchange = seen.filter(isToken).slice(before)[0]!;
      expect(new URLSearchParams(exchange.postData ?? '').get('scope')).toContain(
        'https://graph.microsoft.com/User.Read',
      );
      const stored = (await spa<SpaUser | null>(page, 'user'))!;
      expect(stored.refresh_token).not.toBe(renewed.user.refresh_token);
      expect(await spa(page, 'token', ['https://graph.microsoft.com/User.Read'])).toEqual(graph);
      expect(seen.filter(isToken)).toHaveLength(before + 1);
      // The API's own token still is the user's.
      expect(await spa(page, 'token')).toEqual({ token: stored.access_token });
    });

    it('automatic silent renewal runs through the refresh token before expiry', async () => {
      const context = await newContext();
      const { page, seen } = await open(context, '/protected', 'code', { 'spa.expiringSeconds': '3596' });
      await signIn(page, () => Promise.resolve(), 'protected: Alice Adams');
      const first = (await spa<SpaUser | null>(page, 'user'))!;
      await expect
        .poll(async () => (await spa<SpaUser | null>(page, 'user'))?.access_token, { timeout: 15_000 })
        .not.toBe(first.access_token);
      expect(seen.some((x) => isToken(x) && x.postData?.includes('grant_type=refresh_token'))).toBe(true);
      expect(seen.filter(isAuthorize)).toHaveLength(1);
    });

    it('authorized fetch: the token goes to the API only — not to a third origin, not across a redirect; 401 retried once', async () => {
      const context = await newContext();
      const { page, seen } = await open(context, '/protected');
      await signIn(page, () => Promise.resolve(), 'protected: Alice Adams');
      const user = (await spa<SpaUser | null>(page, 'user'))!;

      expect(await spa(page, 'fetch', `${apiOrigin}/api/files`)).toEqual({
        status: 200,
        type: 'cors',
        body: JSON.stringify({ oid: s.user.id, scp: 'Files.Read' }),
      });
      const toApi = seen.find(
        (x) => x.url.href === `${apiOrigin}/api/files` && x.headers.authorization !== undefined,
      )!;
      expect(toApi.headers.authorization).toBe(`Bearer ${user.access_token}`);

      // Another origin, a look-alike path (`/apix`), and a redirect from the API to the third origin.
      expect(await spa(page, 'fetch', `${third.origin}/api/files`)).toMatchObject({
        status: 200,
        body: 'third',
      });
      expect(await spa(page, 'fetch', `${apiOrigin}/apix`)).toMatchObject({ status: 401 });
      expect(await spa(page, 'fetch', `${apiOrigin}/api/redirect`)).toEqual({
        status: 0,
        type: 'opaqueredirect',
        body: null,
      });
      expect(third.received.map((r) => r.authorization)).toEqual([undefined]);
      expect(third.received.map((r) => r.path)).toEqual(['/api/files']);
      expect(seen.find((x) => x.url.pathname === '/apix')?.headers.authorization).toBeUndefined();

      // A 401 (invalid_token) makes it renew the token and retry once.
      const tokens = seen.filter(isToken).length;
      expect(await spa(page, 'fetch', `${apiOrigin}/api/flaky`)).toMatchObject({
        status: 200,
        body: '{"ok":true}',
      });
      const flaky = seen.filter(
        (x) => x.url.pathname === '/api/flaky' && x.headers.authorization !== undefined,
      );
      expect(flaky).toHaveLength(2);
      expect(flaky[0]!.headers.authorization).not.toBe(flaky[1]!.headers.authorization);
      expect(seen.filter(isToken).length).toBe(tokens + 1);
    });

    it('a claims challenge from the API is answered with the claims parameter and the request replayed', async () => {
      const context = await newContext();
      const { page, seen } = await open(context, '/protected?step=up');
      await signIn(page, () => Promise.resolve(), 'protected: Alice Adams');
      const signedIn = (await spa<SpaUser | null>(page, 'user'))!;
      expect(decodeJwt(signedIn.access_token)).toMatchObject({ amr: ['pwd'] });
      expect(decodeJwt(signedIn.access_token).acrs).toBeUndefined();
      const before = seen.filter(isAuthorize).length;

      // The API's 401 insufficient_claims makes the authorized fetch navigate to /authorize with the claims.
      const atServer = page.waitForURL((url) => url.origin === server.url);
      const answer = await spa<Failure>(page, 'fetch', `${apiOrigin}/api/step-up`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"order":42}',
      }).catch(() => ({ failure: { code: 'navigated' } }));
      expect(['interaction_required', 'navigated']).toContain(answer.failure.code);
      await atServer;
      const authorize = seen.filter(isAuthorize).slice(before)[0]!;
      expect(authorize.url.searchParams.get('claims')).toBe(authenticationContextClaims('c1'));
      const challenge = seen.find(
        (x) => x.url.href === `${apiOrigin}/api/step-up` && x.request.method() === 'POST',
      )!;
      const refused = await challenge.request.response();
      expect(refused?.status()).toBe(401);
      expect(refused?.headers()['www-authenticate']).toContain('error="insufficient_claims"');

      // The policy for c1 requires MFA: Alice sets up an authenticator app (the secret from the page, the code
      // computed as the app would, RFC 6238) and is sent back to the page she was on.
      await page.getByRole('heading', { name: 'Set up your authenticator app' }).waitFor();
      const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replaceAll(/\s/g, '');
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      const back = page.waitForURL(`${site.origin}/protected?step=up`, { waitUntil: 'load' });
      await page.locator('#otc').fill(await generate({ secret, epoch: Math.floor(Date.now() / 1000) }));
      await page.getByRole('button', { name: 'Verify' }).click();
      await back;
      await status(page).filter({ hasText: 'protected: Alice Adams' }).waitFor();

      // The pending request is replayed once, with the stepped-up token (acrs c1, amr with mfa).
      expect(await spa(page, 'resume')).toEqual({
        status: 200,
        body: JSON.stringify({ replayed: { order: 42 }, acrs: ['c1'] }),
      });
      expect(await spa(page, 'resume')).toBeNull(); // single use
      const calls = seen.filter(
        (x) => x.url.href === `${apiOrigin}/api/step-up` && x.request.method() === 'POST',
      );
      expect(calls).toHaveLength(2);
      expect(stepUpCalls).toEqual([undefined, ['c1']]);
      const stepped = decodeJwt((calls[1]!.headers.authorization ?? '').replace(/^Bearer /, ''));
      expect(stepped.acrs).toContain('c1');
      expect(stepped.amr).toContain('mfa');
      expect(stepped.oid).toBe(s.user.id);
    });

    it('accessTokenFactory: @microsoft/signalr in the page connects to a hub as the user; without a token it is refused', async () => {
      const context = await newContext();
      const { page, seen } = await open(context, '/protected');
      await signIn(page, () => Promise.resolve(), 'protected: Alice Adams');
      const user = (await spa<SpaUser | null>(page, 'user'))!;
      expect(await spa(page, 'hub', true)).toEqual({
        me: { userIdentifier: s.user.id, oid: s.user.id },
      });
      // negotiate carried the SPA's access token as a bearer token.
      const negotiate = seen.find((x) => x.url.pathname === '/hubs/test/negotiate')!;
      expect(negotiate.headers.authorization).toBe(`Bearer ${user.access_token}`);

      const anonymous = await spa<{ error?: string }>(page, 'hub', false);
      expect(anonymous.error).toMatch(/401|Unauthorized/);
      const refused = seen.filter((x) => x.url.pathname === '/hubs/test/negotiate')[1]!;
      expect(refused.headers.authorization).toBeUndefined();
      expect((await refused.request.response())?.status()).toBe(401);
    });

    it('without refresh tokens: renewal in a hidden prompt=none iframe when third-party cookies are allowed', async () => {
      const context = await newContext({ allowThirdPartyCookies: true });
      const { page, seen } = await open(context, '/protected', 'iframe');
      await signIn(page, () => Promise.resolve(), 'protected: Alice Adams');
      const first = (await spa<SpaUser | null>(page, 'user'))!;
      expect(first.refresh_token).toBeNull();
      await page.reload();
      await status(page).filter({ hasText: 'protected: Alice Adams' }).waitFor();
      const before = seen.length;
      const renewed = await spa<{ user: SpaUser }>(page, 'renew');
      expect(renewed.user.access_token).not.toBe(first.access_token);
      const authorize = seen.slice(before).filter(isAuthorize);
      expect(authorize).toHaveLength(1);
      expect(authorize[0]!.mainFrame).toBe(false);
      expect(authorize[0]!.url.searchParams.get('prompt')).toBe('none');
    });

    it('without refresh tokens and with third-party cookies blocked (Chromium default): renewal reported impossible', async () => {
      const context = await newContext({ allowThirdPartyCookies: false });
      const { page, seen } = await open(context, '/protected', 'iframe');
      await signIn(page, () => Promise.resolve(), 'protected: Alice Adams');
      const before = seen.length;
      const renewed = await spa<Failure>(page, 'renew');
      expect(renewed.failure).toMatchObject({
        code: 'silent_renew_failed',
        error: 'login_required',
        reason: 'third_party_cookies_blocked',
      });
      expect(renewed.failure.message).toMatch(/third-party frames/);
      expect(seen.slice(before).filter(isAuthorize)[0]?.mainFrame).toBe(false);
      expect(await spa(page, 'events')).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'renewalError', reason: 'third_party_cookies_blocked' }),
        ]),
      );
      // The session itself is fine: a top-level navigation signs in again without the form.
      expect((await context.cookies(server.url)).some((c) => c.name === 'tessera_sso')).toBe(true);
    });

    it('sign-out ends the SSO session; a second tab is signed out and can no longer renew', async () => {
      const context = await newContext({ allowThirdPartyCookies: true });
      const { page: first } = await open(context, '/protected', 'iframe');
      await signIn(first, () => Promise.resolve(), 'protected: Alice Adams');
      // The second tab signs in through the SSO session (a top-level redirect, no form).
      const { page: second } = await open(context, '/protected', 'iframe');
      await status(second).filter({ hasText: 'protected: Alice Adams' }).waitFor();
      // It stays on an unprotected page (a protected one would start a sign-in as soon as the user is gone).
      await second.goto(`${site.origin}/`);
      await status(second).filter({ hasText: 'signed in: Alice Adams' }).waitFor();
      expect(await spa(second, 'renew')).toHaveProperty('user.profile.name', 'Alice Adams');

      const signedOut = first.waitForURL(`${site.origin}/authentication/logged-out`);
      await spa(first, 'signOut').catch(() => undefined);
      await signedOut;
      await status(first).filter({ hasText: 'signed out' }).waitFor();
      expect((await context.cookies(server.url)).some((c) => c.name === 'tessera_sso')).toBe(false);

      await expect.poll(() => spa(second, 'user')).toBeNull();
      await status(second).filter({ hasText: 'anonymous' }).waitFor();
      expect(await spa(second, 'events')).toEqual(expect.arrayContaining([{ type: 'signedOut' }]));
      expect(await spa<Failure>(second, 'renew')).toMatchObject({
        failure: { code: 'silent_renew_failed', error: 'login_required', reason: 'session_ended' },
      });
    });

    it('consent declined lands on login-failed with the readable message and the trace id', async () => {
      current = () => fresh;
      try {
        const context = await newContext();
        const { page } = await open(context, '/protected');
        await page.waitForURL((url) => url.origin === server.url);
        await page.locator('#username').fill(fresh.user.userPrincipalName);
        await page.locator('#password').fill(fresh.password);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('button', { name: 'Cancel' }).click();
        await status(page).filter({ hasText: 'login failed' }).waitFor();
        expect(new URL(page.url()).pathname).toBe('/authentication/login-failed');
        expect(await page.locator('#message').textContent()).toMatch(/^TSS65004: /);
        expect(await page.locator('#trace').textContent()).toMatch(/^[0-9a-f-]{36}$/);
      } finally {
        current = () => s;
      }
    });

    it('an abandoned sign-in (back button, or tab closed mid-flow) does not block the next one', async () => {
      const context = await newContext();
      const { page } = await open(context, '/protected?first');
      await page.waitForURL((url) => url.origin === server.url);
      await page.goBack(); // back to the app, which starts a new sign-in at once
      await page.waitForURL((url) => url.origin === server.url);
      await signIn(page, () => Promise.resolve(), 'protected: Alice Adams at /protected?first');
      // A tab closed on the sign-in page; the next tab signs in (through the SSO session now).
      const { page: closed } = await open(context, '/protected?closed', 'code', {});
      await closed.close();
      const { page: next } = await open(context, '/protected?next');
      await status(next).filter({ hasText: 'protected: Alice Adams at /protected?next' }).waitFor();
    });

    it('implicit id_token token: sign-in through the fragment, checked in the library', async () => {
      const context = await newContext();
      const { page, seen } = await open(context, '/protected', 'implicit');
      await signIn(page, () => Promise.resolve(), 'protected: Alice Adams');
      const authorize = seen.find(isAuthorize)!;
      expect(authorize.url.searchParams.get('response_type')).toBe('id_token token');
      expect(authorize.url.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const user = (await spa<SpaUser | null>(page, 'user'))!;
      expect(user.refresh_token).toBeNull();
      expect(decodeJwt(user.access_token)).toMatchObject({ aud: s.api.appId });
      expect(seen.some(isToken)).toBe(false);
      expect(page.url()).toBe(`${site.origin}/protected`); // the fragment left the address bar
    });

    it('DPoP: bound tokens, the key non-extractable; a stolen refresh or access token is refused without it', async () => {
      const { page, seen } = await open(await newContext(), '/protected', 'dpop');
      await signIn(page, () => Promise.resolve(), 'protected: Alice Adams');
      const user = (await spa<SpaUser | null>(page, 'user'))!;
      expect(user.token_type).toBe('DPoP');
      const thumbprint = (decodeJwt(user.access_token).cnf as { jkt?: string } | undefined)?.jkt;
      expect(thumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(await spa(page, 'dpopKeyExtractable')).toBe(false);
      // The code request named the key (dpop_jkt) and the exchange carried a proof.
      expect(seen.find(isAuthorize)?.url.searchParams.get('dpop_jkt')).toBe(thumbprint);
      const exchange = seen.find((x) => isToken(x) && x.postData?.includes('grant_type=authorization_code'))!;
      expect(exchange.headers.dpop).toEqual(expect.any(String));

      // The authorized fetch sends the token with the DPoP scheme and a proof for this request.
      expect(await spa(page, 'fetch', `${apiOrigin}/api/files`)).toMatchObject({ status: 200 });
      const call = seen.find(
        (x) => x.url.href === `${apiOrigin}/api/files` && x.headers.authorization !== undefined,
      )!;
      expect(call.headers.authorization).toBe(`DPoP ${user.access_token}`);
      expect(decodeJwt(call.headers.dpop ?? '')).toMatchObject({ htm: 'GET', htu: `${apiOrigin}/api/files` });

      // Renewal with the bound refresh token works from the page (it holds the key)...
      const renewed = await spa<{ user: SpaUser }>(page, 'renew');
      expect(renewed.user.token_type).toBe('DPoP');
      const stolen = renewed.user.refresh_token ?? '';
      // ...but the refresh token copied out of storage is refused at the token endpoint without a proof by the key.
      const redeemed = await fetch(`${server.url}/${s.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: site.origin },
        body: new URLSearchParams({
          client_id: s.spa.appId,
          grant_type: 'refresh_token',
          refresh_token: stolen,
        }),
      });
      expect(redeemed.status).toBe(400);
      const body = (await redeemed.json()) as { error: string; error_codes: number[] };
      expect(body).toMatchObject({ error: 'invalid_grant', error_codes: [9100304] });
      // And the access token sent as a bearer token is refused by the API.
      const asBearer = await fetch(`${apiOrigin}/api/files`, {
        headers: { authorization: `Bearer ${renewed.user.access_token}` },
      });
      expect(asBearer.status).toBe(401);
      // The page still renews: the stolen token's refusal did not revoke the family.
      expect(await spa(page, 'renew')).toHaveProperty('user.token_type', 'DPoP');
    });

    describe('attacks on the callback', () => {
      /**
       * Starts a sign-in and returns the callback URL the server sent the browser to, which the app holds
       * unprocessed (fixtures/app: localStorage `spa.hold`).
       */
      async function captureCallback(page: Page): Promise<URL> {
        await page.evaluate(() => {
          localStorage.setItem('spa.hold', '1');
        });
        await signInOnPage(page, {
          serverOrigin: server.url,
          appOrigin: site.origin,
          userName: s.user.userPrincipalName,
          password: s.password,
          start: () => page.goto(`${site.origin}/protected`),
        });
        await status(page).filter({ hasText: 'held' }).waitFor();
        const captured = new URL(page.url());
        await page.evaluate(() => {
          localStorage.removeItem('spa.hold');
        });
        return captured;
      }

      async function failedWith(page: Page, url: string): Promise<string> {
        await page.goto(url);
        await status(page).filter({ hasText: 'login failed' }).waitFor();
        return (await page.locator('#message').textContent()) ?? '';
      }

      it('tampered state, wrong iss, replayed callback URL', async () => {
        const { page } = await open(await newContext(), '/');
        await status(page).filter({ hasText: 'anonymous' }).waitFor();
        const callback = await captureCallback(page);
        expect(callback.searchParams.get('iss')).toBe(authority());

        const tampered = new URL(callback);
        tampered.searchParams.set('state', `${callback.searchParams.get('state')}x`);
        expect(await failedWith(page, tampered.href)).toBe(
          'The sign-in response matches no request of this browser.',
        );

        const wrongIss = new URL(callback);
        wrongIss.searchParams.set('iss', 'https://evil.example/v2.0');
        expect(await failedWith(page, wrongIss.href)).toBe(
          'The sign-in response comes from another issuer (https://evil.example/v2.0).',
        );
        const noIss = new URL(callback);
        noIss.searchParams.delete('iss');
        expect(await failedWith(page, noIss.href)).toBe(
          'The sign-in response does not name its issuer (iss).',
        );

        // The genuine response still works (the refusals above consumed nothing), once.
        await page.goto(callback.href);
        await status(page).filter({ hasText: 'protected: Alice Adams' }).waitFor();
        expect(await failedWith(page, callback.href)).toBe(
          'The sign-in response matches no request of this browser.',
        );
      });

      it('injected code', async () => {
        // Injected code: a genuine state of the victim's browser, with a code issued to another browser's sign-in
        // (whose PKCE verifier differs): the token endpoint refuses it, the app shows why and the trace id.
        const { page: attacker } = await open(await newContext(), '/');
        const stolen = await captureCallback(attacker);
        const { page: victim, seen: victimSeen } = await open(await newContext(), '/');
        await status(victim).filter({ hasText: 'anonymous' }).waitFor();
        const injected = await captureCallback(victim);
        injected.searchParams.set('code', stolen.searchParams.get('code') ?? '');
        const message = await failedWith(victim, injected.href);
        expect(message).toMatch(/^TSS\d+: /);
        const refused = victimSeen.filter(isToken)[0]!;
        expect((await refused.request.response())?.status()).toBe(400);
        expect(await victim.locator('#trace').textContent()).toMatch(/^[0-9a-f-]{36}$/);
      });
    });
  },
);
