import { fileURLToPath } from 'node:url';
import {
  bearerErrorResponse,
  createTokenAcquirer,
  createTokenValidator,
  TokenAcquisitionError,
} from '@tessera/resource';
import { tesseraAuth } from '@tessera/resource/fastify';
import {
  chromiumAvailable,
  openChromiumProfile,
  packageFile,
  seedInteractiveScenario,
  signInOnPage,
  spaConfigFiles,
  startStaticSite,
  startTestServer,
  watchPage,
  type ChromiumProfile,
  type InteractiveScenario,
  type StaticSite,
  type TestServer,
} from '@tessera/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { generate } from 'otplib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOnBehalfOf, type OnBehalfOfScenario } from './support/on-behalf-of.js';

// The whole MFA step-up in headless Chromium, with the unmodified MSAL Browser bundle in a tiny SPA on another
// site: the SPA's token for a middle-tier API (a Fastify app on @tessera/resource) → the middle tier's
// On-Behalf-Of for the Files API, which a conditional access policy guards with MFA → interaction_required 50079
// and its claims challenge → the middle tier's 401 `insufficient_claims` with the challenge → the SPA's
// acquireTokenRedirect({ claims }) → /authorize with `claims` → Tessera's authenticator set-up page (the test
// reads the secret from the page and computes the code with otplib, as an authenticator app would) → the new
// token's On-Behalf-Of succeeds. Then, in a fresh browser, the same code is refused as a replay.

const fixtures = fileURLToPath(new URL('./fixtures/msal-step-up', import.meta.url));
const bundle = packageFile(import.meta.url, '@azure/msal-browser', 'lib/msal-browser.min.js');
const REALM = 'middle-tier';
const BROWSER_TEST_TIMEOUT_MS = 150_000;

function msalApp<T>(page: Page, call: string): Promise<T> {
  return page.evaluate<T>(`window.msalApp.${call}`);
}

describe.skipIf(!chromiumAvailable())(
  'MFA step-up in Chromium: SPA → middle tier → OBO → claims challenge → TOTP',
  () => {
    let server: TestServer;
    let s: InteractiveScenario;
    let obo: OnBehalfOfScenario;
    let site: StaticSite;
    let middle: FastifyInstance;
    let middleUrl: string;
    let policyId: string;
    const profiles: ChromiumProfile[] = [];
    const redirectUri = () => `${site.origin}/index.html`;
    const midScope = () => `${obo.mid.identifierUri}/access_as_user`;

    beforeAll(async () => {
      site = await startStaticSite({
        root: fixtures,
        files: { '/msal-browser.min.js': bundle },
        generated: spaConfigFiles('MSAL_CONFIG', () => ({
          clientId: s.spa.appId,
          authority: `${server.url}/${s.tenantId}`,
          knownAuthorities: [new URL(server.url).host],
          redirectUri: redirectUri(),
          scopes: [midScope()],
        })),
      });
      server = await startTestServer();
      s = await seedInteractiveScenario(server.directory, { spaRedirectUris: [`${site.origin}/index.html`] });
      obo = await seedOnBehalfOf(server, s);
      const policy = await server.directory.conditionalAccessPolicies.create(s.tenantId, {
        displayName: 'Require MFA for Files',
        state: 'enabled',
        conditions: {
          users: { includeUsers: ['All'] },
          applications: { includeApplications: [s.api.appId] },
        },
        grantControls: { operator: 'OR', builtInControls: ['mfa'] },
      });
      policyId = policy.id;

      // The middle tier: validates the SPA's token, trades it On-Behalf-Of for Files.Read, and turns an
      // interaction_required into the claims challenge for the SPA.
      const validator = createTokenValidator({
        authority: `${server.url}/${s.tenantId}`,
        audience: [obo.mid.appId, obo.mid.identifierUri],
      });
      const acquirer = createTokenAcquirer({
        authority: `${server.url}/${s.tenantId}`,
        clientId: obo.mid.appId,
        clientSecret: obo.mid.secret,
      });
      middle = Fastify();
      await middle.register(tesseraAuth, { validator, realm: REALM });
      middle.get('/files', async (request, reply) => {
        const incoming = (request.headers.authorization ?? '').replace(/^Bearer /, '');
        try {
          const token = await acquirer.acquireTokenOnBehalfOf(incoming, [
            `${s.api.identifierUri}/Files.Read`,
          ]);
          const claims = decodeJwt(token.accessToken);
          return { oid: claims.oid, amr: claims.amr };
        } catch (error) {
          const challenge = error instanceof TokenAcquisitionError ? error.toClaimsChallenge() : undefined;
          if (challenge === undefined) throw error;
          const answer = bearerErrorResponse(challenge, { realm: REALM });
          return reply.code(answer.status).headers(answer.headers).send(answer.body);
        }
      });
      middleUrl = await middle.listen({ port: 0, host: '127.0.0.1' });
    });
    afterAll(async () => {
      for (const profile of profiles) await profile.close();
      await middle.close();
      await site.close();
      await server.close();
    });

    async function signedInPage(): Promise<Page> {
      const profile = await openChromiumProfile();
      profiles.push(profile);
      const page = await profile.context.newPage();
      watchPage(page, 20_000);
      await page.goto(redirectUri());
      await page
        .locator('#status')
        .filter({ hasText: /anonymous|signed in|error/ })
        .waitFor();
      await signInOnPage(page, {
        serverOrigin: server.url,
        appOrigin: site.origin,
        userName: s.user.userPrincipalName,
        password: s.password,
        start: () => msalApp(page, 'login()'),
      });
      await page
        .locator('#status')
        .filter({ hasText: /^(signed in|error)/ })
        .waitFor();
      expect(await page.locator('#status').textContent()).toBe('signed in: Alice Adams');
      return page;
    }

    const callMiddle = (token: string) =>
      fetch(`${middleUrl}/files`, { headers: { authorization: `Bearer ${token}` } });

    /** The claims challenge of a middle tier 401, decoded from its `WWW-Authenticate` (base64 JSON). */
    async function challengeOf(response: Response): Promise<string> {
      expect(response.status).toBe(401);
      await response.arrayBuffer();
      const header = response.headers.get('www-authenticate') ?? '';
      expect(header).toContain('error="insufficient_claims"');
      const encoded = /claims="([^"]+)"/.exec(header)?.[1] ?? '';
      return Buffer.from(encoded, 'base64').toString('utf8');
    }

    /** The step-up from the SPA: acquireTokenRedirect({ claims }), up to Tessera's second-factor page. */
    async function stepUp(page: Page, claims: string): Promise<void> {
      const atServer = page.waitForURL((url) => url.origin === server.url);
      await msalApp(page, `stepUp(${JSON.stringify(claims)})`).catch(() => undefined);
      await atServer;
      await page.locator('#otc').waitFor();
    }

    let usedCode = '';

    it(
      'a 401 claims challenge, the authenticator set up with a code computed from the page, and the retry succeeds',
      async () => {
        const page = await signedInPage();
        const first = await msalApp<{ accessToken?: string }>(page, 'token()');
        expect(decodeJwt(first.accessToken ?? '').amr).toEqual(['pwd']);

        const claims = await challengeOf(await callMiddle(first.accessToken ?? ''));
        expect(JSON.parse(claims)).toEqual({
          access_token: { polids: { essential: true, values: [policyId] } },
        });

        const authorizeRequests: URL[] = [];
        page.on('request', (request) => {
          const url = new URL(request.url());
          if (url.pathname.endsWith('/oauth2/v2.0/authorize')) authorizeRequests.push(url);
        });
        await stepUp(page, claims);
        expect(JSON.parse(authorizeRequests[0]?.searchParams.get('claims') ?? '{}')).toMatchObject(
          JSON.parse(claims) as object,
        );
        await expect(
          page.getByRole('heading', { name: 'Set up your authenticator app' }).count(),
        ).resolves.toBe(1);
        expect(await page.locator('img.qr').getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
        const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replaceAll(/\s/g, '');
        expect(secret).toMatch(/^[A-Z2-7]{32}$/);
        usedCode = await generate({ secret, epoch: Math.floor(Date.now() / 1000) });
        const atApp = page.waitForURL((url) => url.origin === site.origin);
        await page.locator('#otc').fill(usedCode);
        await page.getByRole('button', { name: 'Verify' }).click();
        await atApp;
        await page
          .locator('#status')
          .filter({ hasText: /^(signed in|error)/ })
          .waitFor();
        const stepped = await page.waitForFunction('window.msalApp.redirectResult');
        await stepped.dispose();
        const result = await msalApp<{ accessToken: string }>(page, 'redirectResult');
        expect(decodeJwt(result.accessToken).amr).toEqual(['pwd', 'mfa', 'otp']);

        const retry = await callMiddle(result.accessToken);
        const body = (await retry.json()) as { oid: string; amr: string[] };
        expect(retry.status, JSON.stringify(body)).toBe(200);
        expect(body).toEqual({ oid: s.user.id, amr: ['pwd', 'mfa', 'otp'] });
      },
      BROWSER_TEST_TIMEOUT_MS,
    );

    it(
      'in a fresh browser the same TOTP code is refused as a replay, on the page, and nothing is upgraded',
      async () => {
        expect(usedCode).toMatch(/^\d{6}$/);
        const page = await signedInPage();
        const first = await msalApp<{ accessToken?: string }>(page, 'token()');
        const claims = await challengeOf(await callMiddle(first.accessToken ?? ''));
        await stepUp(page, claims);
        await expect(
          page.getByRole('heading', { name: 'Enter your verification code' }).count(),
        ).resolves.toBe(1);
        await page.locator('#otc').fill(usedCode);
        await page.getByRole('button', { name: 'Verify' }).click();
        await page.locator('#form-error').waitFor();
        expect(await page.locator('#form-error').textContent()).toBe(
          'This verification code was already used. Wait for the next code in your authenticator app and enter that one.',
        );
        expect(new URL(page.url()).origin).toBe(server.url);
      },
      BROWSER_TEST_TIMEOUT_MS,
    );
  },
);
