import {
  cliEnvironment,
  postgresAvailable,
  runTesseraCli,
  seedInteractiveScenario,
  startTestServer,
  TestBrowser,
} from '@tessera/testkit';
import type { BrowserResponse, InteractiveScenario, TestServer } from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAEMON_REDIRECT, seedDaemon, type DaemonScenario } from './support/admin-consent-daemon.js';

// The admin consent endpoint (`/{tenant}/adminconsent`, `/{tenant}/v2.0/adminconsent`): a tenant administrator
// grants a multi-tenant daemon its application permissions and delegated scopes for the whole organization. Every
// refusal is checked at the HTTP level with its exact status and code, and with what it did not grant.
const postgresUp = await postgresAvailable();

describe.each([
  ['SQLite', 'sqlite', true],
  ['PostgreSQL', 'postgres', postgresUp],
] as const)('admin consent endpoint (%s)', (_name, database, available) => {
  let server: TestServer;
  let home: InteractiveScenario;
  let d: DaemonScenario;

  beforeAll(async () => {
    if (!available) return;
    server = await startTestServer({ database });
    home = await seedInteractiveScenario(server.directory);
    d = await seedDaemon(server, home);
  });
  afterAll(async () => {
    if (available) await server.close();
  });

  const origin = () => ({ origin: new URL(server.url).origin });
  const adminConsentUrl = (segment: string, overrides: Record<string, string> = {}, v2 = false) => {
    const query = new URLSearchParams({
      client_id: d.daemonAppId,
      redirect_uri: DAEMON_REDIRECT,
      state: 'st-12345',
      ...(v2 ? { scope: `${d.apiUri}/.default` } : {}),
      ...overrides,
    });
    return `${server.url}/${segment}${v2 ? '/v2.0' : ''}/adminconsent?${query.toString()}`;
  };

  /** A second organization with its own administrator and user (a fresh tenant per test). */
  const customer = () => seedInteractiveScenario(server.directory);

  /** Opens the endpoint and signs in; returns the page after the password (consent page for an admin). */
  async function signIn(browser: TestBrowser, url: string, userName: string, password: string) {
    const page = await browser.get(url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('name="password"');
    return browser.submit(server.url, page, { username: userName, password });
  }

  /** The daemon's client-credentials answer in `tenant`. */
  async function daemonToken(tenant: string): Promise<{ status: number; roles: unknown; body: unknown }> {
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
      body,
    };
  }

  /** What the daemon holds in `tenant`: its service principal's app role assignments and delegated grants. */
  async function grantsIn(tenant: string): Promise<{ roles: number; grants: string[] }> {
    let sp;
    try {
      sp = await server.directory.servicePrincipals.get(tenant, { appId: d.daemonAppId });
    } catch {
      return { roles: 0, grants: [] };
    }
    const roles = await server.directory.grants.listAppRoleAssignmentsOf({ tenant, principalId: sp.id });
    const grants = await server.directory.grants.listPermissionGrantsOf({
      tenant,
      clientId: sp.id,
    });
    return {
      roles: roles.items.length,
      grants: grants.items.map((g) => `${g.consentType} ${g.scope}`),
    };
  }

  function expectErrorPage(page: BrowserResponse, status: number, code: number) {
    expect(page.status).toBe(status);
    expect(page.location).toBeUndefined();
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.body).toContain(`Error code: TSS${code}`);
  }

  it.skipIf(!available)(
    'an admin of a second tenant approves: service principals, app role and AllPrincipals grant, redirect with tenant, state, admin_consent=True',
    async () => {
      const org = await customer();
      expect((await daemonToken(org.tenantId)).status).toBe(400);
      const browser = new TestBrowser();
      const consent = await signIn(
        browser,
        adminConsentUrl(org.tenantId),
        org.admin.userPrincipalName,
        org.password,
      );
      expect(consent.status).toBe(200);
      expect(consent.body).toContain('Permissions requested');
      expect(consent.body).toContain('Inventory.Read.All');
      expect(consent.body).toContain('Inventory API');
      expect(consent.body).not.toContain('consent_organization');
      const back = await browser.submit(server.url, consent, { action: 'consent' }, undefined, origin());
      expect(back.status).toBe(302);
      const location = new URL(back.location ?? '');
      expect(`${location.origin}${location.pathname}`).toBe(DAEMON_REDIRECT);
      expect(Object.fromEntries(location.searchParams)).toEqual({
        tenant: org.tenantId,
        state: 'st-12345',
        admin_consent: 'True',
      });
      const token = await daemonToken(org.tenantId);
      expect(token.status).toBe(200);
      expect(token.roles).toEqual(['Inventory.Read.All']);
      expect(await grantsIn(org.tenantId)).toEqual({ roles: 1, grants: ['AllPrincipals Inventory.Read'] });

      // Replayed decision: the page's step was consumed.
      const replay = await browser.submit(server.url, consent, { action: 'consent' }, undefined, origin());
      expectErrorPage(replay, 400, 9100014);
      const replayDecline = await browser.submit(
        server.url,
        consent,
        { action: 'decline' },
        undefined,
        origin(),
      );
      expectErrorPage(replayDecline, 400, 9100014);
      expect(await grantsIn(org.tenantId)).toEqual({ roles: 1, grants: ['AllPrincipals Inventory.Read'] });
      // The home tenant and other tenants are untouched.
      expect((await daemonToken((await customer()).tenantId)).status).toBe(400);
    },
  );

  it.skipIf(!available)(
    "Origin null with Sec-Fetch-Site same-origin (Chromium's form POST from a no-referrer page) is this site",
    async () => {
      const org = await customer();
      const browser = new TestBrowser();
      const consent = await signIn(
        browser,
        adminConsentUrl(org.tenantId),
        org.admin.userPrincipalName,
        org.password,
      );
      const back = await browser.submit(server.url, consent, { action: 'consent' }, undefined, {
        origin: 'null',
        'sec-fetch-site': 'same-origin',
      });
      expect(back.status).toBe(302);
      expect((await daemonToken(org.tenantId)).roles).toEqual(['Inventory.Read.All']);
    },
  );

  it.skipIf(!available)('common and organizations resolve to the admin tenant after sign-in', async () => {
    for (const segment of ['common', 'organizations']) {
      const org = await customer();
      const browser = new TestBrowser();
      const consent = await signIn(
        browser,
        adminConsentUrl(segment),
        org.admin.userPrincipalName,
        org.password,
      );
      const back = await browser.submit(server.url, consent, { action: 'consent' }, undefined, origin());
      expect(back.status).toBe(302);
      expect(new URL(back.location ?? '').searchParams.get('tenant')).toBe(org.tenantId);
      expect((await daemonToken(org.tenantId)).roles).toEqual(['Inventory.Read.All']);
    }
  });

  it.skipIf(!available)('the v2.0 endpoint takes scope and grants the same', async () => {
    const org = await customer();
    const browser = new TestBrowser();
    const consent = await signIn(
      browser,
      adminConsentUrl(org.tenantId, {}, true),
      org.admin.userPrincipalName,
      org.password,
    );
    const back = await browser.submit(server.url, consent, { action: 'consent' }, undefined, origin());
    expect(back.status).toBe(302);
    expect(new URL(back.location ?? '').searchParams.get('admin_consent')).toBe('True');
    expect((await daemonToken(org.tenantId)).roles).toEqual(['Inventory.Read.All']);
  });

  it.skipIf(!available)('the v2.0 endpoint without scope: 400 900144 error page', async () => {
    const org = await customer();
    const url = adminConsentUrl(org.tenantId, {}, true).replace(/&scope=[^&]*/, '');
    expectErrorPage(await new TestBrowser().get(url), 400, 900144);
  });

  it.skipIf(!available)('refusal redirects with permission_denied and grants nothing', async () => {
    const org = await customer();
    const browser = new TestBrowser();
    const consent = await signIn(
      browser,
      adminConsentUrl(org.tenantId),
      org.admin.userPrincipalName,
      org.password,
    );
    const back = await browser.submit(server.url, consent, { action: 'decline' }, undefined, origin());
    expect(back.status).toBe(302);
    expect(Object.fromEntries(new URL(back.location ?? '').searchParams)).toEqual({
      error: 'permission_denied',
      error_description: 'The admin canceled the request',
      state: 'st-12345',
    });
    expect(await grantsIn(org.tenantId)).toEqual({ roles: 0, grants: [] });
    expect((await daemonToken(org.tenantId)).status).toBe(400);
  });

  it.skipIf(!available)('a non-admin gets a clear 403 page (9100040) and nothing is granted', async () => {
    const org = await customer();
    for (const segment of [org.tenantId, 'common']) {
      const browser = new TestBrowser();
      const page = await signIn(browser, adminConsentUrl(segment), org.user.userPrincipalName, org.password);
      expectErrorPage(page, 403, 9100040);
      expect(page.body).toContain('Only an administrator of the organization');
      expect(page.body).not.toContain('value="consent"');
    }
    expect(await grantsIn(org.tenantId)).toEqual({ roles: 0, grants: [] });
    expect((await daemonToken(org.tenantId)).status).toBe(400);
  });

  it.skipIf(!available)("wrong tenant: another tenant's admin cannot sign in under this tenant", async () => {
    const org = await customer();
    const intruder = await customer();
    const browser = new TestBrowser();
    const page = await signIn(
      browser,
      adminConsentUrl(org.tenantId),
      intruder.admin.userPrincipalName,
      org.password,
    );
    expect(page.status).toBeGreaterThanOrEqual(400);
    expect(page.location).toBeUndefined();
    expect(page.body).toContain('name="password"');
    expect(await grantsIn(org.tenantId)).toEqual({ roles: 0, grants: [] });
    expect(await grantsIn(intruder.tenantId)).toEqual({ roles: 0, grants: [] });
  });

  it.skipIf(!available).each([
    ['an unregistered redirect_uri', 400, 50011, { redirect_uri: 'https://evil.example/permissions' }],
    ['a redirect_uri differing in case', 400, 50011, { redirect_uri: 'https://daemon.example/Permissions' }],
    ['a redirect_uri with an extra query', 400, 50011, { redirect_uri: `${DAEMON_REDIRECT}?x=1` }],
    ['no redirect_uri', 400, 900971, { redirect_uri: '' }],
    ['no client_id', 400, 900144, { client_id: '' }],
    ['an unknown client_id', 400, 700016, { client_id: '00000000-0000-0000-0000-000000000001' }],
  ] as const)('%s: error page %i %i before any sign-in', async (_case, status, code, overrides) => {
    const org = await customer();
    expectErrorPage(await new TestBrowser().get(adminConsentUrl(org.tenantId, overrides)), status, code);
  });

  it.skipIf(!available)('consumers: 400 9100041 error page', async () => {
    expectErrorPage(await new TestBrowser().get(adminConsentUrl('consumers')), 400, 9100041);
  });

  it.skipIf(!available).each([
    ['no anti-CSRF token', 403, 9100013, { csrf_token: '' }, origin],
    ['a wrong anti-CSRF token', 403, 9100013, { csrf_token: 'A'.repeat(43) }, origin],
    ['a cross-origin POST', 403, 9100013, {}, () => ({ origin: 'https://evil.example' })],
    ['a POST without Origin', 403, 9100013, {}, () => ({})],
    ['an Origin of null', 403, 9100013, {}, () => ({ origin: 'null' })],
    [
      'an Origin of null from another site',
      403,
      9100013,
      {},
      () => ({ origin: 'null', 'sec-fetch-site': 'cross-site' }),
    ],
    [
      'a same-origin Sec-Fetch-Site without Origin',
      403,
      9100013,
      {},
      () => ({ 'sec-fetch-site': 'same-origin' }),
    ],
  ] as const)(
    '%s on the consent decision: %i %i, nothing granted',
    async (_case, status, code, fields, headers) => {
      const org = await customer();
      const browser = new TestBrowser();
      const consent = await signIn(
        browser,
        adminConsentUrl(org.tenantId),
        org.admin.userPrincipalName,
        org.password,
      );
      expect(consent.body).toContain('value="consent"');
      const answer = await browser.submit(
        server.url,
        consent,
        { action: 'consent', ...fields },
        undefined,
        headers(),
      );
      expectErrorPage(answer, status, code);
      expect(await grantsIn(org.tenantId)).toEqual({ roles: 0, grants: [] });
      expect((await daemonToken(org.tenantId)).status).toBe(400);
    },
  );

  it.skipIf(!available)(
    'a consent decision of another browser (its cookie) is refused: 403 9100013',
    async () => {
      const org = await customer();
      const browser = new TestBrowser();
      const consent = await signIn(
        browser,
        adminConsentUrl(org.tenantId),
        org.admin.userPrincipalName,
        org.password,
      );
      const attacker = new TestBrowser();
      const answer = await attacker.submit(server.url, consent, { action: 'consent' }, undefined, origin());
      expectErrorPage(answer, 403, 9100013);
      expect(await grantsIn(org.tenantId)).toEqual({ roles: 0, grants: [] });
    },
  );
});

describe('app create declares what admin consent grants (CLI)', () => {
  let server: TestServer;
  let home: InteractiveScenario;
  let d: DaemonScenario;

  beforeAll(async () => {
    server = await startTestServer();
    home = await seedInteractiveScenario(server.directory);
    d = await seedDaemon(server, home);
  });
  afterAll(async () => {
    await server.close();
  });

  const cli = (args: readonly string[]) =>
    runTesseraCli([...args, '--data', server.dataDir, '--json'], { env: cliEnvironment() });

  it('--required-role RESOURCE=VALUE and --admin-scope VALUE, through the directory service', async () => {
    const result = await cli([
      'app',
      'create',
      '--tenant',
      home.tenantId,
      '--name',
      'CLI Daemon',
      '--multi-tenant',
      '--redirect-uri',
      'web=https://cli-daemon.example/permissions',
      '--required-role',
      `${d.apiUri}=Inventory.Read.All`,
      '--required-scope',
      `${d.apiUri}=Inventory.Read`,
      '--admin-scope',
      'Reports.Admin',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const created = JSON.parse(result.stdout) as {
      appId: string;
      requiredResourceAccess: { resourceAppId: string; resourceAccess: { id: string; type: string }[] }[];
      api: { oauth2PermissionScopes: { value: string; type: string }[] };
    };
    const api = await server.directory.applications.get(home.tenantId, { appId: d.apiAppId });
    const role = api.appRoles.find((r) => r.value === 'Inventory.Read.All');
    const scope = api.api.oauth2PermissionScopes.find((x) => x.value === 'Inventory.Read');
    expect(created.requiredResourceAccess).toEqual([
      {
        resourceAppId: d.apiAppId,
        resourceAccess: [
          { id: role?.id, type: 'Role' },
          { id: scope?.id, type: 'Scope' },
        ],
      },
    ]);
    expect(created.api.oauth2PermissionScopes.map((x) => [x.value, x.type])).toEqual([
      ['Reports.Admin', 'Admin'],
    ]);
  });

  it.each([
    [
      'an app role the resource does not have',
      'Inventory.Write.All',
      'not_found',
      "The resource 'Inventory API' has no app role 'Inventory.Write.All'.",
    ],
  ] as const)(
    '--required-role with %s: exit 1, %s, nothing registered',
    async (_case, value, code, message) => {
      const result = await cli([
        'app',
        'create',
        '--tenant',
        home.tenantId,
        '--name',
        'Bad Daemon',
        '--required-role',
        `${d.apiUri}=${value}`,
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({ error: { code, message } });
      const listed = await server.directory.applications.list({ tenant: home.tenantId, top: 999 });
      expect(listed.items.map((a) => a.displayName)).not.toContain('Bad Daemon');
    },
  );
});
