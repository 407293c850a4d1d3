import { X509Certificate, createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DIRECTORY_APP_ID,
  DirectoryError,
  createSelfSignedKey,
  type Application,
  type Directory,
  type DirectoryStore,
  type User,
} from '@tessera/server';

/** App ID URI of the Todo API (its `aud` in v2 tokens is its appId; clients ask for `{uri}/access_as_user`). */
export const TODO_API_URI = 'api://contoso.test/todo';
/** The Todo API's delegated scope the SPA asks for. */
export const ACCESS_AS_USER = 'access_as_user';
/** The Todo API's application permission the report daemon holds. */
export const TODOS_READ_ALL = 'Todos.Read.All';
/** The Todo API's app role for users allowed to moderate the team chat. */
export const TODO_MODERATOR = 'Todo.Moderator';
/** The directory API's delegated scope the Todo API asks for On-Behalf-Of the user (`/v1.0/me`). */
export const USER_READ = 'User.Read';

/** A seeded tenant. */
export interface DemoTenant {
  readonly id: string;
  readonly domain: string;
  readonly displayName: string;
}

/** A seeded user: its sign-in name and the password generated for it. */
export interface DemoUser {
  readonly key: 'contosoAdmin' | 'alice' | 'bob' | 'fabrikamAdmin' | 'carol';
  readonly id: string;
  readonly tenant: 'contoso' | 'fabrikam';
  readonly userPrincipalName: string;
  readonly displayName: string;
  /** Development only: generated once per data directory and kept in `demo/scenario.json` (mode 0600). */
  readonly password: string;
  /** What the user is in the scenario (printed beside the name). */
  readonly role: string;
}

/**
 * Everything the demo seeded, kept in `<dataDir>/demo/scenario.json` (mode 0600, development only: it holds the
 * demo users' passwords and the Todo API's client secret) so that later starts reuse it.
 */
export interface DemoScenario {
  readonly version: 1;
  readonly contoso: DemoTenant;
  readonly fabrikam: DemoTenant;
  readonly users: readonly DemoUser[];
  /** The middle tier: validates `access_as_user`, calls the directory API On-Behalf-Of the user. */
  readonly todoApi: {
    readonly appId: string;
    readonly identifierUri: string;
    /** Client secret of the Todo API (its credential for On-Behalf-Of), shown once by the directory. */
    readonly secret: string;
  };
  /** The single-page app (spa platform: code + PKCE, cross-origin redemption). */
  readonly spa: { readonly appId: string };
  /** The multi-tenant report daemon (client credentials with a certificate). */
  readonly daemon: {
    readonly appId: string;
    /** Hex SHA-256 thumbprint of its certificate, as MSAL's `thumbprintSha256` takes it. */
    readonly thumbprintSha256: string;
    readonly certificateFile: string;
    readonly privateKeyFile: string;
  };
  /** Alice's authenticator, once registered (the step-up seed). */
  readonly totp?: TotpEnrolment;
}

/** A user's TOTP authenticator (RFC 6238), as the demo prints it. */
export interface TotpEnrolment {
  readonly userPrincipalName: string;
  /** Base32 secret to type into an authenticator app (development only). */
  readonly secret: string;
  /** The `otpauth://` URI an authenticator app scans. */
  readonly otpauthUri: string;
}

/** What a start of the demo did to the directory. */
export interface SeedReport {
  readonly scenario: DemoScenario;
  /** Objects created by this start (empty on a seeded data directory). */
  readonly created: readonly string[];
  /** Objects changed to match this start's origins (redirect URIs after a port change). */
  readonly updated: readonly string[];
}

/** The origins the seeded apps must name. */
export interface SeedOrigins {
  /** Origin of the demo web site (the SPA's redirect URIs, the daemon's admin consent redirect). */
  readonly web: string;
}

/** The SPA's redirect URIs on `web`: its sign-in callback and its root (oidc-client-ts silent renew). */
export function spaRedirectUris(web: string): string[] {
  return [`${web}/authentication/login-callback`, `${web}/`];
}

/** The daemon's web redirect URI, where `/adminconsent` sends the administrator back. */
export function adminConsentRedirectUri(web: string): string {
  return `${web}/adminconsent/callback`;
}

type Partial1<T> = { -readonly [K in keyof T]?: T[K] };
type Draft = Partial1<Omit<DemoScenario, 'users'>> & { users: DemoUser[] };

const USERS: readonly Omit<DemoUser, 'id' | 'password' | 'userPrincipalName'>[] = [
  {
    key: 'contosoAdmin',
    tenant: 'contoso',
    displayName: 'Contoso Admin',
    role: 'Global Administrator of contoso',
  },
  { key: 'alice', tenant: 'contoso', displayName: 'Alice Adams', role: 'user, chat moderator (app role)' },
  { key: 'bob', tenant: 'contoso', displayName: 'Bob Baker', role: 'user' },
  {
    key: 'fabrikamAdmin',
    tenant: 'fabrikam',
    displayName: 'Fabrikam Admin',
    role: 'Global Administrator of fabrikam (grants admin consent)',
  },
  { key: 'carol', tenant: 'fabrikam', displayName: 'Carol Clark', role: 'user' },
];

const USER_NAMES: Readonly<Record<DemoUser['key'], string>> = {
  contosoAdmin: 'admin',
  alice: 'alice',
  bob: 'bob',
  fabrikamAdmin: 'admin',
  carol: 'carol',
};

/** A password of 16 characters from 12 random bytes: easy to copy, far beyond guessing. */
function newPassword(): string {
  return `Demo-${randomBytes(12).toString('base64url')}`;
}

/**
 * Seeds the demo scenario through the directory services, idempotently: each object is looked up first (tenants by
 * domain, users by UPN, the Todo API by App ID URI, the SPA and the daemon by the ids kept in
 * `demo/scenario.json`) and created only when missing, and the file is written after every creation, so a start
 * interrupted half-way resumes where it stopped. A later start creates nothing and keeps every object; only the
 * redirect URIs are brought in line with the current web origin.
 *
 * Seeds: tenants `contoso.test` and `fabrikam.test` with their administrators and users; the Todo API
 * (multi-tenant, v2 tokens, scope `access_as_user`, application permission `Todos.Read.All`, user role
 * `Todo.Moderator` assigned to Alice, a client secret, and the directory API's `User.Read` as its static
 * permission, consented for contoso); the Todo SPA (spa platform, consented for contoso, a known client of the
 * Todo API); the report daemon (multi-tenant, a certificate, `Todos.Read.All` required and granted in contoso only:
 * fabrikam's administrator grants it through `/adminconsent`).
 *
 * @throws DirectoryError when the directory refuses a write (e.g. a domain taken by another tenant).
 */
export async function seedScenario(
  directory: Directory,
  store: DirectoryStore,
  dataDir: string,
  origins: SeedOrigins,
): Promise<SeedReport> {
  const dir = join(dataDir, 'demo');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = scenarioFile(dataDir);
  const draft: Draft = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Draft) : { users: [] };
  const created: string[] = [];
  const updated: string[] = [];
  const save = () => {
    // Written whole then renamed, so a crash never leaves half a file.
    writeFileSync(`${file}.tmp`, `${JSON.stringify({ ...draft, version: 1 }, null, 2)}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  };
  const note = (what: string) => {
    created.push(what);
    save();
  };

  for (const [key, domain, displayName] of [
    ['contoso', 'contoso.test', 'Contoso'],
    ['fabrikam', 'fabrikam.test', 'Fabrikam'],
  ] as const) {
    const existing = await store.tenants.find(domain);
    const tenant = existing ?? (await directory.tenants.create({ displayName, domains: [domain] }));
    draft[key] = { id: tenant.id, domain, displayName: tenant.displayName };
    if (existing === undefined) note(`tenant ${domain}`);
  }
  const tenants = { contoso: draft.contoso, fabrikam: draft.fabrikam };

  for (const spec of USERS) {
    const tenant = tenants[spec.tenant];
    if (tenant === undefined) throw new Error('tenant not seeded');
    const upn = `${USER_NAMES[spec.key]}@${tenant.domain}`;
    const kept = draft.users.find((u) => u.key === spec.key);
    const existing = await store.users.findByUpn(upn);
    if (existing !== undefined) {
      if (kept === undefined) {
        // Created by an interrupted start that could not record its password: the account is kept as it is.
        draft.users.push({ ...spec, id: existing.id, userPrincipalName: upn, password: '(unknown)' });
        save();
      }
      continue;
    }
    const password = newPassword();
    const user: User = await directory.users.create({
      tenant: tenant.id,
      userPrincipalName: upn,
      password,
      displayName: spec.displayName,
      admin: spec.key === 'contosoAdmin' || spec.key === 'fabrikamAdmin',
    });
    draft.users = [
      ...draft.users.filter((u) => u.key !== spec.key),
      { ...spec, id: user.id, userPrincipalName: upn, password },
    ];
    note(`user ${upn}`);
  }
  const contoso = tenants.contoso;
  if (contoso === undefined) throw new Error('tenant not seeded');
  const contosoAdmin = draft.users.find((u) => u.key === 'contosoAdmin');
  if (contosoAdmin === undefined) throw new Error('administrator not seeded');

  // The Todo API: the middle tier.
  let todoApiAppId = await store.applications.findAppIdByIdentifierUri(TODO_API_URI);
  if (todoApiAppId === undefined) {
    const api = await directory.applications.create({
      tenant: contoso.id,
      displayName: 'Todo API',
      identifierUris: [TODO_API_URI],
      scopes: [ACCESS_AS_USER],
      appRoles: [TODOS_READ_ALL],
      userRoles: [TODO_MODERATOR],
      signInAudience: 'AzureADMultipleOrgs',
      requestedAccessTokenVersion: 2,
      requiredScopes: [{ resource: DIRECTORY_APP_ID, scopes: [USER_READ] }],
    });
    todoApiAppId = api.application.appId;
    draft.todoApi = { appId: todoApiAppId, identifierUri: TODO_API_URI, secret: '' };
    note('application Todo API');
  }
  if (draft.todoApi?.appId !== todoApiAppId || draft.todoApi.secret === '') {
    const secret = await directory.credentials.addPassword({
      appId: todoApiAppId,
      displayName: 'On-Behalf-Of',
    });
    draft.todoApi = { appId: todoApiAppId, identifierUri: TODO_API_URI, secret: secret.secretText };
    note('client secret of the Todo API');
  }

  // The Todo SPA.
  const spa = await keptApplication(store, draft.spa?.appId);
  let spaAppId = spa?.appId;
  if (spaAppId === undefined) {
    const created = await directory.applications.create({
      tenant: contoso.id,
      displayName: 'Todo SPA',
      redirectUris: { spa: spaRedirectUris(origins.web) },
      requiredScopes: [{ resource: todoApiAppId, scopes: [ACCESS_AS_USER] }],
    });
    spaAppId = created.application.appId;
    draft.spa = { appId: spaAppId };
    note('application Todo SPA');
  } else if (!sameList(spa?.spa.redirectUris, spaRedirectUris(origins.web))) {
    await directory.applications.update(spaAppId, () => ({
      spa: { redirectUris: spaRedirectUris(origins.web) },
    }));
    updated.push('redirect URIs of the Todo SPA');
  }
  const todoApi = await directory.applications.require(todoApiAppId);
  if (!todoApi.api.knownClientApplications.includes(spaAppId)) {
    // Combined consent: consenting to the SPA also covers the Todo API's own permissions (seed 001).
    await directory.applications.update(todoApiAppId, (current) => ({
      api: { ...current.api, knownClientApplications: [...current.api.knownClientApplications, spaAppId] },
    }));
    note('the Todo SPA as a known client of the Todo API');
  }

  // The report daemon.
  const daemon = await keptApplication(store, draft.daemon?.appId);
  let daemonAppId = daemon?.appId;
  if (daemonAppId === undefined || draft.daemon === undefined) {
    const certificate = await createSelfSignedKey('RS256', 'CN=Tessera demo report daemon', 825);
    const registered = await directory.applications.create({
      tenant: contoso.id,
      displayName: 'Report Daemon',
      signInAudience: 'AzureADMultipleOrgs',
      redirectUris: { web: [adminConsentRedirectUri(origins.web)] },
      requiredRoles: [{ resource: todoApiAppId, roles: [TODOS_READ_ALL] }],
    });
    daemonAppId = registered.application.appId;
    await directory.credentials.addCertificate({
      appId: daemonAppId,
      certificatePem: certificate.certificatePem,
    });
    const certificateFile = join(dir, 'daemon-cert.pem');
    const privateKeyFile = join(dir, 'daemon-key.pem');
    writeFileSync(certificateFile, certificate.certificatePem, { mode: 0o644 });
    writeFileSync(
      privateKeyFile,
      createPrivateKey({ key: certificate.privateKeyPkcs8, format: 'der', type: 'pkcs8' })
        .export({ format: 'pem', type: 'pkcs8' })
        .toString(),
      { mode: 0o600 },
    );
    draft.daemon = {
      appId: daemonAppId,
      thumbprintSha256: createHash('sha256')
        .update(new X509Certificate(certificate.certificatePem).raw)
        .digest('hex'),
      certificateFile,
      privateKeyFile,
    };
    note('application Report Daemon with its certificate');
  } else if (!sameList(daemon?.web.redirectUris, [adminConsentRedirectUri(origins.web)])) {
    await directory.applications.update(daemonAppId, (current) => ({
      web: { ...current.web, redirectUris: [adminConsentRedirectUri(origins.web)] },
    }));
    updated.push('admin consent redirect URI of the Report Daemon');
  }

  // Grants in contoso (fabrikam's are its administrator's to give, on the admin consent page).
  if (!(await hasAppRole(directory, contoso.id, daemonAppId, todoApiAppId, TODOS_READ_ALL))) {
    await directory.grants.grantAppRole({
      tenant: contoso.id,
      clientAppId: daemonAppId,
      resource: todoApiAppId,
      role: TODOS_READ_ALL,
    });
    note(`${TODOS_READ_ALL} for the Report Daemon in contoso`);
  }
  const alice = draft.users.find((u) => u.key === 'alice');
  if (
    alice !== undefined &&
    !(await hasUserRole(directory, contoso.id, alice.id, todoApiAppId, TODO_MODERATOR))
  ) {
    await directory.grants.assignAppRoleToUser({
      tenant: contoso.id,
      userPrincipalName: alice.userPrincipalName,
      resource: todoApiAppId,
      role: TODO_MODERATOR,
    });
    note(`${TODO_MODERATOR} for ${alice.userPrincipalName}`);
  }
  // On-Behalf-Of requests name the OIDC scopes beside User.Read (MSAL adds `openid profile offline_access`), and
  // the directory API publishes them as its own delegated scopes: the consent covers them, as Entra's does.
  for (const [clientAppId, resourceAppId, scopes, what] of [
    [spaAppId, todoApiAppId, [ACCESS_AS_USER], 'the Todo SPA'],
    [spaAppId, DIRECTORY_APP_ID, ['openid', 'profile', 'offline_access'], 'the Todo SPA (sign-in)'],
    [
      todoApiAppId,
      DIRECTORY_APP_ID,
      ['openid', 'profile', 'offline_access', USER_READ],
      'the Todo API (On-Behalf-Of)',
    ],
  ] as const) {
    if (await hasOrganizationConsent(directory, contoso.id, clientAppId, resourceAppId, scopes)) continue;
    await directory.grants.recordConsent({
      tenantId: contoso.id,
      userId: contosoAdmin.id,
      forOrganization: true,
      items: [{ clientAppId, resourceAppId, scopes }],
    });
    note(`admin consent to ${scopes.join(' ')} for ${what} in contoso`);
  }
  if (created.length > 0 || updated.length > 0) save();
  return { scenario: { ...draft, version: 1 } as DemoScenario, created, updated };
}

/** The path of the scenario record of a data directory. */
export function scenarioFile(dataDir: string): string {
  return join(dataDir, 'demo', 'scenario.json');
}

/** Records Alice's authenticator in the scenario record, so later starts print it again. */
export function recordTotp(dataDir: string, totp: TotpEnrolment): DemoScenario {
  const file = scenarioFile(dataDir);
  const scenario = { ...(JSON.parse(readFileSync(file, 'utf8')) as DemoScenario), totp };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(scenario, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return scenario;
}

async function keptApplication(
  store: DirectoryStore,
  appId: string | undefined,
): Promise<Application | undefined> {
  return appId === undefined ? undefined : store.applications.findByAppId(appId);
}

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((value, i) => value === b[i]);
}

async function servicePrincipalId(
  directory: Directory,
  tenant: string,
  appId: string,
): Promise<string | undefined> {
  try {
    return (await directory.servicePrincipals.get(tenant, { appId })).id;
  } catch (error) {
    if (error instanceof DirectoryError && error.code === 'not_found') return undefined;
    throw error;
  }
}

async function appRoleId(
  directory: Directory,
  resourceAppId: string,
  value: string,
): Promise<string | undefined> {
  return (await directory.applications.require(resourceAppId)).appRoles.find((r) => r.value === value)?.id;
}

async function hasAppRole(
  directory: Directory,
  tenant: string,
  clientAppId: string,
  resourceAppId: string,
  role: string,
): Promise<boolean> {
  const principal = await servicePrincipalId(directory, tenant, clientAppId);
  return principal !== undefined && (await holdsRole(directory, tenant, principal, resourceAppId, role));
}

async function hasUserRole(
  directory: Directory,
  tenant: string,
  userId: string,
  resourceAppId: string,
  role: string,
): Promise<boolean> {
  return holdsRole(directory, tenant, userId, resourceAppId, role);
}

async function holdsRole(
  directory: Directory,
  tenant: string,
  principalId: string,
  resourceAppId: string,
  role: string,
): Promise<boolean> {
  const resource = await servicePrincipalId(directory, tenant, resourceAppId);
  const roleId = await appRoleId(directory, resourceAppId, role);
  if (resource === undefined || roleId === undefined) return false;
  const page = await directory.grants.listAppRoleAssignedTo({ tenant, resourceId: resource, top: 999 });
  return page.items.some((a) => a.principalId === principalId && a.appRoleId === roleId);
}

async function hasOrganizationConsent(
  directory: Directory,
  tenant: string,
  clientAppId: string,
  resourceAppId: string,
  scopes: readonly string[],
): Promise<boolean> {
  const client = await servicePrincipalId(directory, tenant, clientAppId);
  const resource = await servicePrincipalId(directory, tenant, resourceAppId);
  if (client === undefined || resource === undefined) return false;
  const page = await directory.grants.listPermissionGrantsOf({ tenant, clientId: client, top: 999 });
  return page.items.some(
    (g) =>
      g.resourceId === resource &&
      g.consentType === 'AllPrincipals' &&
      scopes.every((scope) => g.scope.split(' ').includes(scope)),
  );
}
