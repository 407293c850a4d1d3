import { randomBytes } from 'node:crypto';
import { DIRECTORY_APP_ID } from '../directory/builtin-directory-app.js';
import type { Directory } from '../directory/directory.js';
import type { Tenant } from '../directory/model.js';

/**
 * The redirect URI of the administration client: `http` on the loopback host, any port (RFC 8252 §7.3), as
 * native tools (MSAL's interactive flows, the Azure CLI) listen on a free local port for the code.
 */
export const ADMIN_CLIENT_REDIRECT_URI = 'http://localhost';

/**
 * The directory API's delegated permissions the administration client is consented to for the first
 * administrator: enough to manage users, applications, service principals, grants and read the audit logs. Each
 * request still needs the signed-in user's directory role (docs/management-api.md, permissions).
 */
export const ADMIN_CLIENT_SCOPES = [
  'User.Read',
  'User.ReadWrite.All',
  'Directory.ReadWrite.All',
  'Application.ReadWrite.All',
  'AppRoleAssignment.ReadWrite.All',
  'DelegatedPermissionGrant.ReadWrite.All',
  'AuditLog.Read.All',
] as const;

/** Bytes of randomness in a generated administrator password (144 bits; 24 base64url characters). */
const PASSWORD_BYTES = 18;

/** What {@link bootstrapTenant} created. The password exists only here: it is stored as an argon2id hash. */
export interface BootstrapResult {
  readonly tenant: Tenant;
  readonly administrator: {
    readonly id: string;
    readonly userPrincipalName: string;
    /** Generated; print it once and forget it. */
    readonly password: string;
  };
  /**
   * The administration client: a public client (no secret) with the loopback redirect
   * {@link ADMIN_CLIENT_REDIRECT_URI}, signing in with the authorization code flow and PKCE (RFC 7636).
   */
  readonly adminClient: { readonly appId: string; readonly redirectUri: string; readonly scopes: string[] };
}

/**
 * Creates a tenant with its first Global Administrator, whose strong password is generated here and returned
 * once (never logged, stored only as an argon2id hash), and an administration client through which that
 * administrator obtains delegated tokens for `https://graph.microsoft.com`: a public client with a loopback
 * redirect and PKCE, consented (`Principal`, for the administrator only) to {@link ADMIN_CLIENT_SCOPES}. A public
 * client needs no secret to print or keep, and its tokens act as the signed-in administrator, so the directory
 * roles and the audit log apply to them as to any user.
 *
 * @param adminUserPrincipalName default `admin@{first domain}`.
 * @throws DirectoryError `invalid` (a bad domain, or an administrator UPN outside the tenant's domains),
 *   `conflict` (a domain or UPN taken).
 */
export async function bootstrapTenant(
  directory: Directory,
  input: {
    readonly displayName: string;
    readonly domains: readonly string[];
    readonly adminUserPrincipalName?: string;
  },
): Promise<BootstrapResult> {
  const tenant = await directory.tenants.create({ displayName: input.displayName, domains: input.domains });
  const password = randomBytes(PASSWORD_BYTES).toString('base64url');
  const administrator = await directory.users.create({
    tenant: tenant.id,
    userPrincipalName: input.adminUserPrincipalName ?? `admin@${tenant.domains[0] ?? ''}`,
    password,
    displayName: 'Administrator',
    admin: true,
  });
  const client = await directory.applications.create({
    tenant: tenant.id,
    displayName: 'Tessera administration',
    redirectUris: { publicClient: [ADMIN_CLIENT_REDIRECT_URI] },
    requiredScopes: [{ resource: DIRECTORY_APP_ID, scopes: [...ADMIN_CLIENT_SCOPES] }],
  });
  await directory.grants.recordConsent({
    tenantId: tenant.id,
    userId: administrator.id,
    forOrganization: false,
    items: [
      { clientAppId: client.application.appId, resourceAppId: DIRECTORY_APP_ID, scopes: ADMIN_CLIENT_SCOPES },
    ],
  });
  return {
    tenant,
    administrator: { id: administrator.id, userPrincipalName: administrator.userPrincipalName, password },
    adminClient: {
      appId: client.application.appId,
      redirectUri: ADMIN_CLIENT_REDIRECT_URI,
      scopes: ADMIN_CLIENT_SCOPES.map((scope) => `https://graph.microsoft.com/${scope}`),
    },
  };
}

/**
 * {@link bootstrapTenant} on an empty directory only (no tenant yet): what `tessera serve --bootstrap-tenant`
 * runs at every start, so only the first start on a data directory creates (and prints) anything.
 *
 * @returns the result, or undefined when the directory already has a tenant (nothing is created).
 */
export async function bootstrapEmptyDirectory(
  directory: Directory,
  input: Parameters<typeof bootstrapTenant>[1],
): Promise<BootstrapResult | undefined> {
  if ((await directory.store.tenants.listIds()).length > 0) return undefined;
  return bootstrapTenant(directory, input);
}

/**
 * The text `tessera tenant create --admin-upn` and `tessera serve --bootstrap-tenant` print once: the tenant, the
 * administrator's password, and how to get a delegated token for the management API.
 *
 * @param baseUrl the server's public base URL, e.g. `https://localhost:8443`.
 */
export function bootstrapInstructions(result: BootstrapResult, baseUrl: string): string {
  const authority = `${baseUrl}/${result.tenant.id}`;
  return [
    `Created tenant ${result.tenant.displayName}: ${result.tenant.id} (${result.tenant.domains.join(', ')})`,
    `Global Administrator: ${result.administrator.userPrincipalName}`,
    `Password (shown only now, not stored in clear): ${result.administrator.password}`,
    `Administration client (public, PKCE, redirect ${result.adminClient.redirectUri} on any port): ${result.adminClient.appId}`,
    `Sign in at ${authority}/oauth2/v2.0/authorize with client_id=${result.adminClient.appId}, a PKCE challenge and`,
    `scope "openid offline_access https://graph.microsoft.com/Directory.ReadWrite.All", redeem the code at`,
    `${authority}/oauth2/v2.0/token, then call ${baseUrl}/v1.0/me with the access token.`,
    '',
  ].join('\n');
}
