import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import type { Application, ServicePrincipal } from '../directory/model.js';
import { requireAllowed, type Caller } from './authentication.js';
import { graphAppRole, graphPermissionScope } from './applications.js';
import { ManagementError } from './errors.js';
import { collectionBody, listServicePrincipals, SERVICE_PRINCIPAL_TYPE } from './collection-queries.js';
import { parseEntityQuery, queryOf, selected, type EntityType } from './odata.js';
import {
  checkBody,
  collectionQueryOf,
  objectId,
  odataContext,
  onDirectoryError,
  orNotFound,
} from './route-helpers.js';

/** The resource paths under `/v1.0` this module answers (another method on them answers 405). */
export const SERVICE_PRINCIPALS_PATHS: readonly RegExp[] = [
  /^\/v1\.0\/servicePrincipals$/,
  /^\/v1\.0\/servicePrincipals\/[^/]+$/,
  /^\/v1\.0\/servicePrincipals\([^/]*\)$/,
];

/**
 * Graph's `servicePrincipal` as far as Tessera keeps it: `$select` may name every property of
 * {@link graphServicePrincipal}; `$filter`, `$orderby` and `$search` what the collection's SQL supports.
 */
export const SERVICE_PRINCIPAL_ENTITY: EntityType = {
  ...SERVICE_PRINCIPAL_TYPE,
  queries: 'full',
  properties: {
    ...Object.fromEntries(
      [
        'alternativeNames',
        'appDescription',
        'applicationTemplateId',
        'description',
        'homepage',
        'loginUrl',
        'logoutUrl',
        'notes',
        'notificationEmailAddresses',
        'replyUrls',
        'tokenEncryptionKeyId',
        'keyCredentials',
        'passwordCredentials',
      ].map((name) => [name, 'string' as const]),
    ),
    appRoleAssignmentRequired: 'boolean',
    ...SERVICE_PRINCIPAL_TYPE.properties,
  },
};

/**
 * A service principal in Graph's JSON, with the app roles, delegated scopes, names and reply URLs of its
 * application (`null` / `[]` when it was deleted meanwhile); properties Tessera does not keep are `null` (lists
 * `[]`).
 *
 * @see https://learn.microsoft.com/graph/api/resources/serviceprincipal
 */
export function graphServicePrincipal(
  sp: ServicePrincipal,
  app: Application | undefined,
  select: readonly string[] | undefined,
): Record<string, unknown> {
  const all: Record<string, unknown> = {
    id: sp.id,
    deletedDateTime: null,
    accountEnabled: sp.accountEnabled,
    alternativeNames: [],
    appDisplayName: app?.displayName ?? null,
    appDescription: null,
    appId: sp.appId,
    applicationTemplateId: null,
    appOwnerOrganizationId: sp.appOwnerOrganizationId,
    appRoleAssignmentRequired: false,
    description: null,
    displayName: sp.displayName,
    homepage: null,
    loginUrl: null,
    logoutUrl: app?.web.logoutUrl ?? null,
    notes: null,
    notificationEmailAddresses: [],
    replyUrls:
      app === undefined
        ? []
        : [...app.web.redirectUris, ...app.spa.redirectUris, ...app.publicClient.redirectUris],
    servicePrincipalNames: [sp.appId, ...(app?.identifierUris ?? [])],
    servicePrincipalType: 'Application',
    signInAudience: app?.signInAudience ?? null,
    tags: [],
    tokenEncryptionKeyId: null,
    appRoles: (app?.appRoles ?? []).map(graphAppRole),
    oauth2PermissionScopes: (app?.api.oauth2PermissionScopes ?? []).map(graphPermissionScope),
    keyCredentials: [],
    passwordCredentials: [],
  };
  return selected(all, select);
}

/** How a route names a service principal: `/servicePrincipals/{id}` or `/servicePrincipals(appId='{appId}')`. */
export type ServicePrincipalKey = { readonly id: string } | { readonly appId: string };

/**
 * The key of `(appId='…')` after a collection name, as Fastify's wildcard hands it over (percent-decoded):
 * `appId='…')` with OData's doubled quotes, optionally followed by `/{rest}`. Fastify's router reads `(` in a
 * path as the start of a parameter pattern, so these routes are registered as `/{collection}(*`.
 *
 * @param property the alternate key (`appId`).
 * @returns the key value and the path after it (`''` when none); undefined when the text is no such key.
 * @see OData Version 4.01 Part 2: URL Conventions §4.3.1 (alternate keys)
 */
export function parseAlternateKey(
  wildcard: string,
  property: string,
): { readonly value: string; readonly rest: string } | undefined {
  const match = new RegExp(`^${property}='((?:[^']|'')*)'\\)(/.*)?$`).exec(wildcard);
  if (match === null) return undefined;
  return { value: (match[1] ?? '').replaceAll("''", "'"), rest: match[2] ?? '' };
}

/**
 * A service principal of the caller's tenant, by object id or `appId`; another tenant's does not exist here.
 *
 * @throws ManagementError `invalid` (not a GUID: Graph's `Invalid object identifier`), `not_found` (404).
 */
export async function servicePrincipalOfTenant(
  context: ServerContext,
  tenantId: string,
  key: ServicePrincipalKey,
): Promise<ServicePrincipal> {
  const ref = 'id' in key ? { id: objectId(key.id) } : { appId: objectId(key.appId) };
  return orNotFound(context.directory.servicePrincipals.get(tenantId, ref), 'id' in key ? key.id : key.appId);
}

/** Properties of `servicePrincipal` a client cannot set here (Graph's read-only ones, and those of the app). */
const READ_ONLY = [
  'id',
  'deletedDateTime',
  'appDisplayName',
  'appDescription',
  'appOwnerOrganizationId',
  'servicePrincipalNames',
  'servicePrincipalType',
  'signInAudience',
  'applicationTemplateId',
];

/** The properties `PATCH /servicePrincipals/{id}` changes. */
const UPDATE_SHAPE = {
  writable: { accountEnabled: 'boolean' },
  readOnly: [...READ_ONLY, 'appId'],
  odataType: 'microsoft.graph.servicePrincipal',
} as const;

/** The properties `POST /servicePrincipals` takes. */
const CREATE_SHAPE = {
  writable: { appId: 'string', accountEnabled: 'boolean' },
  readOnly: READ_ONLY,
  required: ['appId'],
  odataType: 'microsoft.graph.servicePrincipal',
} as const;

/**
 * `GET|POST /v1.0/servicePrincipals`, `GET|PATCH|DELETE /v1.0/servicePrincipals/{id}` and
 * `/v1.0/servicePrincipals(appId='{appId}')` (Graph v1.0 `servicePrincipal`), through
 * `directory.servicePrincipals`, limited to the caller's tenant.
 *
 * @see https://learn.microsoft.com/graph/api/serviceprincipal-list
 * @see https://learn.microsoft.com/graph/api/serviceprincipal-post-serviceprincipals
 * @see https://learn.microsoft.com/graph/api/serviceprincipal-get
 * @see https://learn.microsoft.com/graph/api/serviceprincipal-update
 * @see https://learn.microsoft.com/graph/api/serviceprincipal-delete
 */
export function registerServicePrincipalRoutes(
  scope: FastifyInstance,
  context: ServerContext,
  authenticate: (request: FastifyRequest) => Promise<Caller>,
): void {
  /**
   * The application of a service principal, read through the directory cache (a page of service principals reads
   * each application once per node until it changes); undefined when it was deleted meanwhile.
   */
  const applicationOf = (sp: ServicePrincipal): Promise<Application | undefined> =>
    context.cache.application(sp.appId);

  scope.get('/servicePrincipals', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'servicePrincipals.read');
    const query = collectionQueryOf(request, SERVICE_PRINCIPAL_ENTITY);
    const page = await listServicePrincipals(context.store, caller.tenantId, query);
    const apps = await Promise.all(page.items.map(applicationOf));
    const appOf = new Map(page.items.map((sp, at) => [sp.id, apps[at]]));
    return reply.send(
      collectionBody(context, 'servicePrincipals', query, page, (sp) =>
        graphServicePrincipal(sp, appOf.get(sp.id), query.select),
      ),
    );
  });

  scope.post('/servicePrincipals', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'servicePrincipals.write');
    const body = checkBody(request.body, CREATE_SHAPE, 'create a service principal');
    const appId = body.appId as string;
    const accountEnabled = body.accountEnabled as boolean | undefined;
    const created = context.directory.servicePrincipals.create(caller.tenantId, objectId(appId), {
      ...(accountEnabled === undefined ? {} : { accountEnabled }),
    });
    const sp = await onDirectoryError(
      onDirectoryError(created, 'conflict', () => {
        throw new ManagementError(
          'key_value_conflict',
          `The service principal cannot be created, updated, or restored because the service principal name ${appId} is already in use.`,
        );
      }),
      'not_found',
      () => {
        throw new ManagementError(
          'invalid',
          `The appId '${appId}' of the service principal does not reference a valid application object.`,
        );
      },
    );
    return reply
      .status(201)
      .header('location', `${context.baseUrl()}/v1.0/servicePrincipals/${sp.id}`)
      .send({
        '@odata.context': odataContext(context, 'servicePrincipals', undefined, true),
        ...graphServicePrincipal(sp, await applicationOf(sp), undefined),
      });
  });

  const get = async (request: FastifyRequest, reply: FastifyReply, keyOf: () => ServicePrincipalKey) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'servicePrincipals.read');
    const select = parseEntityQuery(queryOf(request.url), SERVICE_PRINCIPAL_ENTITY);
    const sp = await servicePrincipalOfTenant(context, caller.tenantId, keyOf());
    return reply.send({
      '@odata.context': odataContext(context, 'servicePrincipals', select, true),
      ...graphServicePrincipal(sp, await applicationOf(sp), select),
    });
  };

  const update = async (request: FastifyRequest, reply: FastifyReply, keyOf: () => ServicePrincipalKey) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'servicePrincipals.write');
    const body = checkBody(request.body, UPDATE_SHAPE, 'update a service principal');
    const sp = await servicePrincipalOfTenant(context, caller.tenantId, keyOf());
    const accountEnabled = body.accountEnabled as boolean | undefined;
    await context.directory.servicePrincipals.update(caller.tenantId, sp.id, {
      ...(accountEnabled === undefined ? {} : { accountEnabled }),
    });
    return reply.status(204).send();
  };

  const remove = async (request: FastifyRequest, reply: FastifyReply, keyOf: () => ServicePrincipalKey) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'servicePrincipals.write');
    const sp = await servicePrincipalOfTenant(context, caller.tenantId, keyOf());
    await context.directory.servicePrincipals.delete(caller.tenantId, sp.id);
    return reply.status(204).send();
  };

  type ById = { Params: { id: string } };
  scope.get<ById>('/servicePrincipals/:id', (request, reply) => get(request, reply, () => request.params));
  scope.patch<ById>('/servicePrincipals/:id', (request, reply) =>
    update(request, reply, () => request.params),
  );
  scope.delete<ById>('/servicePrincipals/:id', (request, reply) =>
    remove(request, reply, () => request.params),
  );

  /** `servicePrincipals(appId='…')`: its key, or Graph's 400 for a malformed one. */
  const byAppId = (request: FastifyRequest<{ Params: { '*': string } }>): ServicePrincipalKey => {
    const key = parseAlternateKey(request.params['*'], 'appId');
    if (key === undefined) {
      throw new ManagementError(
        'invalid',
        "The alternate key must be written servicePrincipals(appId='{appId}').",
      );
    }
    if (key.rest !== '') {
      // Navigations under the alternate key are not routed: Graph's answer for a segment that names nothing.
      const segment = key.rest.split('/')[1] ?? '';
      throw new ManagementError(
        'no_segment',
        `Resource not found for the segment '${segment.slice(0, 100)}'.`,
      );
    }
    return { appId: key.value };
  };
  type ByAppId = { Params: { '*': string } };
  scope.get<ByAppId>('/servicePrincipals(*', (request, reply) => get(request, reply, () => byAppId(request)));
  scope.patch<ByAppId>('/servicePrincipals(*', (request, reply) =>
    update(request, reply, () => byAppId(request)),
  );
  scope.delete<ByAppId>('/servicePrincipals(*', (request, reply) =>
    remove(request, reply, () => byAppId(request)),
  );
}
