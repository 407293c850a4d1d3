import { GLOBAL_ADMINISTRATOR } from '../directory/model.js';

/** Graph's Global Reader directory role (reads everything an administrator can, changes nothing). */
export const GLOBAL_READER = 'Global Reader';
/** Graph's User Administrator directory role (may manage users, not applications). */
export const USER_ADMINISTRATOR = 'User Administrator';
/** Graph's Application Administrator directory role (may manage applications and their service principals). */
export const APPLICATION_ADMINISTRATOR = 'Application Administrator';
/** Graph's Cloud Application Administrator directory role (as Application Administrator, without proxy apps). */
export const CLOUD_APPLICATION_ADMINISTRATOR = 'Cloud Application Administrator';
/** Graph's Privileged Role Administrator directory role (may grant permissions and roles). */
export const PRIVILEGED_ROLE_ADMINISTRATOR = 'Privileged Role Administrator';
/** Graph's Reports Reader directory role (reads the audit and sign-in logs). */
export const REPORTS_READER = 'Reports Reader';
/** Graph's Security Reader directory role (reads the audit and sign-in logs). */
export const SECURITY_READER = 'Security Reader';

/** Graph's Security Administrator directory role (manages security policies, conditional access included). */
export const SECURITY_ADMINISTRATOR = 'Security Administrator';
/** Graph's Conditional Access Administrator directory role (manages conditional access policies). */
export const CONDITIONAL_ACCESS_ADMINISTRATOR = 'Conditional Access Administrator';
/** Graph's Authentication Administrator directory role (manages non-administrators' authentication methods). */
export const AUTHENTICATION_ADMINISTRATOR = 'Authentication Administrator';
/** Graph's Privileged Authentication Administrator directory role (manages everyone's authentication methods). */
export const PRIVILEGED_AUTHENTICATION_ADMINISTRATOR = 'Privileged Authentication Administrator';

/** What a token needs for one management operation. */
export interface OperationPermission {
  /** Delegated scopes (`scp`), any one of them. Empty: no delegated access at all. */
  readonly delegatedScopes: readonly string[];
  /**
   * Directory roles (of the signed-in user), any one of them, needed beside the scope; empty: the scope is enough.
   * A plain user reads only themself (`me.read`).
   */
  readonly directoryRoles: readonly string[];
  /** Application permissions (`roles` of an app-only token), any one of them. Empty: no app-only access. */
  readonly appRoles: readonly string[];
}

const USER_WRITE: OperationPermission = {
  delegatedScopes: ['User.ReadWrite.All', 'Directory.ReadWrite.All'],
  directoryRoles: [GLOBAL_ADMINISTRATOR, USER_ADMINISTRATOR],
  appRoles: ['User.ReadWrite.All', 'Directory.ReadWrite.All'],
};

const APPLICATION_ADMINS = [GLOBAL_ADMINISTRATOR, APPLICATION_ADMINISTRATOR, CLOUD_APPLICATION_ADMINISTRATOR];

const APPLICATION_READ: OperationPermission = {
  delegatedScopes: [
    'Application.Read.All',
    'Application.ReadWrite.All',
    'Directory.Read.All',
    'Directory.ReadWrite.All',
  ],
  directoryRoles: [...APPLICATION_ADMINS, GLOBAL_READER],
  appRoles: [
    'Application.Read.All',
    'Application.ReadWrite.All',
    'Directory.Read.All',
    'Directory.ReadWrite.All',
  ],
};

const APPLICATION_WRITE: OperationPermission = {
  delegatedScopes: ['Application.ReadWrite.All', 'Directory.ReadWrite.All'],
  directoryRoles: APPLICATION_ADMINS,
  appRoles: ['Application.ReadWrite.All', 'Directory.ReadWrite.All'],
};

/**
 * The permission rule of the management API, one row per operation, as Microsoft Graph's permission pages state
 * the least-privileged and higher-privileged permissions of each request. Delegated tokens need a scope of the row
 * and, where the row names any, a directory role; app-only tokens need an app role of the row.
 *
 * @see https://learn.microsoft.com/graph/api/user-get, user-list, user-post-users, user-update, user-delete,
 *   organization-get, application-*, serviceprincipal-*, oauth2permissiongrant-*, directoryaudit-list, signin-list
 * @see https://learn.microsoft.com/graph/permissions-reference
 */
export const OPERATION_PERMISSIONS = {
  /** `GET /me`, `GET /users/{own id}`: the signed-in user themself. */
  'me.read': {
    delegatedScopes: [
      'User.Read',
      'User.ReadWrite',
      'User.Read.All',
      'User.ReadWrite.All',
      'Directory.Read.All',
    ],
    directoryRoles: [],
    appRoles: [],
  },
  /** `GET /users`, `GET /users/{id}` of another user. */
  'users.read': {
    delegatedScopes: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
    directoryRoles: [GLOBAL_ADMINISTRATOR, USER_ADMINISTRATOR, GLOBAL_READER],
    appRoles: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  },
  /** `POST /users`. */
  'users.create': USER_WRITE,
  /** `PATCH /users/{id}` (including `accountEnabled` and `passwordProfile`). */
  'users.update': USER_WRITE,
  /** `DELETE /users/{id}`. */
  'users.delete': USER_WRITE,
  /** `GET /organization`: every member of the tenant may read it. */
  'organization.read': {
    delegatedScopes: ['User.Read', 'Directory.Read.All', 'Organization.Read.All'],
    directoryRoles: [],
    appRoles: ['Organization.Read.All', 'Directory.Read.All', 'Organization.ReadWrite.All'],
  },
  /** `GET /applications`, `GET /applications/{id}`, `…/owners`. */
  'applications.read': APPLICATION_READ,
  /**
   * `POST|PATCH|DELETE /applications…`, `addPassword`, `removePassword`, `addKey`, `removeKey`, owners `$ref`.
   */
  'applications.write': APPLICATION_WRITE,
  /** `GET /servicePrincipals`, `GET /servicePrincipals/{id}`. */
  'servicePrincipals.read': APPLICATION_READ,
  /** `POST|PATCH|DELETE /servicePrincipals…`. */
  'servicePrincipals.write': APPLICATION_WRITE,
  /** `GET …/appRoleAssignedTo`, `GET …/appRoleAssignments` (of a service principal or a user). */
  'appRoleAssignments.read': {
    delegatedScopes: [
      'Application.Read.All',
      'Application.ReadWrite.All',
      'AppRoleAssignment.ReadWrite.All',
      'Directory.Read.All',
      'Directory.ReadWrite.All',
    ],
    directoryRoles: [...APPLICATION_ADMINS, PRIVILEGED_ROLE_ADMINISTRATOR, GLOBAL_READER],
    appRoles: [
      'Application.Read.All',
      'Application.ReadWrite.All',
      'AppRoleAssignment.ReadWrite.All',
      'Directory.Read.All',
      'Directory.ReadWrite.All',
    ],
  },
  /** `POST|DELETE …/appRoleAssignedTo`, `POST|DELETE …/appRoleAssignments`: grant or revoke an app role. */
  'appRoleAssignments.write': {
    delegatedScopes: ['AppRoleAssignment.ReadWrite.All'],
    directoryRoles: [...APPLICATION_ADMINS, PRIVILEGED_ROLE_ADMINISTRATOR],
    appRoles: ['AppRoleAssignment.ReadWrite.All'],
  },
  /** `GET /oauth2PermissionGrants`, `GET /oauth2PermissionGrants/{id}`. */
  'permissionGrants.read': {
    delegatedScopes: [
      'DelegatedPermissionGrant.ReadWrite.All',
      'Directory.Read.All',
      'Directory.ReadWrite.All',
    ],
    directoryRoles: [...APPLICATION_ADMINS, PRIVILEGED_ROLE_ADMINISTRATOR, GLOBAL_READER],
    appRoles: ['DelegatedPermissionGrant.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  },
  /** `POST|PATCH|DELETE /oauth2PermissionGrants…`: delegated consent. */
  'permissionGrants.write': {
    delegatedScopes: ['DelegatedPermissionGrant.ReadWrite.All'],
    directoryRoles: [...APPLICATION_ADMINS, PRIVILEGED_ROLE_ADMINISTRATOR],
    appRoles: ['DelegatedPermissionGrant.ReadWrite.All'],
  },
  /** `GET /auditLogs/directoryAudits`, `GET /auditLogs/signIns`. */
  'auditLogs.read': {
    delegatedScopes: ['AuditLog.Read.All'],
    directoryRoles: [GLOBAL_ADMINISTRATOR, GLOBAL_READER, REPORTS_READER, SECURITY_READER],
    appRoles: ['AuditLog.Read.All'],
  },
  /** `GET /identity/conditionalAccess/policies`, `GET …/policies/{id}`. */
  'conditionalAccessPolicies.read': {
    delegatedScopes: ['Policy.Read.All', 'Policy.ReadWrite.ConditionalAccess'],
    directoryRoles: [
      GLOBAL_ADMINISTRATOR,
      CONDITIONAL_ACCESS_ADMINISTRATOR,
      SECURITY_ADMINISTRATOR,
      SECURITY_READER,
      GLOBAL_READER,
    ],
    appRoles: ['Policy.Read.All', 'Policy.ReadWrite.ConditionalAccess'],
  },
  /** `POST|PATCH|DELETE /identity/conditionalAccess/policies…`. */
  'conditionalAccessPolicies.write': {
    delegatedScopes: ['Policy.ReadWrite.ConditionalAccess'],
    directoryRoles: [GLOBAL_ADMINISTRATOR, CONDITIONAL_ACCESS_ADMINISTRATOR, SECURITY_ADMINISTRATOR],
    appRoles: ['Policy.ReadWrite.ConditionalAccess'],
  },
  /** `GET /me/authentication/…`: the signed-in user's own authentication methods. */
  'authenticationMethods.readOwn': {
    delegatedScopes: ['UserAuthenticationMethod.Read', 'UserAuthenticationMethod.ReadWrite'],
    directoryRoles: [],
    appRoles: [],
  },
  /** `DELETE /me/authentication/…`: remove one of the signed-in user's own methods. */
  'authenticationMethods.writeOwn': {
    delegatedScopes: ['UserAuthenticationMethod.ReadWrite'],
    directoryRoles: [],
    appRoles: [],
  },
  /** `GET /users/{id}/authentication/…` of another user. */
  'authenticationMethods.read': {
    delegatedScopes: ['UserAuthenticationMethod.Read.All', 'UserAuthenticationMethod.ReadWrite.All'],
    directoryRoles: [
      GLOBAL_ADMINISTRATOR,
      AUTHENTICATION_ADMINISTRATOR,
      PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    ],
    appRoles: ['UserAuthenticationMethod.Read.All', 'UserAuthenticationMethod.ReadWrite.All'],
  },
  /** `DELETE /users/{id}/authentication/…` of another user (an administrator resets a lost authenticator). */
  'authenticationMethods.write': {
    delegatedScopes: ['UserAuthenticationMethod.ReadWrite.All'],
    directoryRoles: [
      GLOBAL_ADMINISTRATOR,
      AUTHENTICATION_ADMINISTRATOR,
      PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    ],
    appRoles: ['UserAuthenticationMethod.ReadWrite.All'],
  },
} as const satisfies Record<string, OperationPermission>;

/** A management operation: a key of {@link OPERATION_PERMISSIONS}. */
export type ManagementOperation = keyof typeof OPERATION_PERMISSIONS;
