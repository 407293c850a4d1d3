import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import type { AppRoleAssignmentView } from '../directory/services/grants.js';
import type { Page } from '../directory/services/paging.js';
import type { AppRoleAssignment } from '../directory/model.js';
import { requireAllowed, type Caller } from './authentication.js';
import { ManagementError } from './errors.js';
import { parseEntityQuery, queryOf, selected, type EntityType } from './odata.js';
import {
  checkBody,
  collectionQueryOf,
  graphDateTime,
  nextLinkOf,
  objectId,
  odataContext,
  orNotFound,
  resourceNotFound,
} from './route-helpers.js';
import { servicePrincipalOfTenant } from './service-principals.js';

/** The resource paths under `/v1.0` this module answers (another method on them answers 405). */
export const APP_ROLE_ASSIGNMENTS_PATHS: readonly RegExp[] = [
  /^\/v1\.0\/servicePrincipals\/[^/]+\/(?:appRoleAssignedTo|appRoleAssignments)(?:\/[^/]+)?$/,
  /^\/v1\.0\/users\/[^/]+\/appRoleAssignments(?:\/[^/]+)?$/,
];

/** Graph's `appRoleAssignment`: what `$select` may name. */
export const APP_ROLE_ASSIGNMENT_TYPE: EntityType = {
  name: 'microsoft.graph.appRoleAssignment',
  properties: {
    id: 'string',
    deletedDateTime: 'string',
    appRoleId: 'string',
    createdDateTime: 'string',
    principalDisplayName: 'string',
    principalId: 'string',
    principalType: 'string',
    resourceDisplayName: 'string',
    resourceId: 'string',
  },
  filterable: [],
};

/**
 * An app role assignment in Graph's JSON, in Graph's property order.
 *
 * @see https://learn.microsoft.com/graph/api/resources/approleassignment
 */
export function graphAppRoleAssignment(
  assignment: AppRoleAssignmentView,
  select: readonly string[] | undefined,
): Record<string, unknown> {
  return selected(
    {
      id: assignment.id,
      deletedDateTime: null,
      appRoleId: assignment.appRoleId,
      createdDateTime: graphDateTime(assignment.createdAt),
      principalDisplayName: assignment.principalDisplayName,
      principalId: assignment.principalId,
      principalType: assignment.principalType,
      resourceDisplayName: assignment.resourceDisplayName,
      resourceId: assignment.resourceId,
    },
    select,
  );
}

/** The body of `POST …/appRoleAssignedTo` and `POST …/appRoleAssignments`. */
const ASSIGN_SHAPE = {
  writable: { principalId: 'string', resourceId: 'string', appRoleId: 'string' },
  readOnly: [
    'id',
    'deletedDateTime',
    'createdDateTime',
    'principalDisplayName',
    'principalType',
    'resourceDisplayName',
  ],
  required: ['principalId', 'resourceId', 'appRoleId'],
  odataType: 'microsoft.graph.appRoleAssignment',
} as const;

/** An assignment id of a path: Tessera's are GUIDs; anything else is no assignment. */
const ASSIGNMENT_ID = /^[0-9A-Za-z-]{1,64}$/;

/** The object a route's assignments hang off: as the resource (`appRoleAssignedTo`) or the principal. */
interface Owner {
  /** `servicePrincipals('{id}')/appRoleAssignedTo` etc.: the `@odata.context` path. */
  readonly contextPath: string;
  readonly of: { readonly resourceId: string } | { readonly principalId: string };
}

/**
 * The app role assignments of service principals and users (Graph v1.0 `appRoleAssignment`), through
 * `directory.grants`, limited to the caller's tenant (another tenant's principal, resource or assignment is 404,
 * in the path and in the body):
 * `GET|POST /servicePrincipals/{id}/appRoleAssignedTo` (granted on a resource: application permissions and user
 * roles), `GET|DELETE …/appRoleAssignedTo/{assignmentId}`, `GET|POST /servicePrincipals/{id}/appRoleAssignments`
 * and `/users/{id | userPrincipalName}/appRoleAssignments` (held by a principal), `GET|DELETE …/{assignmentId}`.
 * A new assignment is in the principal's next token for the resource, on every node.
 *
 * @see https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignedto
 * @see https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto
 * @see https://learn.microsoft.com/graph/api/serviceprincipal-delete-approleassignedto
 * @see https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignments
 * @see https://learn.microsoft.com/graph/api/user-list-approleassignments
 * @see https://learn.microsoft.com/graph/api/user-post-approleassignments
 * @see https://learn.microsoft.com/graph/api/user-delete-approleassignments
 */
export function registerAppRoleAssignmentRoutes(
  scope: FastifyInstance,
  context: ServerContext,
  authenticate: (request: FastifyRequest) => Promise<Caller>,
): void {
  /** The resource service principal `{id}` of `…/appRoleAssignedTo`. */
  const asResource = async (caller: Caller, id: string): Promise<Owner> => {
    const sp = await servicePrincipalOfTenant(context, caller.tenantId, { id });
    return { contextPath: `servicePrincipals('${sp.id}')/appRoleAssignedTo`, of: { resourceId: sp.id } };
  };
  /** The principal service principal `{id}` of `/servicePrincipals/{id}/appRoleAssignments`. */
  const asServicePrincipal = async (caller: Caller, id: string): Promise<Owner> => {
    const sp = await servicePrincipalOfTenant(context, caller.tenantId, { id });
    return { contextPath: `servicePrincipals('${sp.id}')/appRoleAssignments`, of: { principalId: sp.id } };
  };
  /** The user `{id | userPrincipalName}` of `/users/{key}/appRoleAssignments`. */
  const asUser = async (caller: Caller, key: string): Promise<Owner> => {
    // A control character (PostgreSQL refuses NUL in text) or an over-long key names no user.
    if (key.length > 1024 || /\p{Cc}/u.test(key)) {
      throw resourceNotFound(key);
    }
    const user = await orNotFound(context.directory.users.get(caller.tenantId, key), key);
    return { contextPath: `users('${user.id}')/appRoleAssignments`, of: { principalId: user.id } };
  };

  const contextUrl = (owner: Owner, select: readonly string[] | undefined, entity: boolean) =>
    odataContext(context, owner.contextPath, select, entity);

  const list = async (
    request: FastifyRequest,
    reply: FastifyReply,
    ownerOf: (caller: Caller) => Promise<Owner>,
  ) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'appRoleAssignments.read');
    const query = collectionQueryOf(request, APP_ROLE_ASSIGNMENT_TYPE);
    const owner = await ownerOf(caller);
    const page = {
      tenant: caller.tenantId,
      top: query.top,
      ...(query.after === undefined ? {} : { after: query.after }),
    };
    const found: Page<AppRoleAssignment> =
      'resourceId' in owner.of
        ? await context.directory.grants.listAppRoleAssignedTo({ ...page, resourceId: owner.of.resourceId })
        : await context.directory.grants.listAppRoleAssignmentsOf({
            ...page,
            principalId: owner.of.principalId,
          });
    const described = await context.directory.grants.describeAppRoleAssignments(found.items);
    return reply.send({
      '@odata.context': contextUrl(owner, query.select, false),
      value: described.map((assignment) => graphAppRoleAssignment(assignment, query.select)),
      ...nextLinkOf(context, request, query, found.next),
    });
  };

  const assign = async (
    request: FastifyRequest,
    reply: FastifyReply,
    ownerOf: (caller: Caller) => Promise<Owner>,
  ) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'appRoleAssignments.write');
    const body = checkBody(request.body, ASSIGN_SHAPE, 'create an app role assignment');
    const input = {
      principalId: objectId(body.principalId as string),
      resourceId: objectId(body.resourceId as string),
      appRoleId: objectId(body.appRoleId as string),
    };
    const owner = await ownerOf(caller);
    const [name, expected] =
      'resourceId' in owner.of ? ['resourceId', owner.of.resourceId] : ['principalId', owner.of.principalId];
    if (input[name as 'resourceId' | 'principalId'] !== expected) {
      throw new ManagementError(
        'invalid',
        `The ${name} of the body must be the object '${expected}' of the request URL.`,
      );
    }
    const assignment = await orNotFound(
      context.directory.grants.assignAppRoleById({ tenant: caller.tenantId, ...input, refuseExisting: true }),
      name === 'resourceId' ? input.principalId : input.resourceId,
    );
    const [described] = await context.directory.grants.describeAppRoleAssignments([assignment]);
    return reply
      .status(201)
      .header('location', `${context.baseUrl()}${request.url.split('?')[0] ?? ''}/${assignment.id}`)
      .send({
        '@odata.context': contextUrl(owner, undefined, true),
        ...graphAppRoleAssignment(
          described ?? { ...assignment, principalDisplayName: '', resourceDisplayName: '' },
          undefined,
        ),
      });
  };

  /** The assignment `{assignmentId}` of the owner, or Graph's 404. */
  const assignmentOf = async (caller: Caller, owner: Owner, id: string): Promise<AppRoleAssignment> => {
    if (!ASSIGNMENT_ID.test(id)) throw resourceNotFound(id);
    return orNotFound(context.directory.grants.getAppRoleAssignment(caller.tenantId, id, owner.of), id);
  };

  const getOne = async (
    request: FastifyRequest<{ Params: { assignmentId: string } }>,
    reply: FastifyReply,
    ownerOf: (caller: Caller) => Promise<Owner>,
  ) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'appRoleAssignments.read');
    const select = parseEntityQuery(queryOf(request.url), APP_ROLE_ASSIGNMENT_TYPE);
    const owner = await ownerOf(caller);
    const assignment = await assignmentOf(caller, owner, request.params.assignmentId);
    const [described] = await context.directory.grants.describeAppRoleAssignments([assignment]);
    return reply.send({
      '@odata.context': contextUrl(owner, select, true),
      ...(described === undefined ? {} : graphAppRoleAssignment(described, select)),
    });
  };

  const revoke = async (
    request: FastifyRequest<{ Params: { assignmentId: string } }>,
    reply: FastifyReply,
    ownerOf: (caller: Caller) => Promise<Owner>,
  ) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'appRoleAssignments.write');
    const owner = await ownerOf(caller);
    const assignment = await assignmentOf(caller, owner, request.params.assignmentId);
    await context.directory.grants.removeAppRoleAssignment(caller.tenantId, assignment.id, owner.of);
    return reply.status(204).send();
  };

  type Owned = { Params: { id: string } };
  type OwnedOne = { Params: { id: string; assignmentId: string } };
  const routes = [
    ['/servicePrincipals/:id/appRoleAssignedTo', asResource],
    ['/servicePrincipals/:id/appRoleAssignments', asServicePrincipal],
    ['/users/:id/appRoleAssignments', asUser],
  ] as const;
  for (const [path, owner] of routes) {
    scope.get<Owned>(path, (request, reply) =>
      list(request, reply, (caller) => owner(caller, request.params.id)),
    );
    scope.post<Owned>(path, (request, reply) =>
      assign(request, reply, (caller) => owner(caller, request.params.id)),
    );
    scope.get<OwnedOne>(`${path}/:assignmentId`, (request, reply) =>
      getOne(request, reply, (caller) => owner(caller, request.params.id)),
    );
    scope.delete<OwnedOne>(`${path}/:assignmentId`, (request, reply) =>
      revoke(request, reply, (caller) => owner(caller, request.params.id)),
    );
  }
}
