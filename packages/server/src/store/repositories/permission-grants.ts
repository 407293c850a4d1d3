import type { ExpressionBuilder, Kysely, Selectable, Transaction } from 'kysely';
import type { OAuth2PermissionGrant } from '../../directory/model.js';
import type { Database, OAuth2PermissionGrantTable } from '../schema.js';
import { recordChange } from './directory-changes.js';
import { listByTenant, listWhere, type Page, type PageRequest } from './paging.js';

/**
 * Delegated consent (`oauth2_permission_grants`, Graph `oauth2PermissionGrant`). A write records an
 * `oauth2PermissionGrant` change under the client service principal's id.
 */
export class PermissionGrantRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Every delegated grant of a client service principal on a resource service principal, oldest first. */
  async listBetween(clientSpId: string, resourceSpId: string): Promise<OAuth2PermissionGrant[]> {
    const rows = await this.db
      .selectFrom('oauth2_permission_grants')
      .selectAll()
      .where('client_id', '=', clientSpId)
      .where('resource_id', '=', resourceSpId)
      .orderBy('created_at')
      .execute();
    return rows.map(fromRow);
  }

  /**
   * One page of the grants in a tenant, by id.
   *
   * @throws RangeError for a `top` out of range.
   */
  async list(request: PageRequest & { readonly tenantId: string }): Promise<Page<OAuth2PermissionGrant>> {
    return listByTenant(this.db, 'oauth2_permission_grants', request, fromRow);
  }

  /**
   * One page of the grants of a client service principal (Graph `/servicePrincipals/{id}/oauth2PermissionGrants`),
   * by id.
   *
   * @throws RangeError for a `top` out of range.
   */
  async listByClient(
    request: PageRequest & { readonly tenantId: string; readonly clientId: string },
  ): Promise<Page<OAuth2PermissionGrant>> {
    return listWhere(
      this.db,
      'oauth2_permission_grants',
      { tenant_id: request.tenantId, client_id: request.clientId },
      request,
      fromRow,
    );
  }

  /**
   * One page of the grants in a tenant equal to every condition given (Graph `$filter` on `clientId`,
   * `consentType`, `principalId`, `resourceId`), by id. Ids compare lower-cased; a `principalId` matches
   * `Principal` grants only.
   *
   * @throws RangeError for a `top` out of range.
   */
  async listMatching(
    request: PageRequest & {
      readonly tenantId: string;
      readonly clientId?: string;
      readonly consentType?: string;
      readonly principalId?: string;
      readonly resourceId?: string;
    },
  ): Promise<Page<OAuth2PermissionGrant>> {
    const equal: Record<string, string> = { tenant_id: request.tenantId };
    if (request.clientId !== undefined) equal.client_id = request.clientId.toLowerCase();
    if (request.consentType !== undefined) equal.consent_type = request.consentType;
    if (request.principalId !== undefined) equal.principal_id = request.principalId.toLowerCase();
    if (request.resourceId !== undefined) equal.resource_id = request.resourceId.toLowerCase();
    return listWhere(this.db, 'oauth2_permission_grants', equal, request, fromRow);
  }

  /** A grant by id (case-insensitive). */
  async findById(id: string): Promise<OAuth2PermissionGrant | undefined> {
    const row = await this.db
      .selectFrom('oauth2_permission_grants')
      .selectAll()
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /**
   * Stores a new grant; `createdAt` in Unix seconds. A grant of the same (client, resource, consent type,
   * principal) already stored makes the insert fail with the dialect's unique violation.
   */
  async insert(trx: Transaction<Database>, grant: OAuth2PermissionGrant, createdAt: number): Promise<void> {
    await trx
      .insertInto('oauth2_permission_grants')
      .values({
        id: grant.id,
        tenant_id: grant.tenantId,
        client_id: grant.clientId,
        consent_type: grant.consentType,
        principal_id: grant.principalId ?? '',
        resource_id: grant.resourceId,
        scope: grant.scope,
        created_at: createdAt,
      })
      .execute();
    await recordChange(trx, 'oauth2PermissionGrant', grant.clientId);
  }

  /** Replaces the scopes of a grant (space-separated values); `false` when there is no such grant. */
  async updateScope(
    trx: Transaction<Database>,
    grant: OAuth2PermissionGrant,
    scope: string,
  ): Promise<boolean> {
    const result = await trx
      .updateTable('oauth2_permission_grants')
      .set({ scope })
      .where('id', '=', grant.id)
      .executeTakeFirst();
    const updated = Number(result.numUpdatedRows) === 1;
    if (updated) await recordChange(trx, 'oauth2PermissionGrant', grant.clientId);
    return updated;
  }

  /** Deletes one grant; `false` when there is no such grant. */
  async delete(trx: Transaction<Database>, grant: OAuth2PermissionGrant): Promise<boolean> {
    const result = await trx
      .deleteFrom('oauth2_permission_grants')
      .where('id', '=', grant.id)
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows) === 1;
    if (deleted) await recordChange(trx, 'oauth2PermissionGrant', grant.clientId);
    return deleted;
  }

  /**
   * Deletes every grant made by the user `objectId` (`Principal`), or of or on the service principal `objectId`
   * (as client or resource): what hangs off an object being deleted. Records a change for each client affected.
   *
   * @returns how many were deleted.
   */
  async deleteInvolving(trx: Transaction<Database>, objectId: string): Promise<number> {
    const involving = (eb: ExpressionBuilder<Database, 'oauth2_permission_grants'>) =>
      eb.or([
        eb('principal_id', '=', objectId),
        eb('client_id', '=', objectId),
        eb('resource_id', '=', objectId),
      ]);
    const rows = await trx
      .selectFrom('oauth2_permission_grants')
      .select('client_id')
      .where(involving)
      .execute();
    if (rows.length === 0) return 0;
    await trx.deleteFrom('oauth2_permission_grants').where(involving).execute();
    for (const client of new Set(rows.map((row) => row.client_id))) {
      await recordChange(trx, 'oauth2PermissionGrant', client);
    }
    return rows.length;
  }

  /**
   * Adds scopes to the grant of (client, resource, consent type, principal), creating it when absent
   * (incremental consent); `createdAt` in Unix seconds. One atomic upsert (`insert … on conflict … do update`) on
   * the grant's unique key: a concurrent consent to the same grant waits for this transaction instead of failing
   * with a unique violation, and the row stays locked until commit, so the scopes merged next are never lost.
   */
  async merge(
    trx: Transaction<Database>,
    grant: Omit<OAuth2PermissionGrant, 'scope'> & { readonly scopes: readonly string[] },
    createdAt: number,
  ): Promise<void> {
    const scopes = [...new Set(grant.scopes)];
    const stored = await trx
      .insertInto('oauth2_permission_grants')
      .values({
        id: grant.id,
        tenant_id: grant.tenantId,
        client_id: grant.clientId,
        consent_type: grant.consentType,
        principal_id: grant.principalId ?? '',
        resource_id: grant.resourceId,
        scope: scopes.join(' '),
        created_at: createdAt,
      })
      .onConflict((conflict) =>
        conflict
          .columns(['client_id', 'resource_id', 'consent_type', 'principal_id'])
          // A no-op update: it takes the row lock and returns the committed scopes to merge into.
          .doUpdateSet((eb) => ({ scope: eb.ref('oauth2_permission_grants.scope') })),
      )
      .returning(['id', 'scope'])
      .executeTakeFirstOrThrow();
    const merged = [...new Set([...stored.scope.split(' ').filter(Boolean), ...scopes])].join(' ');
    if (merged !== stored.scope) {
      await trx
        .updateTable('oauth2_permission_grants')
        .set({ scope: merged })
        .where('id', '=', stored.id)
        .execute();
    }
    await recordChange(trx, 'oauth2PermissionGrant', grant.clientId);
  }
}

function fromRow(row: Selectable<OAuth2PermissionGrantTable>): OAuth2PermissionGrant {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    clientId: row.client_id,
    consentType: row.consent_type,
    principalId: row.principal_id === '' ? null : row.principal_id,
    resourceId: row.resource_id,
    scope: row.scope,
  };
}
