import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { requireAllowed, type Caller } from './authentication.js';
import { parseCollectionQuery, queryOf, selected, type EntityType } from './odata.js';

/** The resource paths under `/v1.0` this module answers (another method on them answers 405). */
export const ORGANIZATION_PATHS: readonly RegExp[] = [/^\/v1\.0\/organization$/];

/** Graph's `organization` as far as Tessera keeps it. */
export const ORGANIZATION_TYPE: EntityType = {
  name: 'microsoft.graph.organization',
  properties: { id: 'string', displayName: 'string', verifiedDomains: 'string', tenantType: 'string' },
  filterable: [],
};

/**
 * `GET /v1.0/organization`: the caller's tenant, as a one-item collection (Graph `organization`), with its
 * verified domains (the first is the default and the initial one).
 *
 * @see https://learn.microsoft.com/graph/api/organization-get
 */
export function registerOrganizationRoutes(
  scope: FastifyInstance,
  context: ServerContext,
  authenticate: (request: FastifyRequest) => Promise<Caller>,
): void {
  scope.get('/organization', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'organization.read');
    const query = parseCollectionQuery(queryOf(request.url), ORGANIZATION_TYPE);
    const tenant = await context.directory.tenants.require(caller.tenantId);
    const organization = {
      id: tenant.id,
      displayName: tenant.displayName,
      tenantType: 'AAD',
      verifiedDomains: tenant.domains.map((name, index) => ({
        capabilities: 'None',
        isDefault: index === 0,
        isInitial: index === 0,
        name,
        type: 'Managed',
      })),
    };
    const projection = query.select === undefined ? '' : `(${query.select.join(',')})`;
    return reply.send({
      '@odata.context': `${context.baseUrl()}/v1.0/$metadata#organization${projection}`,
      value: [selected(organization, query.select)],
    });
  });
}
