import { describe, expect, it } from 'vitest';
import { builtinDirectoryApplication, DIRECTORY_APP_ID } from '../src/directory/builtin-directory-app.js';
import { missingConsent, resolveScopes, type ConsentReader } from '../src/directory/consent.js';
import {
  emptyApplicationDefinition,
  type Application,
  type OAuth2PermissionGrant,
  type PermissionScope,
  type ServicePrincipal,
} from '../src/directory/model.js';

// The consent engine against an in-memory directory: one tenant, a web client, a middle-tier API that requires a
// downstream API (combined consent), and the built-in directory API.

const TENANT = '11111111-1111-1111-1111-111111111111';
const OTHER_TENANT = '22222222-2222-2222-2222-222222222222';
const ALICE = 'a11ce000-0000-0000-0000-000000000001';
const BOB = 'b0b00000-0000-0000-0000-000000000002';

function scope(id: string, value: string, type: 'User' | 'Admin' = 'User'): PermissionScope {
  return {
    id,
    value,
    type,
    adminConsentDisplayName: value,
    adminConsentDescription: value,
    userConsentDisplayName: value,
    userConsentDescription: value,
    isEnabled: true,
  };
}

function application(appId: string, fields: Partial<Application>): Application {
  return {
    ...emptyApplicationDefinition,
    id: `object-${appId}`,
    appId,
    tenantId: TENANT,
    displayName: appId,
    signInAudience: 'AzureADMyOrg',
    identifierUris: [],
    passwordCredentials: [],
    keyCredentials: [],
    accountEnabled: true,
    ...fields,
  };
}

const downstream = application('d0000000-0000-0000-0000-00000000000d', {
  identifierUris: ['api://downstream'],
  api: {
    ...emptyApplicationDefinition.api,
    oauth2PermissionScopes: [scope('d1', 'Downstream.Read')],
  },
});

/** The middle tier; built per case so `knownClientApplications` / `preAuthorizedApplications` vary. */
function ordersApi(fields: { known?: string[]; preAuthorized?: string[] } = {}): Application {
  return application('0a000000-0000-0000-0000-00000000000a', {
    identifierUris: ['api://orders'],
    api: {
      ...emptyApplicationDefinition.api,
      oauth2PermissionScopes: [
        scope('o1', 'Orders.Read'),
        scope('o2', 'Orders.Write'),
        scope('o3', 'Orders.Admin', 'Admin'),
      ],
      knownClientApplications: fields.known ?? [],
      preAuthorizedApplications:
        fields.preAuthorized === undefined
          ? []
          : [{ appId: WEB_APP_ID, delegatedPermissionIds: fields.preAuthorized }],
    },
    requiredResourceAccess: [
      { resourceAppId: downstream.appId, resourceAccess: [{ id: 'd1', type: 'Scope' }] },
    ],
  });
}

const WEB_APP_ID = 'c0000000-0000-0000-0000-00000000000c';
const web = application(WEB_APP_ID, {
  requiredResourceAccess: [
    {
      resourceAppId: '0a000000-0000-0000-0000-00000000000a',
      resourceAccess: [
        { id: 'o1', type: 'Scope' },
        { id: 'o2', type: 'Scope' },
      ],
    },
  ],
});

/** A grant of `scope` from `client` to `resource` in `tenant`: for everyone, or for one user. */
interface GrantRow {
  client: Application;
  resource: Application;
  scope: string;
  /** A user's object id, or `AllPrincipals`. */
  principal: string;
  tenant?: string;
}

function reader(
  api: Application,
  grants: readonly GrantRow[],
): ConsentReader & {
  resourceAppId(identifier: string): Promise<string | undefined>;
} {
  const apps = [builtinDirectoryApplication, web, api, downstream];
  const spId = (tenant: string, appId: string) => `sp-${tenant}-${appId}`;
  const rows: OAuth2PermissionGrant[] = grants.map((g, i) => {
    const tenant = g.tenant ?? TENANT;
    return {
      id: `grant-${i}`,
      tenantId: tenant,
      clientId: spId(tenant, g.client.appId),
      consentType: g.principal === 'AllPrincipals' ? 'AllPrincipals' : 'Principal',
      principalId: g.principal === 'AllPrincipals' ? null : g.principal,
      resourceId: spId(tenant, g.resource.appId),
      scope: g.scope,
    };
  });
  return {
    application: (appId) => Promise.resolve(apps.find((a) => a.appId === appId)),
    resourceAppId: (identifier) =>
      Promise.resolve(
        apps.find(
          (a) =>
            a.appId === identifier ||
            a.identifierUris.some((u) => u.toLowerCase() === identifier.toLowerCase()),
        )?.appId,
      ),
    // Every app has a service principal in both tenants, so a grant's tenant is what decides.
    servicePrincipal: (tenantId, appId): Promise<ServicePrincipal | undefined> =>
      Promise.resolve(
        apps.some((a) => a.appId === appId)
          ? {
              id: spId(tenantId, appId),
              appId,
              tenantId,
              displayName: appId,
              appOwnerOrganizationId: TENANT,
              accountEnabled: true,
            }
          : undefined,
      ),
    permissionGrants: (clientSpId, resourceSpId) =>
      Promise.resolve(rows.filter((r) => r.clientId === clientSpId && r.resourceId === resourceSpId)),
  };
}

/** A need as the table writes it: `client → resource: scopes [admin-only subset]`. */
type Need = [client: string, resource: string, scopes: string[], adminScopes: string[]];

const name = (app: Application) =>
  app.appId === DIRECTORY_APP_ID
    ? 'directory'
    : app.appId === WEB_APP_ID
      ? 'web'
      : app.appId === downstream.appId
        ? 'downstream'
        : 'orders';

interface Case {
  name: string;
  scope: string;
  api?: { known?: string[]; preAuthorized?: string[] };
  grants?: (api: Application) => GrantRow[];
  combinedConsent?: boolean;
  ignoreGranted?: boolean;
  expected: Need[];
}

const cases: Case[] = [
  {
    name: 'nothing granted: the OIDC scopes of the directory API and the resource’s scopes',
    scope: 'openid profile api://orders/Orders.Read',
    expected: [
      ['web', 'directory', ['openid', 'profile'], []],
      ['web', 'orders', ['Orders.Read'], []],
    ],
  },
  {
    name: 'the user’s own grants cover everything',
    scope: 'openid profile api://orders/Orders.Read',
    grants: (api) => [
      { client: web, resource: builtinDirectoryApplication, scope: 'openid profile', principal: ALICE },
      { client: web, resource: api, scope: 'Orders.Read', principal: ALICE },
    ],
    expected: [],
  },
  {
    name: 'another user’s grant does not count',
    scope: 'api://orders/Orders.Read',
    grants: (api) => [{ client: web, resource: api, scope: 'Orders.Read', principal: BOB }],
    expected: [['web', 'orders', ['Orders.Read'], []]],
  },
  {
    name: 'a grant for everyone (AllPrincipals) counts for every user',
    scope: 'api://orders/Orders.Read api://orders/Orders.Write',
    grants: (api) => [
      { client: web, resource: api, scope: 'Orders.Read Orders.Write', principal: 'AllPrincipals' },
    ],
    expected: [],
  },
  {
    name: 'a grant in another tenant does not count',
    scope: 'api://orders/Orders.Read',
    grants: (api) => [
      { client: web, resource: api, scope: 'Orders.Read', principal: 'AllPrincipals', tenant: OTHER_TENANT },
    ],
    expected: [['web', 'orders', ['Orders.Read'], []]],
  },
  {
    name: 'a grant written in other letter case names the registered scope',
    scope: 'api://orders/orders.read',
    grants: (api) => [{ client: web, resource: api, scope: 'ORDERS.READ', principal: ALICE }],
    expected: [],
  },
  {
    name: 'only what is missing is asked',
    scope: 'api://orders/Orders.Read api://orders/Orders.Write',
    grants: (api) => [{ client: web, resource: api, scope: 'Orders.Read', principal: ALICE }],
    expected: [['web', 'orders', ['Orders.Write'], []]],
  },
  {
    name: 'pre-authorized scopes are never asked (preAuthorizedApplications)',
    scope: 'api://orders/Orders.Read api://orders/Orders.Write',
    api: { preAuthorized: ['o1'] },
    expected: [['web', 'orders', ['Orders.Write'], []]],
  },
  {
    name: 'admin-only scopes are reported as such',
    scope: 'api://orders/Orders.Read api://orders/Orders.Admin',
    expected: [['web', 'orders', ['Orders.Read', 'Orders.Admin'], ['Orders.Admin']]],
  },
  {
    name: '/.default stands for the client’s static permissions (requiredResourceAccess)',
    scope: 'api://orders/.default',
    expected: [['web', 'orders', ['Orders.Read', 'Orders.Write'], []]],
  },
  {
    name: '/.default with part of it granted asks the rest',
    scope: 'api://orders/.default',
    grants: (api) => [{ client: web, resource: api, scope: 'Orders.Write', principal: ALICE }],
    expected: [['web', 'orders', ['Orders.Read'], []]],
  },
  {
    name: 'the directory API as the resource: its scopes and the OIDC scopes are one need',
    scope: 'openid offline_access User.Read',
    expected: [['web', 'directory', ['openid', 'offline_access', 'User.Read'], []]],
  },
  {
    name: 'the directory API as the resource, consented',
    scope: 'openid offline_access User.Read',
    grants: () => [
      {
        client: web,
        resource: builtinDirectoryApplication,
        scope: 'openid offline_access User.Read',
        principal: ALICE,
      },
    ],
    expected: [],
  },
  {
    name: 'combined consent: the resource knows the client, so its own static permissions are asked too',
    scope: 'api://orders/Orders.Read',
    api: { known: [WEB_APP_ID] },
    combinedConsent: true,
    expected: [
      ['web', 'orders', ['Orders.Read'], []],
      ['orders', 'downstream', ['Downstream.Read'], []],
    ],
  },
  {
    name: 'combined consent already given for the downstream API',
    scope: 'api://orders/Orders.Read',
    api: { known: [WEB_APP_ID] },
    combinedConsent: true,
    grants: (api) => [{ client: api, resource: downstream, scope: 'Downstream.Read', principal: ALICE }],
    expected: [['web', 'orders', ['Orders.Read'], []]],
  },
  {
    name: 'combined consent is not asked when not requested (the refresh grant)',
    scope: 'api://orders/Orders.Read',
    api: { known: [WEB_APP_ID] },
    expected: [['web', 'orders', ['Orders.Read'], []]],
  },
  {
    name: 'combined consent is not asked for a client the resource does not know',
    scope: 'api://orders/Orders.Read',
    api: { known: ['e0000000-0000-0000-0000-00000000000e'] },
    combinedConsent: true,
    expected: [['web', 'orders', ['Orders.Read'], []]],
  },
  {
    name: 'ignoring recorded consent (prompt=consent) asks even granted and pre-authorized scopes',
    scope: 'openid api://orders/Orders.Read api://orders/Orders.Write',
    api: { preAuthorized: ['o1'] },
    grants: (api) => [
      { client: web, resource: builtinDirectoryApplication, scope: 'openid', principal: ALICE },
      { client: web, resource: api, scope: 'Orders.Write', principal: ALICE },
    ],
    ignoreGranted: true,
    expected: [
      ['web', 'directory', ['openid'], []],
      ['web', 'orders', ['Orders.Read', 'Orders.Write'], []],
    ],
  },
];

describe('the consent engine (missingConsent)', () => {
  it.each(cases)('$name', async (c) => {
    const api = ordersApi(c.api);
    const cache = reader(api, c.grants?.(api) ?? []);
    const { resource, grant } = await resolveScopes(cache, web, c.scope, TENANT);
    const needs = await missingConsent(cache, {
      tenantId: TENANT,
      userId: ALICE,
      client: web,
      resource,
      grant,
      combinedConsent: c.combinedConsent,
      ignoreGranted: c.ignoreGranted,
    });
    expect(
      needs.map((n): Need => [name(n.client), name(n.resource), [...n.scopes], [...n.adminScopes]]),
    ).toEqual(c.expected);
  });
});
