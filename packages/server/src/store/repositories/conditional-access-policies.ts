import type { Kysely, Selectable, Transaction } from 'kysely';
import type {
  ConditionalAccessConditions,
  ConditionalAccessGrantControls,
  ConditionalAccessPolicy,
  ConditionalAccessPolicyState,
} from '../../directory/conditional-access-policy.js';
import type { ConditionalAccessPolicyTable, Database } from '../schema.js';
import { recordChange } from './directory-changes.js';

/**
 * Conditional access policies (`conditional_access_policies`, Graph `conditionalAccessPolicy`). A write records a
 * `conditionalAccessPolicy` change under the tenant's id, so every node's directory cache reloads that tenant's
 * policies (`directory/directory-cache.ts`).
 */
export class ConditionalAccessPolicyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Every policy of a tenant, by id. */
  async listByTenant(tenantId: string): Promise<ConditionalAccessPolicy[]> {
    const rows = await this.db
      .selectFrom('conditional_access_policies')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('id')
      .execute();
    return rows.map(fromRow);
  }

  /** How many policies a tenant has. */
  async countByTenant(tenantId: string): Promise<number> {
    const row = await this.db
      .selectFrom('conditional_access_policies')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('tenant_id', '=', tenantId)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /** A policy by id (case-insensitive), of any tenant. */
  async findById(id: string): Promise<ConditionalAccessPolicy | undefined> {
    const row = await this.db
      .selectFrom('conditional_access_policies')
      .selectAll()
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /** Stores a new policy. */
  async insert(trx: Transaction<Database>, policy: ConditionalAccessPolicy): Promise<void> {
    await trx
      .insertInto('conditional_access_policies')
      .values({
        id: policy.id,
        tenant_id: policy.tenantId,
        display_name: policy.displayName,
        state: policy.state,
        conditions: JSON.stringify(policy.conditions),
        grant_controls: JSON.stringify(policy.grantControls),
        created_at: policy.createdAt,
        modified_at: policy.modifiedAt,
      })
      .execute();
    await recordChange(trx, 'conditionalAccessPolicy', policy.tenantId);
  }

  /** Replaces a policy's name, state, conditions and controls; `false` when there is no such policy. */
  async update(trx: Transaction<Database>, policy: ConditionalAccessPolicy): Promise<boolean> {
    const result = await trx
      .updateTable('conditional_access_policies')
      .set({
        display_name: policy.displayName,
        state: policy.state,
        conditions: JSON.stringify(policy.conditions),
        grant_controls: JSON.stringify(policy.grantControls),
        modified_at: policy.modifiedAt,
      })
      .where('id', '=', policy.id)
      .where('tenant_id', '=', policy.tenantId)
      .executeTakeFirst();
    const updated = Number(result.numUpdatedRows) === 1;
    if (updated) await recordChange(trx, 'conditionalAccessPolicy', policy.tenantId);
    return updated;
  }

  /** Deletes a policy of a tenant; `false` when there is no such policy. */
  async delete(trx: Transaction<Database>, tenantId: string, id: string): Promise<boolean> {
    const result = await trx
      .deleteFrom('conditional_access_policies')
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows) === 1;
    if (deleted) await recordChange(trx, 'conditionalAccessPolicy', tenantId);
    return deleted;
  }
}

function fromRow(row: Selectable<ConditionalAccessPolicyTable>): ConditionalAccessPolicy {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    displayName: row.display_name,
    state: row.state as ConditionalAccessPolicyState,
    conditions: JSON.parse(row.conditions) as ConditionalAccessConditions,
    grantControls: JSON.parse(row.grant_controls) as ConditionalAccessGrantControls,
    createdAt: row.created_at,
    modifiedAt: row.modified_at,
  };
}
