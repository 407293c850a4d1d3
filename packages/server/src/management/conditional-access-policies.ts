import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import type { ConditionalAccessPolicy } from '../directory/conditional-access-policy.js';
import type { ConditionalAccessPolicyChange } from '../directory/services/conditional-access-policies.js';
import { requireAllowed, type Caller } from './authentication.js';
import { ManagementError } from './errors.js';
import { parseEntityQuery, queryOf, selected, type EntityType, type FilterClause } from './odata.js';
import {
  collectionQueryOf,
  graphDateTime,
  nextLinkOf,
  odataContext,
  orNotFound,
  resourceNotFound,
} from './route-helpers.js';

/** The resource paths under `/v1.0` this module answers (another method on them answers 405). */
export const CONDITIONAL_ACCESS_POLICIES_PATHS: readonly RegExp[] = [
  /^\/v1\.0\/identity\/conditionalAccess\/policies$/,
  /^\/v1\.0\/identity\/conditionalAccess\/policies\/[^/]+$/,
];

/** Graph's `conditionalAccessPolicy`: what `$select` may name and `$filter` compare (`eq`, `startswith`). */
export const CONDITIONAL_ACCESS_POLICY_TYPE: EntityType = {
  name: 'microsoft.graph.conditionalAccessPolicy',
  properties: {
    id: 'string',
    templateId: 'string',
    displayName: 'string',
    createdDateTime: 'string',
    modifiedDateTime: 'string',
    state: 'string',
    sessionControls: 'string',
    conditions: 'string',
    grantControls: 'string',
  },
  filterable: ['id', 'displayName', 'state'],
};

const COLLECTION_PATH = 'identity/conditionalAccess/policies';

/**
 * A policy in Graph's JSON, in Graph's property order, with the conditions and controls Tessera does not evaluate
 * as Graph writes them when unset (`null` or `[]`).
 *
 * @see https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy
 */
export function graphConditionalAccessPolicy(
  policy: ConditionalAccessPolicy,
  select: readonly string[] | undefined,
): Record<string, unknown> {
  const { users, applications, clientAppTypes } = policy.conditions;
  return selected(
    {
      id: policy.id,
      templateId: null,
      displayName: policy.displayName,
      createdDateTime: graphDateTime(policy.createdAt),
      modifiedDateTime: policy.modifiedAt === null ? null : graphDateTime(policy.modifiedAt),
      state: policy.state,
      sessionControls: null,
      conditions: {
        userRiskLevels: [],
        signInRiskLevels: [],
        clientAppTypes,
        servicePrincipalRiskLevels: [],
        platforms: null,
        locations: null,
        devices: null,
        clientApplications: null,
        applications: {
          includeApplications: applications.includeApplications,
          excludeApplications: applications.excludeApplications,
          includeUserActions: [],
          includeAuthenticationContextClassReferences:
            applications.includeAuthenticationContextClassReferences,
          applicationFilter: null,
        },
        users: {
          includeUsers: users.includeUsers,
          excludeUsers: users.excludeUsers,
          includeGroups: [],
          excludeGroups: [],
          includeRoles: users.includeRoles,
          excludeRoles: users.excludeRoles,
          includeGuestsOrExternalUsers: null,
          excludeGuestsOrExternalUsers: null,
        },
      },
      grantControls: {
        operator: policy.grantControls.operator,
        builtInControls: policy.grantControls.builtInControls,
        customAuthenticationFactors: [],
        termsOfUse: [],
        authenticationStrength: null,
      },
    },
    select,
  );
}

/**
 * How one property of a body object is read: `string`, `strings` (an array of strings), `object` (read by a
 * nested {@link ObjectShape}), or `unset` (a Graph property Tessera does not evaluate: only `null` or `[]`).
 */
type PropertyRule = 'string' | 'strings' | 'unset' | ObjectShape;

interface ObjectShape {
  /** The object's name in messages, e.g. `conditions.users`. */
  readonly path: string;
  readonly properties: Readonly<Record<string, PropertyRule>>;
}

const USERS_SHAPE: ObjectShape = {
  path: 'conditions.users',
  properties: {
    includeUsers: 'strings',
    excludeUsers: 'strings',
    includeRoles: 'strings',
    excludeRoles: 'strings',
    includeGroups: 'unset',
    excludeGroups: 'unset',
    includeGuestsOrExternalUsers: 'unset',
    excludeGuestsOrExternalUsers: 'unset',
  },
};

const APPLICATIONS_SHAPE: ObjectShape = {
  path: 'conditions.applications',
  properties: {
    includeApplications: 'strings',
    excludeApplications: 'strings',
    includeAuthenticationContextClassReferences: 'strings',
    includeUserActions: 'unset',
    applicationFilter: 'unset',
  },
};

const CONDITIONS_SHAPE: ObjectShape = {
  path: 'conditions',
  properties: {
    users: USERS_SHAPE,
    applications: APPLICATIONS_SHAPE,
    clientAppTypes: 'strings',
    userRiskLevels: 'unset',
    signInRiskLevels: 'unset',
    servicePrincipalRiskLevels: 'unset',
    platforms: 'unset',
    locations: 'unset',
    devices: 'unset',
    clientApplications: 'unset',
  },
};

const GRANT_CONTROLS_SHAPE: ObjectShape = {
  path: 'grantControls',
  properties: {
    operator: 'string',
    builtInControls: 'strings',
    customAuthenticationFactors: 'unset',
    termsOfUse: 'unset',
    authenticationStrength: 'unset',
  },
};

const POLICY_SHAPE: ObjectShape = {
  path: '',
  properties: {
    displayName: 'string',
    state: 'string',
    conditions: CONDITIONS_SHAPE,
    grantControls: GRANT_CONTROLS_SHAPE,
    sessionControls: 'unset',
  },
};

/** Properties of a policy a client may not set (Graph answers 400, not "invalid property"). */
const READ_ONLY = ['id', 'templateId', 'createdDateTime', 'modifiedDateTime'];

const ODATA_TYPE = 'microsoft.graph.conditionalAccessPolicy';

/**
 * A request body checked against {@link POLICY_SHAPE}: only known properties, each of its JSON type, Graph
 * properties Tessera does not evaluate only unset (`null` or `[]`). Nothing is written before this passes.
 *
 * @throws ManagementError `invalid` (400 `Request_BadRequest`).
 */
function checkedBody(body: unknown): ConditionalAccessPolicyChange {
  return checkedObject(body, POLICY_SHAPE, true);
}

function checkedObject(value: unknown, shape: ObjectShape, top = false): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ManagementError(
      'invalid',
      top
        ? 'Expected a JSON object for the request body.'
        : `Cannot convert the value of property '${shape.path}' to the expected type 'Edm.ComplexType'.`,
    );
  }
  const out: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
    const where = shape.path === '' ? name : `${shape.path}.${name}`;
    if (name.endsWith('@odata.type') || name === '@odata.type') {
      const named = typeof item === 'string' ? item.replace(/^#/, '').toLowerCase() : undefined;
      if (top && named === ODATA_TYPE.toLowerCase()) continue;
      if (!top && typeof named === 'string' && named.startsWith('microsoft.graph.')) continue;
      throw new ManagementError('invalid', `The @odata.type of the body must be '#${ODATA_TYPE}'.`);
    }
    const rule = Object.hasOwn(shape.properties, name) ? shape.properties[name] : undefined;
    if (rule === undefined) {
      throw new ManagementError(
        'invalid',
        top && READ_ONLY.includes(name)
          ? `Property '${name}' is read-only and cannot be set.`
          : `Invalid property '${where.slice(0, 128)}'.`,
      );
    }
    if (rule === 'unset') {
      if (item === null || (Array.isArray(item) && item.length === 0)) continue;
      throw new ManagementError(
        'invalid',
        `The property '${where}' is not supported by Tessera: leave it unset (null or []).`,
      );
    }
    if (rule === 'string') {
      if (typeof item !== 'string') {
        throw new ManagementError(
          'invalid',
          `Cannot convert the value of property '${where}' to the expected type 'Edm.String'.`,
        );
      }
      out[name] = item;
    } else if (rule === 'strings') {
      if (!Array.isArray(item) || !item.every((entry) => typeof entry === 'string')) {
        throw new ManagementError(
          'invalid',
          `Cannot convert the value of property '${where}' to the expected type 'Collection(Edm.String)'.`,
        );
      }
      out[name] = item;
    } else {
      out[name] = checkedObject(item, rule);
    }
  }
  return out;
}

/** A policy id of a path: Tessera's are GUIDs; anything else is no policy. */
const POLICY_ID = /^[0-9A-Za-z-]{1,64}$/;

/** Whether a policy satisfies every `basic` `$filter` clause (`eq` case-insensitive, `startswith`). */
function matches(policy: ConditionalAccessPolicy, clauses: readonly FilterClause[]): boolean {
  return clauses.every((clause) => {
    const actual = (
      clause.property === 'id' ? policy.id : clause.property === 'state' ? policy.state : policy.displayName
    ).toLowerCase();
    const wanted = String(clause.value).toLowerCase();
    return clause.operator === 'eq' ? actual === wanted : actual.startsWith(wanted);
  });
}

/**
 * `GET|POST /v1.0/identity/conditionalAccess/policies` (`$select`, `$filter` on `id`, `displayName`, `state`,
 * `$top`) and `GET|PATCH|DELETE /v1.0/identity/conditionalAccess/policies/{id}` (Graph v1.0
 * `conditionalAccessPolicy`), through `directory.conditionalAccessPolicies`, limited to the caller's tenant.
 * Bodies are strict: an unknown property, a value of another type, or a Graph condition or control Tessera does
 * not evaluate set to anything but `null` / `[]` answers 400 and writes nothing (audited as a failure). A change
 * is enforced by the next token request on every node.
 *
 * @see https://learn.microsoft.com/graph/api/conditionalaccessroot-list-policies
 * @see https://learn.microsoft.com/graph/api/conditionalaccessroot-post-policies
 * @see https://learn.microsoft.com/graph/api/conditionalaccesspolicy-get
 * @see https://learn.microsoft.com/graph/api/conditionalaccesspolicy-update
 * @see https://learn.microsoft.com/graph/api/conditionalaccesspolicy-delete
 */
export function registerConditionalAccessPolicyRoutes(
  scope: FastifyInstance,
  context: ServerContext,
  authenticate: (request: FastifyRequest) => Promise<Caller>,
): void {
  const policies = context.directory.conditionalAccessPolicies;
  const contextUrl = (select: readonly string[] | undefined, entity: boolean) =>
    odataContext(context, COLLECTION_PATH, select, entity);

  /** A policy of the caller's tenant, or Graph's 404. */
  const policyOfTenant = async (caller: Caller, id: string): Promise<ConditionalAccessPolicy> => {
    if (!POLICY_ID.test(id)) throw resourceNotFound(id);
    return orNotFound(policies.get(caller.tenantId, id), id);
  };

  scope.get('/identity/conditionalAccess/policies', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'conditionalAccessPolicies.read');
    const query = collectionQueryOf(request, CONDITIONAL_ACCESS_POLICY_TYPE);
    const all = (await policies.list(caller.tenantId)).filter((policy) => matches(policy, query.filter));
    const after = query.after;
    const rest = after === undefined ? all : all.filter((policy) => policy.id > after);
    const page = rest.slice(0, query.top);
    const next = rest.length > query.top ? page.at(-1)?.id : undefined;
    return reply.send({
      '@odata.context': contextUrl(query.select, false),
      value: page.map((policy) => graphConditionalAccessPolicy(policy, query.select)),
      ...nextLinkOf(context, request, query, next),
    });
  });

  scope.post('/identity/conditionalAccess/policies', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'conditionalAccessPolicies.write');
    const body = checkedBody(request.body);
    const policy = await policies.create(caller.tenantId, body);
    return reply
      .status(201)
      .header('location', `${context.baseUrl()}/v1.0/${COLLECTION_PATH}/${policy.id}`)
      .send({
        '@odata.context': contextUrl(undefined, true),
        ...graphConditionalAccessPolicy(policy, undefined),
      });
  });

  type ById = { Params: { id: string } };
  scope.get<ById>('/identity/conditionalAccess/policies/:id', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'conditionalAccessPolicies.read');
    const select = parseEntityQuery(queryOf(request.url), CONDITIONAL_ACCESS_POLICY_TYPE);
    const policy = await policyOfTenant(caller, request.params.id);
    return reply.send({
      '@odata.context': contextUrl(select, true),
      ...graphConditionalAccessPolicy(policy, select),
    });
  });

  scope.patch<ById>('/identity/conditionalAccess/policies/:id', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'conditionalAccessPolicies.write');
    const body = checkedBody(request.body);
    const policy = await policyOfTenant(caller, request.params.id);
    await policies.update(caller.tenantId, policy.id, body);
    return reply.status(204).send();
  });

  scope.delete<ById>('/identity/conditionalAccess/policies/:id', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'conditionalAccessPolicies.write');
    const policy = await policyOfTenant(caller, request.params.id);
    await policies.delete(caller.tenantId, policy.id);
    return reply.status(204).send();
  });
}
