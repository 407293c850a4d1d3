import { GLOBAL_ADMINISTRATOR } from '../directory/model.js';

/** Graph's User Administrator directory role (may manage users, not applications). */
export const USER_ADMINISTRATOR = 'User Administrator';

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

/**
 * The permission rule of the management API, one row per operation, as Microsoft Graph's permission pages state
 * the least-privileged and higher-privileged permissions of each request. Delegated tokens need a scope of the row
 * and, where the row names any, a directory role; app-only tokens need an app role of the row.
 *
 * @see https://learn.microsoft.com/graph/api/user-get, user-list, user-post-users, organization-get
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
    directoryRoles: [GLOBAL_ADMINISTRATOR, USER_ADMINISTRATOR],
    appRoles: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  },
  /** `POST /users`. */
  'users.create': {
    delegatedScopes: ['User.ReadWrite.All', 'Directory.ReadWrite.All'],
    directoryRoles: [GLOBAL_ADMINISTRATOR, USER_ADMINISTRATOR],
    appRoles: ['User.ReadWrite.All', 'Directory.ReadWrite.All'],
  },
  /** `GET /organization`: every member of the tenant may read it. */
  'organization.read': {
    delegatedScopes: ['User.Read', 'Directory.Read.All', 'Organization.Read.All'],
    directoryRoles: [],
    appRoles: ['Organization.Read.All', 'Directory.Read.All', 'Organization.ReadWrite.All'],
  },
} as const satisfies Record<string, OperationPermission>;

/** A management operation: a key of {@link OPERATION_PERMISSIONS}. */
export type ManagementOperation = keyof typeof OPERATION_PERMISSIONS;
