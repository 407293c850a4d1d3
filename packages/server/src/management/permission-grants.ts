import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import type { OAuth2PermissionGrant } from '../directory/model.js';
import type { PermissionGrantFilter } from '../directory/services/grants.js';
import { requireAllowed, type Caller } from './authentication.js';
import { ManagementError } from './errors.js';
import { parseEntityQuery, queryOf, selected, type EntityType, type FilterClause } from './odata.js';
import { servicePrincipalOfTenant } from './service-principals.js';
import {
  checkBody,
  collectionQueryOf,
  nextLinkOf,
  objectId,
  odataContext,
  onDirectoryError,
  orNotFound,
  resourceNotFound,
} from './route-helpers.js';

/** The resource paths under `/v1.0` this module answers (another method on them answers 405). */
export const PERMISSION_GRANTS_PATHS: readonly RegExp[] = [
  /^\/v1\.0\/oauth2PermissionGrants$/,
  /^\/v1\.0\/servicePrincipals\/[^/]+\/oauth2PermissionGrants$/,
  /^\/v1\.0\/oauth2PermissionGrants\/[^/]+$/,
];

/** Graph's `oauth2PermissionGrant`: what `$select` may name and `$filter` compare (`eq` only). */
export const PERMISSION_GRANT_TYPE: EntityType = {
  name: 'microsoft.graph.oAuth2PermissionGrant',
  properties: {
    clientId: 'string',
    consentType: 'string',
    id: 'string',
    principalId: 'string',
    resourceId: 'string',
    scope: 'string',
  },
  filterable: ['clientId', 'consentType', 'principalId', 'resourceId'],
};

/**
 * A delegated permission grant in Graph's JSON, in Graph's property order (`principalId` null for
 * `AllPrincipals`).
 *
 * @see https://learn.microsoft.com/graph/api/resources/oauth2permissiongrant
 */
export function graphPermissionGrant(
  grant: OAuth2PermissionGrant,
  select: readonly string[] | undefined,
): Record<string, unknown> {
  return selected(
    {
      clientId: grant.clientId,
      consentType: grant.consentType,
      id: grant.id,
      principalId: grant.principalId,
      resourceId: grant.resourceId,
      scope: grant.scope,
    },
    select,
  );
}

/** The body of `POST /oauth2PermissionGrants`. */
const CREATE_SHAPE = {
  writable: {
    clientId: 'string',
    consentType: 'string',
    principalId: 'string?',
    resourceId: 'string',
    scope: 'string',
  },
  readOnly: ['id'],
  required: ['clientId', 'consentType', 'resourceId', 'scope'],
  odataType: 'microsoft.graph.oAuth2PermissionGrant',
} as const;

/** The body of `PATCH /oauth2PermissionGrants/{id}`: only the scopes change. */
const UPDATE_SHAPE = {
  writable: { scope: 'string' },
  readOnly: ['id', 'clientId', 'consentType', 'principalId', 'resourceId'],
  required: ['scope'],
  odataType: 'microsoft.graph.oAuth2PermissionGrant',
} as const;

/** A grant id of a path: Tessera's are GUIDs; anything else is no grant. */
const GRANT_ID = /^[0-9A-Za-z_-]{1,64}$/;

/**
 * The `$filter` clauses as equality conditions on the grant's properties; `'none'` when they cannot all hold
 * (two values of one property, a consent type Graph does not have).
 *
 * @throws ManagementError `unsupported_query` for `startswith` (ids and the consent type compare whole),
 *   `invalid` for an id that is no GUID.
 */
function grantFilter(clauses: readonly FilterClause[]): PermissionGrantFilter | 'none' {
  const conditions: Record<string, string> = {};
  let satisfiable = true;
  for (const clause of clauses) {
    if (clause.operator !== 'eq' || typeof clause.value !== 'string') {
      throw new ManagementError(
        'unsupported_query',
        `Unsupported or invalid query filter clause specified for property '${clause.property}' of resource 'oAuth2PermissionGrant'.`,
      );
    }
    const value = clause.property === 'consentType' ? clause.value : objectId(clause.value);
    if (clause.property === 'consentType' && value !== 'AllPrincipals' && value !== 'Principal') {
      satisfiable = false;
    }
    const previous = conditions[clause.property];
    if (previous !== undefined && previous !== value) satisfiable = false;
    conditions[clause.property] = value;
  }
  return satisfiable ? conditions : 'none';
}

/**
 * `GET|POST /v1.0/oauth2PermissionGrants` (`$filter` on `clientId`, `consentType`, `principalId`, `resourceId`)
 * and `GET|PATCH|DELETE /v1.0/oauth2PermissionGrants/{id}` (Graph v1.0 `oAuth2PermissionGrant`: delegated
 * consent), and a client's grants, `GET /v1.0/servicePrincipals/{id}/oauth2PermissionGrants`, through `directory.grants`, limited to the caller's tenant. A grant created or changed here is used
 * by the next authorize and token requests on every node, without asking the user to consent again.
 *
 * @see https://learn.microsoft.com/graph/api/oauth2permissiongrant-list
 * @see https://learn.microsoft.com/graph/api/oauth2permissiongrant-post
 * @see https://learn.microsoft.com/graph/api/oauth2permissiongrant-get
 * @see https://learn.microsoft.com/graph/api/oauth2permissiongrant-update
 * @see https://learn.microsoft.com/graph/api/oauth2permissiongrant-delete
 * @see https://learn.microsoft.com/graph/api/serviceprincipal-list-oauth2permissiongrants
 */
export function registerPermissionGrantRoutes(
  scope: FastifyInstance,
  context: ServerContext,
  authenticate: (request: FastifyRequest) => Promise<Caller>,
): void {
  const contextUrl = (select: readonly string[] | undefined, entity: boolean) =>
    odataContext(context, 'oauth2PermissionGrants', select, entity);

  /** A grant of the caller's tenant, or Graph's 404. */
  const grantOfTenant = async (caller: Caller, id: string): Promise<OAuth2PermissionGrant> => {
    if (!GRANT_ID.test(id)) throw resourceNotFound(id);
    return orNotFound(context.directory.grants.getPermissionGrant(caller.tenantId, id), id);
  };

  /** One page of grants: all of the tenant's, or those of one client service principal (`clientOf`). */
  const list = async (
    request: FastifyRequest,
    reply: FastifyReply,
    clientOf?: (caller: Caller) => Promise<string>,
  ) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'permissionGrants.read');
    const query = collectionQueryOf(request, PERMISSION_GRANT_TYPE);
    const clientId = clientOf === undefined ? undefined : await clientOf(caller);
    const clauses: readonly FilterClause[] = [
      ...query.filter,
      ...(clientId === undefined ? [] : [{ property: 'clientId', operator: 'eq' as const, value: clientId }]),
    ];
    const filter = grantFilter(clauses);
    const page =
      filter === 'none'
        ? { items: [], next: undefined }
        : await context.directory.grants.listPermissionGrants({
            tenant: caller.tenantId,
            top: query.top,
            ...(query.after === undefined ? {} : { after: query.after }),
            filter,
          });
    return reply.send({
      '@odata.context': contextUrl(query.select, false),
      value: page.items.map((grant) => graphPermissionGrant(grant, query.select)),
      ...nextLinkOf(context, request, query, page.next),
    });
  };

  scope.get('/oauth2PermissionGrants', (request, reply) => list(request, reply));
  scope.get<{ Params: { id: string } }>('/servicePrincipals/:id/oauth2PermissionGrants', (request, reply) =>
    list(request, reply, async (caller) => {
      const sp = await servicePrincipalOfTenant(context, caller.tenantId, { id: request.params.id });
      return sp.id;
    }),
  );

  scope.post('/oauth2PermissionGrants', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'permissionGrants.write');
    const body = checkBody(request.body, CREATE_SHAPE, 'create an oAuth2PermissionGrant');
    const consentType = body.consentType as string;
    if (consentType !== 'AllPrincipals' && consentType !== 'Principal') {
      throw new ManagementError(
        'invalid',
        `Invalid value specified for property 'consentType' of resource 'OAuth2PermissionGrant'.`,
      );
    }
    const clientId = objectId(body.clientId as string);
    const resourceId = objectId(body.resourceId as string);
    const principal = body.principalId as string | null | undefined;
    const principalId = principal === undefined || principal === null ? null : objectId(principal);
    const created = context.directory.grants.createPermissionGrant({
      tenant: caller.tenantId,
      clientId,
      resourceId,
      consentType,
      principalId,
      scope: body.scope as string,
    });
    const grant = await onDirectoryError(created, 'conflict', () => {
      throw new ManagementError('key_value_conflict', 'Permission entry already exists.');
    });
    return reply
      .status(201)
      .header('location', `${context.baseUrl()}/v1.0/oauth2PermissionGrants/${grant.id}`)
      .send({ '@odata.context': contextUrl(undefined, true), ...graphPermissionGrant(grant, undefined) });
  });

  type ById = { Params: { id: string } };
  scope.get<ById>('/oauth2PermissionGrants/:id', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'permissionGrants.read');
    const select = parseEntityQuery(queryOf(request.url), PERMISSION_GRANT_TYPE);
    const grant = await grantOfTenant(caller, request.params.id);
    return reply.send({ '@odata.context': contextUrl(select, true), ...graphPermissionGrant(grant, select) });
  });

  scope.patch<ById>('/oauth2PermissionGrants/:id', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'permissionGrants.write');
    const body = checkBody(request.body, UPDATE_SHAPE, 'update an oAuth2PermissionGrant');
    const grant = await grantOfTenant(caller, request.params.id);
    await context.directory.grants.updatePermissionGrant(caller.tenantId, grant.id, body.scope as string);
    return reply.status(204).send();
  });

  scope.delete<ById>('/oauth2PermissionGrants/:id', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'permissionGrants.write');
    const grant = await grantOfTenant(caller, request.params.id);
    await context.directory.grants.deletePermissionGrant(caller.tenantId, grant.id);
    return reply.status(204).send();
  });
}
