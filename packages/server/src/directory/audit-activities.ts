import type { DirectoryStore } from '../store/directory-store.js';
import type { Directory } from './directory.js';
import type { Application, ServicePrincipal } from './model.js';
import type { AuditCategory, AuditOperationType, AuditTarget, ModifiedProperty } from './audit-records.js';

/**
 * Which directory service methods write, and how each write appears in the directory audit log (Graph
 * `directoryAudit`): `Directory` wraps every method listed here, so a write through any door — the management API,
 * the CLI, the consent page, a seed — is audited once, on success after it committed and on a refusal with the
 * `DirectoryError` code as `resultReason`. Every other public method is a read, listed in {@link DIRECTORY_READS};
 * a test keeps the two lists covering every public method.
 *
 * @see https://learn.microsoft.com/entra/identity/monitoring-health/reference-audit-activities
 */

/** What an activity's functions may look up (never in the write's transaction). */
export interface AuditLookup {
  readonly store: DirectoryStore;
}

/** A call of a listed method: its arguments, and its result once it succeeded. */
export interface AuditedCall<A extends readonly unknown[], R> {
  readonly args: A;
  /** Undefined when the call was refused. */
  readonly result: R | undefined;
  /** What {@link AuditActivity.before} found before the call. */
  readonly before: AuditTarget | undefined;
}

/** Whose log an audit goes to and what it targeted. */
export interface AuditSubject {
  /** The tenant (id or verified domain); undefined when none can be named (the event is not recorded). */
  readonly tenant: string | undefined;
  readonly targets: readonly AuditTarget[];
}

/** How one write method is audited. */
export interface AuditActivity<A extends readonly unknown[], R> {
  /** Graph's `activityDisplayName`, or a function of the call for methods that do one of several things. */
  readonly activityDisplayName: string | ((call: AuditedCall<A, R>) => string);
  readonly category: AuditCategory;
  readonly operationType: AuditOperationType;
  /** The target as it was before the call, for deletes (read before the call runs). */
  readonly before?: (args: A, lookup: AuditLookup) => Promise<AuditTarget | undefined>;
  readonly subject: (call: AuditedCall<A, R>, lookup: AuditLookup) => Promise<AuditSubject> | AuditSubject;
}

/** The names of a service's methods that return promises. */
export type AsyncMethodName<S> = {
  [K in keyof S]: S[K] extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof S] &
  string;

/** The audited write methods of one service. */
export type ServiceActivities<S> = {
  readonly [K in AsyncMethodName<S>]?: S[K] extends (...args: infer A) => Promise<infer R>
    ? AuditActivity<A, R>
    : never;
};

/** The property names of the services `Directory` composes. */
export const DIRECTORY_SERVICE_NAMES = [
  'tenants',
  'applications',
  'credentials',
  'users',
  'servicePrincipals',
  'grants',
  'conditionalAccessPolicies',
] as const satisfies readonly (keyof Directory)[];

/** The services `Directory` composes, by property name. */
export type DirectoryServices = Pick<Directory, (typeof DIRECTORY_SERVICE_NAMES)[number]>;

function target(
  type: string,
  id: string | null,
  displayName: string | null,
  extra: { userPrincipalName?: string | null; modifiedProperties?: readonly ModifiedProperty[] } = {},
): AuditTarget {
  return {
    id,
    displayName,
    type,
    userPrincipalName: extra.userPrincipalName ?? null,
    modifiedProperties: extra.modifiedProperties ?? [],
  };
}

/** `modifiedProperties` of the fields a change gives (JSON values, as Graph writes them; old values unknown). */
function changed(change: object, names: readonly string[]): ModifiedProperty[] {
  const values = new Map<string, unknown>(Object.entries(change));
  return names
    .filter((name) => values.get(name) !== undefined)
    .map((name) => ({ displayName: name, oldValue: null, newValue: JSON.stringify(values.get(name)) }));
}

/** `modifiedProperties` of new values (JSON), as Graph records what an `Add` or `Assign` set. */
function added(values: object): ModifiedProperty[] {
  return changed(values, Object.keys(values));
}

/** The targets of an app role assignment: the principal, and the assignment with what it assigns. */
function assignmentTargets(
  principal: AuditTarget,
  assignmentId: string | null,
  roleValue: string | null,
  values: Readonly<Record<string, unknown>>,
): AuditTarget[] {
  return [
    principal,
    target('AppRoleAssignment', assignmentId, roleValue, { modifiedProperties: added(values) }),
  ];
}

/**
 * The activity of a delete by `(tenant, id, …)`: the target as {@link AuditActivity.before} found it, else only its
 * id.
 */
function deletion<A extends readonly [string, string, ...unknown[]]>(
  activityDisplayName: string,
  category: AuditCategory,
  type: string,
  find: (lookup: AuditLookup, id: string) => Promise<AuditTarget | undefined>,
): AuditActivity<A, void> {
  return {
    activityDisplayName,
    category,
    operationType: 'Delete',
    before: ([, id], lookup) => find(lookup, id),
    subject: ({ args: [tenant, id], before }) => ({ tenant, targets: [before ?? target(type, id, null)] }),
  };
}

/** An application registered (with its service principal, when one was made): its targets. */
function registration(
  tenant: string,
  displayName: string,
  result:
    | { readonly application: Application; readonly servicePrincipal: ServicePrincipal | undefined }
    | undefined,
  modifiedProperties: readonly ModifiedProperty[],
): AuditSubject {
  const sp = result?.servicePrincipal;
  return {
    tenant,
    targets: [
      target('Application', result?.application.id ?? null, displayName, {
        modifiedProperties: [
          ...(result === undefined ? [] : added({ AppId: result.application.appId })),
          ...modifiedProperties,
        ],
      }),
      ...(sp === undefined ? [] : [target('ServicePrincipal', sp.id, sp.displayName)]),
    ],
  };
}

async function applicationTarget(
  lookup: AuditLookup,
  appId: string,
  modifiedProperties: readonly ModifiedProperty[] = [],
): Promise<AuditSubject> {
  const app = await lookup.store.applications.findByAppId(appId);
  return {
    tenant: app?.tenantId,
    targets: [target('Application', app?.id ?? null, app?.displayName ?? null, { modifiedProperties })],
  };
}

async function userTarget(lookup: AuditLookup, idOrUpn: string): Promise<AuditTarget | undefined> {
  const user = idOrUpn.includes('@')
    ? await lookup.store.users.findByUpn(idOrUpn)
    : await lookup.store.users.findById(idOrUpn);
  return user === undefined
    ? undefined
    : target('User', user.id, user.displayName, { userPrincipalName: user.userPrincipalName });
}

async function servicePrincipalTarget(lookup: AuditLookup, id: string): Promise<AuditTarget | undefined> {
  const sp = await lookup.store.servicePrincipals.findById(id);
  return sp === undefined ? undefined : target('ServicePrincipal', sp.id, sp.displayName);
}

/** A credential's `KeyDescription` (its key id, type and name; never the secret or the certificate). */
function keyDescription(
  keyId: string,
  keyType: 'Password' | 'AsymmetricX509Cert',
  displayName: string | null,
) {
  return JSON.stringify([
    { KeyIdentifier: keyId, KeyType: keyType, KeyUsage: 'Verify', DisplayName: displayName },
  ]);
}

/** `KeyDescription`s of certificate credentials: key id, type and name only (never the certificate). */
function keyDescriptions(
  credentials: readonly { readonly keyId: string; readonly displayName: string | null }[],
): ModifiedProperty[] {
  return credentials.map((credential) => ({
    displayName: 'KeyDescription',
    oldValue: null,
    newValue: keyDescription(credential.keyId, 'AsymmetricX509Cert', credential.displayName),
  }));
}

/**
 * A credential added to or removed from an application (Entra's one activity for both): the application, with the
 * credential's `KeyDescription` as the new or the old value.
 */
function credentialActivity<A extends readonly unknown[], R>(
  describe: (call: AuditedCall<A, R>) => {
    readonly appId: string;
    readonly keyType: 'Password' | 'AsymmetricX509Cert';
    readonly added?: { readonly keyId: string; readonly displayName: string | null } | undefined;
    readonly removedKeyId?: string;
  },
): AuditActivity<A, R> {
  return {
    activityDisplayName: CREDENTIALS_ACTIVITY,
    category: 'ApplicationManagement',
    operationType: 'Update',
    subject: (call, lookup) => {
      const { appId, keyType, added, removedKeyId } = describe(call);
      return applicationTarget(lookup, appId, [
        {
          displayName: 'KeyDescription',
          oldValue: removedKeyId === undefined ? null : keyDescription(removedKeyId, keyType, null),
          newValue: added === undefined ? null : keyDescription(added.keyId, keyType, added.displayName),
        },
      ]);
    },
  };
}

/** The changed properties of a user change but its password (which is never recorded). */
function profileChanges(change: object): ModifiedProperty[] {
  return changed(
    change,
    Object.keys(change).filter((name) => name !== 'password'),
  );
}

/** An owner added to or removed from an application: the application and the user. */
async function ownerChange(
  lookup: AuditLookup,
  tenant: string,
  ref: { readonly id: string } | { readonly appId: string },
  userId: string,
): Promise<AuditSubject> {
  const app =
    'id' in ref
      ? await lookup.store.applications.findById(ref.id)
      : await lookup.store.applications.findByAppId(ref.appId);
  return {
    tenant,
    targets: [
      target('Application', app?.id ?? ('id' in ref ? ref.id : null), app?.displayName ?? null),
      (await userTarget(lookup, userId)) ?? target('User', userId, null),
    ],
  };
}

/** A directory role given to or taken from a user: the user and the role. */
async function roleChange(
  lookup: AuditLookup,
  tenant: string,
  id: string,
  role: string,
): Promise<AuditSubject> {
  return {
    tenant,
    targets: [
      (await userTarget(lookup, id)) ?? target('User', id, null),
      target('Role', null, role, { modifiedProperties: added({ 'Role.DisplayName': role }) }),
    ],
  };
}

const CREDENTIALS_ACTIVITY = 'Update application – Certificates and secrets management';

/** Every audited write of every directory service. */
export const AUDIT_ACTIVITIES: {
  readonly [N in keyof DirectoryServices]: ServiceActivities<DirectoryServices[N]>;
} = {
  tenants: {
    create: {
      activityDisplayName: 'Create company',
      category: 'DirectoryManagement',
      operationType: 'Add',
      subject: ({ args: [input], result }) => ({
        tenant: result?.id,
        targets: [target('Tenant', result?.id ?? input.id ?? null, input.displayName)],
      }),
    },
  },
  applications: {
    create: {
      activityDisplayName: 'Add application',
      category: 'ApplicationManagement',
      operationType: 'Add',
      subject: ({ args: [input], result }) => registration(input.tenant, input.displayName, result, []),
    },
    register: {
      activityDisplayName: 'Add application',
      category: 'ApplicationManagement',
      operationType: 'Add',
      subject: ({ args: [tenant, properties, options], result }) =>
        registration(tenant, properties.displayName, result, [
          ...added(properties),
          ...keyDescriptions(options.keyCredentials ?? []),
        ]),
    },
    change: {
      activityDisplayName: 'Update application',
      category: 'ApplicationManagement',
      operationType: 'Update',
      subject: ({ args: [appId, change, keyCredentials] }, lookup) =>
        applicationTarget(lookup, appId, [...added(change), ...keyDescriptions(keyCredentials ?? [])]),
    },
    addOwner: {
      activityDisplayName: 'Add owner to application',
      category: 'ApplicationManagement',
      operationType: 'Add',
      subject: ({ args: [tenant, ref, userId] }, lookup) => ownerChange(lookup, tenant, ref, userId),
    },
    removeOwner: {
      activityDisplayName: 'Remove owner from application',
      category: 'ApplicationManagement',
      operationType: 'Delete',
      subject: ({ args: [tenant, ref, userId] }, lookup) => ownerChange(lookup, tenant, ref, userId),
    },
    update: {
      activityDisplayName: 'Update application',
      category: 'ApplicationManagement',
      operationType: 'Update',
      subject: ({ args: [appId] }, lookup) => applicationTarget(lookup, appId),
    },
    updateProperties: {
      activityDisplayName: 'Update application',
      category: 'ApplicationManagement',
      operationType: 'Update',
      subject: ({ args: [appId, change] }, lookup) =>
        applicationTarget(
          lookup,
          appId,
          changed(change, ['displayName', 'signInAudience', 'identifierUris']),
        ),
    },
    delete: {
      activityDisplayName: 'Delete application',
      category: 'ApplicationManagement',
      operationType: 'Delete',
      before: async ([, appId], lookup) => (await applicationTarget(lookup, appId)).targets[0],
      subject: ({ args: [tenant, appId], before }) => ({
        tenant,
        targets: [
          before ??
            target('Application', null, null, {
              modifiedProperties: [{ displayName: 'AppId', oldValue: JSON.stringify(appId), newValue: null }],
            }),
        ],
      }),
    },
  },
  credentials: {
    addPassword: credentialActivity(({ args: [input], result }) => ({
      appId: input.appId,
      keyType: 'Password',
      added: result?.credential,
    })),
    addCertificate: credentialActivity(({ args: [input], result }) => ({
      appId: input.appId,
      keyType: 'AsymmetricX509Cert',
      added: result,
    })),
    addKey: credentialActivity(({ args: [appId], result }) => ({
      appId,
      keyType: 'AsymmetricX509Cert',
      added: result,
    })),
    removePassword: credentialActivity(({ args: [appId, keyId] }) => ({
      appId,
      keyType: 'Password',
      removedKeyId: keyId,
    })),
    removeKey: credentialActivity(({ args: [appId, keyId] }) => ({
      appId,
      keyType: 'AsymmetricX509Cert',
      removedKeyId: keyId,
    })),
  },
  users: {
    create: {
      activityDisplayName: 'Add user',
      category: 'UserManagement',
      operationType: 'Add',
      subject: ({ args: [input], result }) => ({
        tenant: input.tenant,
        targets: [
          target('User', result?.id ?? null, result?.displayName ?? input.displayName ?? null, {
            userPrincipalName: input.userPrincipalName,
            modifiedProperties: changed(input, ['displayName', 'accountEnabled']),
          }),
        ],
      }),
    },
    setAccountEnabled: {
      activityDisplayName: 'Update user',
      category: 'UserManagement',
      operationType: 'Update',
      subject: async ({ args: [userId, enabled] }, lookup) => {
        const user = await lookup.store.users.findById(userId);
        return {
          tenant: user?.tenantId,
          targets: [
            target('User', userId, user?.displayName ?? null, {
              userPrincipalName: user?.userPrincipalName ?? null,
              modifiedProperties: changed({ accountEnabled: enabled }, ['accountEnabled']),
            }),
          ],
        };
      },
    },
    update: {
      // A change of the password only is Entra's password reset; the password itself is never recorded.
      activityDisplayName: ({ args: [, , change] }) =>
        change.password !== undefined && profileChanges(change).length === 0
          ? 'Reset user password'
          : 'Update user',
      category: 'UserManagement',
      operationType: 'Update',
      subject: async ({ args: [tenant, id, change], result }, lookup) => {
        const found = result === undefined ? await userTarget(lookup, id) : undefined;
        const modifiedProperties = [
          ...profileChanges(change),
          ...(change.password === undefined
            ? []
            : [{ displayName: 'PasswordProfile', oldValue: null, newValue: null }]),
        ];
        return {
          tenant,
          targets: [
            target('User', result?.id ?? found?.id ?? id, result?.displayName ?? found?.displayName ?? null, {
              userPrincipalName: result?.userPrincipalName ?? found?.userPrincipalName ?? null,
              modifiedProperties,
            }),
          ],
        };
      },
    },
    addDirectoryRole: {
      activityDisplayName: 'Add member to role',
      category: 'RoleManagement',
      operationType: 'Assign',
      subject: ({ args: [tenant, id, role] }, lookup) => roleChange(lookup, tenant, id, role),
    },
    removeDirectoryRole: {
      activityDisplayName: 'Remove member from role',
      category: 'RoleManagement',
      operationType: 'Unassign',
      subject: ({ args: [tenant, id, role] }, lookup) => roleChange(lookup, tenant, id, role),
    },
    delete: deletion('Delete user', 'UserManagement', 'User', userTarget),
  },
  servicePrincipals: {
    create: {
      activityDisplayName: 'Add service principal',
      category: 'ApplicationManagement',
      operationType: 'Add',
      subject: ({ args: [tenant, appId], result }) => ({
        tenant,
        targets: [
          target('ServicePrincipal', result?.id ?? null, result?.displayName ?? null, {
            modifiedProperties: added({ AppId: appId }),
          }),
        ],
      }),
    },
    update: {
      activityDisplayName: 'Update service principal',
      category: 'ApplicationManagement',
      operationType: 'Update',
      subject: async ({ args: [tenant, id, change], result }, lookup) => ({
        tenant,
        targets: [
          {
            ...(result === undefined
              ? ((await servicePrincipalTarget(lookup, id)) ?? target('ServicePrincipal', id, null))
              : target('ServicePrincipal', result.id, result.displayName)),
            modifiedProperties: changed(change, ['accountEnabled']),
          },
        ],
      }),
    },
    delete: deletion(
      'Remove service principal',
      'ApplicationManagement',
      'ServicePrincipal',
      servicePrincipalTarget,
    ),
  },
  grants: {
    grantAppRole: {
      activityDisplayName: 'Add app role assignment to service principal',
      category: 'ApplicationManagement',
      operationType: 'Assign',
      subject: async ({ args: [input], result }, lookup) => ({
        tenant: input.tenant,
        targets: assignmentTargets(
          (result === undefined ? undefined : await servicePrincipalTarget(lookup, result.principalId)) ??
            target('ServicePrincipal', result?.principalId ?? null, null, {
              modifiedProperties: added({ AppId: input.clientAppId }),
            }),
          result?.id ?? null,
          input.role,
          { 'AppRole.Value': input.role, Resource: input.resource },
        ),
      }),
    },
    assignAppRoleToUser: {
      activityDisplayName: 'Add app role assignment grant to user',
      category: 'UserManagement',
      operationType: 'Assign',
      subject: async ({ args: [input], result }, lookup) => ({
        tenant: input.tenant,
        targets: assignmentTargets(
          (await userTarget(lookup, input.userPrincipalName)) ??
            target('User', null, null, { userPrincipalName: input.userPrincipalName }),
          result?.id ?? null,
          input.role,
          { 'AppRole.Value': input.role, Resource: input.resource },
        ),
      }),
    },
    assignAppRoleById: {
      activityDisplayName: ({ result }) =>
        result?.principalType === 'User'
          ? 'Add app role assignment grant to user'
          : 'Add app role assignment to service principal',
      category: 'ApplicationManagement',
      operationType: 'Assign',
      subject: async ({ args: [input], result }, lookup) => ({
        tenant: input.tenant,
        targets: assignmentTargets(
          (await userTarget(lookup, input.principalId)) ??
            (await servicePrincipalTarget(lookup, input.principalId)) ??
            target('ServicePrincipal', input.principalId, null),
          result?.id ?? null,
          null,
          { 'AppRole.Id': input.appRoleId, 'Resource.Id': input.resourceId },
        ),
      }),
    },
    removeAppRoleAssignment: {
      activityDisplayName: ({ before }) =>
        before?.type === 'User'
          ? 'Remove app role assignment from user'
          : 'Remove app role assignment from service principal',
      category: 'ApplicationManagement',
      operationType: 'Unassign',
      before: async ([, id], lookup) => {
        const assignment = await lookup.store.appRoleAssignments.findById(id);
        if (assignment === undefined) return undefined;
        return assignment.principalType === 'User'
          ? userTarget(lookup, assignment.principalId)
          : servicePrincipalTarget(lookup, assignment.principalId);
      },
      subject: ({ args: [tenant, id], before }) => ({
        tenant,
        targets: [...(before === undefined ? [] : [before]), target('AppRoleAssignment', id, null)],
      }),
    },
    recordConsent: {
      activityDisplayName: 'Consent to application',
      category: 'ApplicationManagement',
      operationType: 'Assign',
      // One target per consenting client: its service principal, and the scopes consented to per resource.
      subject: async ({ args: [input] }, lookup) => {
        const targets: AuditTarget[] = [];
        for (const clientAppId of new Set(input.items.map((item) => item.clientAppId))) {
          const sp = await lookup.store.servicePrincipals.find(input.tenantId, clientAppId);
          const permissions = input.items
            .filter((item) => item.clientAppId === clientAppId)
            .map((item) => ({ ResourceAppId: item.resourceAppId, Scope: item.scopes.join(' ') }));
          targets.push(
            target('ServicePrincipal', sp?.id ?? null, sp?.displayName ?? null, {
              modifiedProperties: added({
                'ConsentContext.IsAdminConsent': input.forOrganization,
                'ConsentAction.Permissions': permissions,
              }),
            }),
          );
        }
        return { tenant: input.tenantId, targets };
      },
    },
    grantAdminConsent: {
      activityDisplayName: 'Consent to application',
      category: 'ApplicationManagement',
      operationType: 'Assign',
      // The client's service principal, with the app roles and scopes consented to per resource.
      subject: async ({ args: [tenant, clientAppId, consent], result }, lookup) => {
        const sp =
          result?.servicePrincipal ?? (await lookup.store.servicePrincipals.find(tenant, clientAppId));
        const permissions = [
          ...consent.appRoles.map((r) => ({ ResourceAppId: r.resourceAppId, Roles: r.roles.join(' ') })),
          ...consent.scopes.map((s) => ({ ResourceAppId: s.resourceAppId, Scope: s.scopes.join(' ') })),
        ];
        return {
          tenant,
          targets: [
            target('ServicePrincipal', sp?.id ?? null, sp?.displayName ?? null, {
              modifiedProperties: added({
                'ConsentContext.IsAdminConsent': true,
                'ConsentAction.Permissions': permissions,
              }),
            }),
          ],
        };
      },
    },
    createPermissionGrant: {
      activityDisplayName: 'Add delegated permission grant',
      category: 'ApplicationManagement',
      operationType: 'Assign',
      subject: ({ args: [input], result }) => ({
        tenant: input.tenant,
        targets: [
          target('OAuth2PermissionGrant', result?.id ?? null, null, {
            modifiedProperties: changed({ ...input, scope: result?.scope ?? input.scope }, [
              'clientId',
              'resourceId',
              'consentType',
              'principalId',
              'scope',
            ]),
          }),
        ],
      }),
    },
    updatePermissionGrant: {
      activityDisplayName: 'Update delegated permission grant',
      category: 'ApplicationManagement',
      operationType: 'Update',
      subject: ({ args: [tenant, id, scope], result }) => ({
        tenant,
        targets: [
          target('OAuth2PermissionGrant', id, null, {
            modifiedProperties: changed({ scope: result?.scope ?? scope }, ['scope']),
          }),
        ],
      }),
    },
    deletePermissionGrant: {
      activityDisplayName: 'Remove delegated permission grant',
      category: 'ApplicationManagement',
      operationType: 'Unassign',
      subject: ({ args: [tenant, id] }) => ({ tenant, targets: [target('OAuth2PermissionGrant', id, null)] }),
    },
  },
  conditionalAccessPolicies: {
    create: {
      activityDisplayName: 'Add conditional access policy',
      category: 'Policy',
      operationType: 'Add',
      subject: ({ args: [tenant, input], result }) => ({
        tenant,
        targets: [
          target('Policy', result?.id ?? null, result?.displayName ?? input.displayName ?? null, {
            modifiedProperties: changed(result ?? input, [
              'displayName',
              'state',
              'conditions',
              'grantControls',
            ]),
          }),
        ],
      }),
    },
    update: {
      activityDisplayName: 'Update conditional access policy',
      category: 'Policy',
      operationType: 'Update',
      subject: ({ args: [tenant, id, change], result }) => ({
        tenant,
        targets: [
          target('Policy', result?.id ?? id, result?.displayName ?? null, {
            modifiedProperties: changed(change, ['displayName', 'state', 'conditions', 'grantControls']),
          }),
        ],
      }),
    },
    delete: deletion('Delete conditional access policy', 'Policy', 'Policy', async (lookup, id) => {
      const policy = await lookup.store.db
        .selectFrom('conditional_access_policies')
        .select(['id', 'display_name'])
        .where('id', '=', id.toLowerCase())
        .executeTakeFirst();
      return policy === undefined ? undefined : target('Policy', policy.id, policy.display_name);
    }),
  },
};

/**
 * The public methods of the directory services that only read: not audited. A method in neither this list nor
 * {@link AUDIT_ACTIVITIES} fails the audit coverage test.
 */
export const DIRECTORY_READS: {
  readonly [N in keyof DirectoryServices]: readonly AsyncMethodName<DirectoryServices[N]>[];
} = {
  tenants: ['require', 'list'],
  applications: ['require', 'requireOwn', 'get', 'list', 'listServicePrincipals', 'listOwners'],
  credentials: ['checkProof'],
  users: ['get', 'list'],
  servicePrincipals: ['get', 'list'],
  grants: [
    'listAppRoleAssignments',
    'listPermissionGrants',
    'getAppRoleAssignment',
    'listAppRoleAssignmentsOf',
    'listAppRoleAssignedTo',
    'listPermissionGrantsOf',
    'getPermissionGrant',
    'describeAppRoleAssignments',
  ],
  conditionalAccessPolicies: ['get', 'list'],
};
