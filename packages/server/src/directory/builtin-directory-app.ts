import { emptyApplicationDefinition, type Application, type AppRole, type PermissionScope } from './model.js';

/**
 * The built-in directory API: Tessera's Microsoft Graph-like management API (`/v1.0/…`, docs/management-api.md), present
 * as a resource in every tenant. It keeps Microsoft Graph's `appId`, App ID URI and permission ids so that
 * manifests and scopes such as `https://graph.microsoft.com/.default` work as written.
 * Tokens for it are v1 (`requestedAccessTokenVersion` null), as Microsoft Graph's are.
 *
 * @see https://learn.microsoft.com/graph/permissions-reference (the ids of Graph's delegated and application
 *   permissions)
 */
export const DIRECTORY_APP_ID = '00000003-0000-0000-c000-000000000000';

/** App ID URI of the built-in directory API. */
export const DIRECTORY_IDENTIFIER_URI = 'https://graph.microsoft.com';

/** Owner tenant of first-party apps (not a tenant users sign in to). */
export const SERVICES_TENANT_ID = 'f8cdef31-a31e-4b4a-93e4-5f571e91255a';

function role(id: string, value: string, displayName: string): AppRole {
  return {
    id,
    value,
    displayName,
    description: displayName,
    allowedMemberTypes: ['Application'],
    isEnabled: true,
  };
}

function scope(id: string, value: string, type: 'User' | 'Admin', text: string): PermissionScope {
  return {
    id,
    value,
    type,
    adminConsentDisplayName: text,
    adminConsentDescription: text,
    userConsentDisplayName: text,
    userConsentDescription: text,
    isEnabled: true,
  };
}

export const builtinDirectoryApplication: Application = {
  ...emptyApplicationDefinition,
  id: '00000003-0000-0000-c000-0000000000a1',
  appId: DIRECTORY_APP_ID,
  tenantId: SERVICES_TENANT_ID,
  displayName: 'Tessera Directory',
  signInAudience: 'AzureADMultipleOrgs',
  identifierUris: [DIRECTORY_IDENTIFIER_URI],
  accountEnabled: true,
  passwordCredentials: [],
  keyCredentials: [],
  // Microsoft Graph's application permissions (app roles), with Graph's ids.
  appRoles: [
    role('df021288-bdef-4463-88db-98f22de89214', 'User.Read.All', 'Read all users’ full profiles'),
    role('7ab1d382-f21e-4acd-a863-ba3e13f7da61', 'Directory.Read.All', 'Read directory data'),
    role(
      '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9',
      'Application.ReadWrite.All',
      'Read and write all applications',
    ),
    role(
      '741f803b-c850-494e-b5df-cde7c675a1ca',
      'User.ReadWrite.All',
      'Read and write all users’ full profiles',
    ),
    role('9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30', 'Application.Read.All', 'Read all applications'),
    role(
      '06b708a9-e830-4db3-a914-8e69da51d44f',
      'AppRoleAssignment.ReadWrite.All',
      'Manage app permission grants and app role assignments',
    ),
    role(
      '8e8e4742-1d95-4f68-9d56-6ee75648c72a',
      'DelegatedPermissionGrant.ReadWrite.All',
      'Manage all delegated permission grants',
    ),
    role('b0afded3-3588-46d8-8b3d-9842eff778da', 'AuditLog.Read.All', 'Read all audit log data'),
    role('19dbc75e-c2e2-444c-a770-ec69d8559fc7', 'Directory.ReadWrite.All', 'Read and write directory data'),
    role('498476ce-e0fe-48b0-b801-37ba7e2685c6', 'Organization.Read.All', 'Read organization information'),
    role(
      '292d869f-3427-49a8-9dab-8c70152b74e9',
      'Organization.ReadWrite.All',
      'Read and write organization information',
    ),
    role('246dd0d5-5bd0-4def-940b-0421030a5b68', 'Policy.Read.All', 'Read your organization’s policies'),
    role(
      '01c0a623-fc9b-48e9-b794-0756f8e8f067',
      'Policy.ReadWrite.ConditionalAccess',
      'Read and write your organization’s conditional access policies',
    ),
    role(
      '38d9df27-64da-44fd-b7c5-a6fbac20248f',
      'UserAuthenticationMethod.Read.All',
      'Read all users’ authentication methods',
    ),
    role(
      '50483e42-d915-4231-9639-7fdb7fd190e5',
      'UserAuthenticationMethod.ReadWrite.All',
      'Read and write all users’ authentication methods',
    ),
  ],
  api: {
    ...emptyApplicationDefinition.api,
    oauth2PermissionScopes: [
      scope('e1fe6dd8-ba31-4d61-89e7-88639da4683d', 'User.Read', 'User', 'Sign you in and read your profile'),
      scope(
        'a154be20-db9c-4678-8ab7-66f6cc099a59',
        'User.Read.All',
        'Admin',
        'Read all users’ full profiles',
      ),
      scope('37f7f235-527c-4136-accd-4a02d197296e', 'openid', 'User', 'Sign you in'),
      scope('14dad69e-099b-42c9-810b-d002981feec1', 'profile', 'User', 'View your basic profile'),
      scope('64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0', 'email', 'User', 'View your email address'),
      scope(
        '7427e0e9-2fba-42fe-b0c0-848c9e6a8182',
        'offline_access',
        'User',
        'Maintain access to data you have given it access to',
      ),
      // Microsoft Graph's delegated management scopes, with Graph's ids; each needs an administrator's consent.
      scope(
        '204e0828-b5ca-4ad8-b9f3-f32a958e7cc4',
        'User.ReadWrite.All',
        'Admin',
        'Read and write all users’ full profiles',
      ),
      scope('c79f8feb-a9db-4090-85f9-90d820caa0eb', 'Application.Read.All', 'Admin', 'Read applications'),
      scope(
        'bdfbf15f-ee85-4955-8675-146e8e5296b5',
        'Application.ReadWrite.All',
        'Admin',
        'Read and write all applications',
      ),
      scope(
        '84bccea3-f856-4a8a-967b-dbe0a3d53a64',
        'AppRoleAssignment.ReadWrite.All',
        'Admin',
        'Manage app permission grants and app role assignments',
      ),
      scope(
        '41ce6ca6-6826-4807-84f1-1c82854f7ee5',
        'DelegatedPermissionGrant.ReadWrite.All',
        'Admin',
        'Manage all delegated permission grants',
      ),
      scope('06da0dbc-49e2-44d2-8312-53f166ab848a', 'Directory.Read.All', 'Admin', 'Read directory data'),
      scope('e4c9e354-4dc5-45b8-9e7c-e1393b0b1a20', 'AuditLog.Read.All', 'Admin', 'Read audit log data'),
      scope(
        'c5366453-9fb0-48a5-a156-24f0c49a4b84',
        'Directory.ReadWrite.All',
        'Admin',
        'Read and write directory data',
      ),
      scope(
        '4908d5b9-3fb2-4b1e-9336-1888b7937185',
        'Organization.Read.All',
        'Admin',
        'Read organization information',
      ),
      scope('b4e74841-8e56-480b-be8b-910348b18b4c', 'User.ReadWrite', 'User', 'Read and update your profile'),
      scope(
        '572fea84-0151-49b2-9301-11cb16974376',
        'Policy.Read.All',
        'Admin',
        'Read your organization’s policies',
      ),
      scope(
        'ad902697-1014-4ef5-81ef-2b4301988e8c',
        'Policy.ReadWrite.ConditionalAccess',
        'Admin',
        'Read and write your organization’s conditional access policies',
      ),
      scope(
        '1f6b61c5-2f65-4135-9c9f-31c0f8d32b52',
        'UserAuthenticationMethod.Read',
        'Admin',
        'Read your authentication methods',
      ),
      scope(
        '48971fc1-70d7-4245-af77-0beb29b53ee2',
        'UserAuthenticationMethod.ReadWrite',
        'Admin',
        'Read and write your authentication methods',
      ),
      scope(
        'aec28ec7-4d02-4e8c-b864-50163aea77eb',
        'UserAuthenticationMethod.Read.All',
        'Admin',
        'Read all users’ authentication methods',
      ),
      scope(
        'b7887744-6746-4312-813d-72daeaee7e2d',
        'UserAuthenticationMethod.ReadWrite.All',
        'Admin',
        'Read and write all users’ authentication methods',
      ),
    ],
  },
};
