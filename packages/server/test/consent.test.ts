import type { OAuth2PermissionGrant } from '@tessera/server';
import { seedInteractiveScenario, startInteractiveServer, TestBrowser } from '@tessera/testkit';
import type { BrowserResponse, InteractiveScenario, TestServer } from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Delegated consent in the Graph model, through the sign-in UI: admin consent for the organization, combined
// consent via knownClientApplications, preAuthorizedApplications, multi-tenant apps, admin-only scopes and
// incremental consent — each checked on the page the user sees and on the oauth2PermissionGrant rows written.
let server: TestServer;
let s: InteractiveScenario;
/** A second tenant (its user is "bob" here). */
let other: InteractiveScenario;
const apps: Record<string, { appId: string; redirectUri: string; identifierUri?: string; secret?: string }> =
  {};

async function register(
  name: string,
  extra: Parameters<TestServer['directory']['applications']['create']>[0],
) {
  const { application } = await server.directory.applications.create(extra);
  apps[name] = {
    appId: application.appId,
    redirectUri: `https://${name}.example/cb`,
    ...(application.identifierUris[0] === undefined ? {} : { identifierUri: application.identifierUris[0] }),
  };
  return application.appId;
}
const webClient = (name: string, audience?: 'AzureADMultipleOrgs') =>
  register(name, {
    tenant: s.tenantId,
    displayName: `Client ${name}`,
    redirectUris: { web: [`https://${name}.example/cb`] },
    ...(audience === undefined ? {} : { signInAudience: audience }),
  });

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer());
  other = await seedInteractiveScenario(server.directory);
  await webClient('org');
  const combined = await webClient('combined');
  await webClient('plain');
  await register('middle', {
    tenant: s.tenantId,
    displayName: 'Middle API',
    identifierUris: [`api://${s.domain}/middle`],
    scopes: ['Middle.Access'],
    knownClientApplications: [combined],
    requiredScopes: [{ resource: s.api.identifierUri, scopes: ['Files.Read'] }],
  });
  const trusted = await webClient('trusted');
  await register('pre', {
    tenant: s.tenantId,
    displayName: 'Pre API',
    identifierUris: [`api://${s.domain}/pre`],
    scopes: ['Pre.Read', 'Pre.Write'],
    preAuthorizedApplications: [{ appId: trusted, scopes: ['Pre.Read'] }],
  });
  await webClient('incremental');
  const secret = await server.directory.credentials.addPassword({ appId: apps.incremental?.appId ?? '' });
  apps.incremental = { ...(apps.incremental ?? { appId: '', redirectUri: '' }), secret: secret.secretText };
  await register('inc', {
    tenant: s.tenantId,
    displayName: 'Incremental API',
    identifierUris: [`api://${s.domain}/inc`],
    scopes: ['A.Read', 'A.Write'],
    requestedAccessTokenVersion: 2,
  });
  await webClient('multi', 'AzureADMultipleOrgs');
  await webClient('single');
});
afterAll(() => server.close());

const app = (name: string) => {
  const found = apps[name];
  if (found === undefined) throw new Error(`no app ${name}`);
  return found;
};
const scopeOf = (api: string, ...values: string[]) =>
  values.map((v) => `${app(api).identifierUri ?? ''}/${v}`).join(' ');

function authorize(
  client: string,
  scope: string,
  extra: Record<string, string> = {},
  tenant = s.tenantId,
): string {
  const params = new URLSearchParams({
    client_id: app(client).appId,
    response_type: 'code',
    redirect_uri: app(client).redirectUri,
    scope,
    state: 'st',
    ...extra,
  });
  return `${server.url}/${tenant}/oauth2/v2.0/authorize?${params.toString()}`;
}

/** Opens the authorization URL in `browser` and signs in; returns the page after the password (no consent given). */
async function signIn(browser: TestBrowser, url: string, userName: string, password = s.password) {
  const page = await browser.get(url);
  expect(page.body).toContain('name="password"');
  return browser.submit(server.url, page, { username: userName, password });
}

/** The permissions a consent page lists, as `displayName · resource`. */
function consentItems(page: BrowserResponse): string[] {
  expect(page.status).toBe(200);
  expect(page.body).toContain('value="consent"');
  return [
    ...page.body.matchAll(
      /<li><strong>([^<]*)(?:<span class="tag">Admin<\/span>)?<\/strong><span>(?:[^<]*· )?([^<]*)<\/span><\/li>/g,
    ),
  ].map((m) => `${m[1] ?? ''} · ${m[2] ?? ''}`);
}

function codeOf(page: BrowserResponse, client: string): string {
  expect(page.status).toBe(302);
  const location = new URL(page.location ?? '');
  expect(`${location.origin}${location.pathname}`).toBe(app(client).redirectUri);
  const code = location.searchParams.get('code');
  expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return code ?? '';
}

async function grants(tenantId: string, client: string, resource: string): Promise<OAuth2PermissionGrant[]> {
  const store = server.directory.store;
  const [clientSp, resourceSp] = await Promise.all([
    store.servicePrincipals.find(tenantId, app(client).appId),
    store.servicePrincipals.find(tenantId, resource.includes('-') ? resource : app(resource).appId),
  ]);
  if (clientSp === undefined || resourceSp === undefined) return [];
  return store.permissionGrants.listBetween(clientSp.id, resourceSp.id);
}
const shape = (list: readonly OAuth2PermissionGrant[]) =>
  list.map((g) => ({ consentType: g.consentType, principalId: g.principalId, scope: g.scope }));

describe('consent', () => {
  it('an administrator consents on behalf of the organization (AllPrincipals); then users are not asked', async () => {
    const page = await signIn(
      new TestBrowser(),
      authorize('org', `${s.api.identifierUri}/Files.Read`),
      s.admin.userPrincipalName,
    );
    expect(consentItems(page)).toEqual(['Read your files · Files API']);
    expect(page.body).toContain('name="consent_organization" value="true"');
    const back = await new TestBrowser().submit(server.url, page, {
      action: 'consent',
      consent_organization: 'true',
    });
    // The form is bound to the admin's browser (anti-CSRF): another browser cannot submit it.
    expect([back.status, back.body.includes('Error code: TSS9100013')]).toEqual([403, true]);
    const adminBrowser = new TestBrowser();
    const again = await signIn(
      adminBrowser,
      authorize('org', `${s.api.identifierUri}/Files.Read`),
      s.admin.userPrincipalName,
    );
    codeOf(
      await adminBrowser.submit(server.url, again, { action: 'consent', consent_organization: 'true' }),
      'org',
    );
    expect(shape(await grants(s.tenantId, 'org', s.api.appId))).toEqual([
      { consentType: 'AllPrincipals', principalId: null, scope: 'Files.Read' },
    ]);
    codeOf(
      await signIn(
        new TestBrowser(),
        authorize('org', `${s.api.identifierUri}/Files.Read`),
        s.user.userPrincipalName,
      ),
      'org',
    );
  });

  it('knownClientApplications: one combined consent for the client and the API it calls', async () => {
    const browser = new TestBrowser();
    const page = await signIn(
      browser,
      authorize('combined', scopeOf('middle', 'Middle.Access')),
      s.user.userPrincipalName,
    );
    expect(consentItems(page)).toEqual(['Middle.Access · Middle API', 'Read your files · Files API']);
    codeOf(await browser.submit(server.url, page, { action: 'consent' }), 'combined');
    expect(shape(await grants(s.tenantId, 'combined', 'middle'))).toEqual([
      { consentType: 'Principal', principalId: s.user.id, scope: 'Middle.Access' },
    ]);
    expect(shape(await grants(s.tenantId, 'middle', s.api.appId))).toEqual([
      { consentType: 'Principal', principalId: s.user.id, scope: 'Files.Read' },
    ]);
    codeOf(await browser.get(authorize('combined', scopeOf('middle', 'Middle.Access'))), 'combined');
    // A client the API does not list is asked for the API's scope only.
    const plain = await signIn(
      new TestBrowser(),
      authorize('plain', scopeOf('middle', 'Middle.Access')),
      s.admin.userPrincipalName,
    );
    expect(consentItems(plain)).toEqual(['Middle.Access · Middle API']);
  });

  it('preAuthorizedApplications: the trusted client is never asked for those scopes, others are', async () => {
    const browser = new TestBrowser();
    codeOf(
      await signIn(browser, authorize('trusted', scopeOf('pre', 'Pre.Read')), s.user.userPrincipalName),
      'trusted',
    );
    expect(await grants(s.tenantId, 'trusted', 'pre')).toEqual([]);
    const more = await browser.get(authorize('trusted', scopeOf('pre', 'Pre.Read', 'Pre.Write')));
    expect(consentItems(more)).toEqual(['Pre.Write · Pre API']);
    const untrusted = await signIn(
      new TestBrowser(),
      authorize('plain', scopeOf('pre', 'Pre.Read')),
      s.user.userPrincipalName,
    );
    expect(consentItems(untrusted)).toEqual(['Pre.Read · Pre API']);
  });

  it('a multi-tenant app gets a service principal in the user’s tenant at consent; a single-tenant app is refused (700016)', async () => {
    const store = server.directory.store;
    expect(await store.servicePrincipals.find(other.tenantId, app('multi').appId)).toBeUndefined();
    const browser = new TestBrowser();
    const page = await signIn(
      browser,
      authorize('multi', 'openid profile', {}, other.tenantId),
      other.user.userPrincipalName,
    );
    expect(consentItems(page).length).toBe(2);
    const back = await browser.submit(server.url, page, { action: 'consent' });
    codeOf(back, 'multi');
    expect(new URL(back.location ?? '').searchParams.get('iss')).toBe(`${server.url}/${other.tenantId}/v2.0`);
    const sp = await store.servicePrincipals.find(other.tenantId, app('multi').appId);
    expect(sp).toMatchObject({ appId: app('multi').appId, tenantId: other.tenantId });
    expect(shape(await grants(other.tenantId, 'multi', '00000003-0000-0000-c000-000000000000'))).toEqual([
      { consentType: 'Principal', principalId: other.user.id, scope: 'openid profile' },
    ]);

    const refused = await signIn(
      new TestBrowser(),
      authorize('single', 'openid', {}, other.tenantId),
      other.user.userPrincipalName,
    );
    const fields = new URL(refused.location ?? '').searchParams;
    expect([fields.get('error'), fields.get('error_description')?.split('\r\n')[0]]).toEqual([
      'unauthorized_client',
      `TSS700016: Application with identifier '${app('single').appId}' was not found in the directory '${other.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
    ]);
    expect(await store.servicePrincipals.find(other.tenantId, app('single').appId)).toBeUndefined();
  });

  const adminScopeCases: [string, () => string, 'refused' | 'consent'][] = [
    ['a user', () => s.user.userPrincipalName, 'refused'],
    ['an administrator', () => s.admin.userPrincipalName, 'consent'],
  ];
  it.each(adminScopeCases)('admin-only scope (type Admin) for %s', async (_name, userName, outcome) => {
    const browser = new TestBrowser();
    const page = await signIn(browser, authorize('plain', `${s.api.identifierUri}/Files.Admin`), userName());
    if (outcome === 'refused') {
      expect(page.status).toBe(302);
      const fields = new URL(page.location ?? '').searchParams;
      expect([fields.get('error'), fields.get('error_description')?.split('\r\n')[0]]).toEqual([
        'access_denied',
        `TSS90094: Administrator consent is required for: Files.Admin. Ask an administrator of your organization to grant it.`,
      ]);
      return;
    }
    expect(page.body).toContain('<span class="tag">Admin</span>');
    expect(consentItems(page)).toEqual(['Administer all files · Files API']);
    codeOf(await browser.submit(server.url, page, { action: 'consent' }), 'plain');
  });

  it('incremental consent: a second scope is added to the same grant (not a second one); a user cannot consent for the organization', async () => {
    const browser = new TestBrowser();
    const first = await signIn(
      browser,
      authorize('incremental', scopeOf('inc', 'A.Read')),
      s.user.userPrincipalName,
    );
    expect(consentItems(first)).toEqual(['A.Read · Incremental API']);
    expect(first.body).not.toContain('consent_organization');
    // A forged "for the organization" from a non-admin (the page did not offer it) is refused; nothing is recorded.
    const forged = await browser.submit(server.url, first, {
      action: 'consent',
      consent_organization: 'true',
    });
    expect(forged.status).toBe(400);
    expect(forged.location).toBeUndefined();
    expect(forged.body).toContain('Error code: TSS9100022');
    expect(forged.body).toContain(
      'The sign-in page did not offer this choice. Go back to the application and sign in again.',
    );
    expect(await grants(s.tenantId, 'incremental', 'inc')).toEqual([]);
    codeOf(await browser.submit(server.url, first, { action: 'consent' }), 'incremental');
    const before = await grants(s.tenantId, 'incremental', 'inc');
    expect(shape(before)).toEqual([{ consentType: 'Principal', principalId: s.user.id, scope: 'A.Read' }]);

    const second = await browser.get(authorize('incremental', scopeOf('inc', 'A.Read', 'A.Write')));
    expect(consentItems(second)).toEqual(['A.Write · Incremental API']);
    const code = codeOf(await browser.submit(server.url, second, { action: 'consent' }), 'incremental');
    const after = await grants(s.tenantId, 'incremental', 'inc');
    expect(shape(after)).toEqual([
      { consentType: 'Principal', principalId: s.user.id, scope: 'A.Read A.Write' },
    ]);
    expect(after[0]?.id).toBe(before[0]?.id);

    const response = await fetch(`${server.url}/${s.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: app('incremental').appId,
        client_secret: app('incremental').secret ?? '',
        code,
        redirect_uri: app('incremental').redirectUri,
      }),
    });
    const body = (await response.json()) as { access_token: string };
    expect(decodeJwt(body.access_token).scp).toBe('A.Read A.Write');
    codeOf(await browser.get(authorize('incremental', scopeOf('inc', 'A.Write', 'A.Read'))), 'incremental');
  });
});
