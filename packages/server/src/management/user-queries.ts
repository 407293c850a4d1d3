import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { User } from '../directory/model.js';
import type { DirectoryStore } from '../store/directory-store.js';
import { toPage, type Page } from '../store/repositories/paging.js';
import { userFromRow } from '../store/repositories/users.js';
import type { Database } from '../store/schema.js';
import type { FilterClause } from './odata.js';

/** The `users` column a filterable property compares, and whether it is compared lower-cased. */
const COLUMNS = {
  id: 'id',
  userPrincipalName: 'upn_lower',
  displayName: 'display_name',
  accountEnabled: 'account_enabled',
} as const;

/**
 * One keyset page of a tenant's users that satisfy every `$filter` clause, by object id (the order of the
 * repository's unfiltered `list`, so `$skiptoken` works alike). String comparisons ignore case, as Graph's do;
 * `startswith` is a `LIKE` prefix with `%`, `_` and `!` escaped. One statement for SQLite and PostgreSQL.
 *
 * @param top page size, 1 to 999 (checked by the caller).
 */
export async function listFilteredUsers(
  store: DirectoryStore,
  request: {
    readonly tenantId: string;
    readonly top: number;
    readonly after: string | undefined;
    readonly filter: readonly FilterClause[];
  },
): Promise<Page<User>> {
  let query = store.db
    .selectFrom('users')
    .select(['id', 'tenant_id', 'user_principal_name', 'display_name', 'account_enabled', 'directory_roles'])
    .where('tenant_id', '=', request.tenantId)
    .orderBy('id')
    .limit(request.top + 1);
  if (request.after !== undefined) query = query.where('id', '>', request.after);
  for (const clause of request.filter) query = query.where((eb) => condition(eb, clause));
  const rows = await query.execute();
  return toPage(rows.map(userFromRow), request.top, (user) => user.id);
}

function condition(eb: ExpressionBuilder<Database, 'users'>, clause: FilterClause): Expression<SqlBool> {
  const property = clause.property as keyof typeof COLUMNS;
  const column = COLUMNS[property];
  if (typeof clause.value === 'boolean') return eb(column, '=', clause.value ? 1 : 0);
  const value = clause.value.toLowerCase();
  if (column === 'id' || column === 'upn_lower') {
    return clause.operator === 'eq' ? eb(column, '=', value) : like(sql.ref(column), value);
  }
  const lowered = sql<string>`lower(${sql.ref(column)})`;
  return clause.operator === 'eq' ? sql<SqlBool>`${lowered} = ${value}` : like(lowered, value);
}

function like(
  subject: Expression<unknown> | ReturnType<typeof sql.ref>,
  prefix: string,
): Expression<SqlBool> {
  const pattern = `${prefix.replace(/[!%_]/g, (char) => `!${char}`)}%`;
  return sql<SqlBool>`${subject} like ${pattern} escape '!'`;
}
