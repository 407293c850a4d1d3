import {
  chromiumAvailable,
  openChromiumProfile,
  seedInteractiveScenario,
  startStaticSite,
  startTestServer,
  type StaticSite,
  type ChromiumProfile,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDaemon, type DaemonScenario } from './support/admin-consent-daemon.js';

// Admin consent in headless Debian Chromium: the administrator of a second tenant opens the daemon's admin consent
// link, signs in on Tessera's real form, reads the permissions and accepts; Chromium follows the redirect to the
// daemon (its Origin header, cookies and the page's CSP as a real browser sends and enforces them). Then the
// daemon's client-credentials token in that tenant carries the granted roles. A non-admin's attempt grants nothing.

/** Milliseconds one browser run may take on a busy machine. */
const BROWSER_TEST_TIMEOUT_MS = 120_000;

const available = chromiumAvailable();

describe.skipIf(!available)('admin consent in Chromium: a multi-tenant daemon into a second tenant', () => {
  let server: TestServer;
  let home: InteractiveScenario;
  let d: DaemonScenario;
  let site: StaticSite;
  let redirectUri: string;
  const profiles: ChromiumProfile[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    home = await seedInteractiveScenario(server.directory);
    d = await seedDaemon(server, home);
    // The daemon's own page the admin comes back to: another site than the identity server.
    site = await startStaticSite({
      root: mkdtempSync(join(tmpdir(), 'tessera-daemon-site-')),
      generated: (path) =>
        path === '/permissions' ? { type: 'text/html; charset=utf-8', body: '<p>Thanks</p>' } : undefined,
    });
    redirectUri = `${site.origin}/permissions`;
    await server.directory.applications.update(d.daemonAppId, (current) => ({
      web: { ...current.web, redirectUris: [...current.web.redirectUris, redirectUri] },
    }));
  });
  afterAll(async () => {
    for (const profile of profiles) await profile.close();
    await site.close();
    await server.close();
  });

  /** A page of a fresh Chromium profile. */
  async function newPage(): Promise<Page> {
    const profile = await openChromiumProfile();
    profiles.push(profile);
    return profile.context.newPage();
  }

  const adminConsentUrl = (tenant: string) =>
    `${server.url}/${tenant}/adminconsent?${new URLSearchParams({
      client_id: d.daemonAppId,
      state: '12345',
      redirect_uri: redirectUri,
    }).toString()}`;

  async function daemonToken(tenant: string): Promise<{ status: number; roles: unknown }> {
    const response = await fetch(`${server.url}/${tenant}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: d.daemonAppId,
        client_secret: d.daemonSecret,
        scope: `${d.apiUri}/.default`,
      }),
    });
    const body = (await response.json()) as { access_token?: string };
    return {
      status: response.status,
      roles: body.access_token === undefined ? undefined : decodeJwt(body.access_token).roles,
    };
  }

  async function signIn(page: Page, url: string, userName: string, password: string): Promise<void> {
    await page.goto(url);
    await page.locator('#username').fill(userName);
    await page.locator('#password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it(
    "the second tenant's admin accepts: redirect with tenant, state, admin_consent=True; the daemon's token has the roles",
    async () => {
      const org = await seedInteractiveScenario(server.directory);
      expect((await daemonToken(org.tenantId)).status).toBe(400);
      const page = await newPage();
      await signIn(page, adminConsentUrl('common'), org.admin.userPrincipalName, org.password);
      const accept = page.getByRole('button', { name: 'Accept' });
      await accept.waitFor();
      const permissions = await page.getByRole('list', { name: 'Requested permissions' }).innerText();
      expect(permissions).toContain('Inventory.Read.All');
      expect(permissions).toContain('Inventory API');
      const atDaemon = page.waitForURL((url) => url.href.startsWith(redirectUri));
      await accept.click();
      await atDaemon;
      const back = new URL(page.url());
      expect(Object.fromEntries(back.searchParams)).toEqual({
        tenant: org.tenantId,
        state: '12345',
        admin_consent: 'True',
      });
      const token = await daemonToken(org.tenantId);
      expect(token.status).toBe(200);
      expect(token.roles).toEqual(['Inventory.Read.All']);
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    "a non-admin's attempt shows a clear page and grants nothing",
    async () => {
      const org = await seedInteractiveScenario(server.directory);
      const page = await newPage();
      await signIn(page, adminConsentUrl(org.tenantId), org.user.userPrincipalName, org.password);
      await page.getByText('Only an administrator of the organization').waitFor();
      expect(page.url().startsWith(server.url)).toBe(true);
      expect(await page.getByRole('button', { name: 'Accept' }).count()).toBe(0);
      expect((await daemonToken(org.tenantId)).status).toBe(400);
    },
    BROWSER_TEST_TIMEOUT_MS,
  );
});
