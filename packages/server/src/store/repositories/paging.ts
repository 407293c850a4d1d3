import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Keyset paging of directory lists, as the management API pages collections (Graph `$top` and `@odata.nextLink`):
 * items ordered by object id, the cursor is the last id of the previous page.
 *
 * @see https://learn.microsoft.com/graph/paging
 */

/** What page of a list to read. */
export interface PageRequest {
  /** Items per page, 1 to {@link MAX_PAGE_SIZE}; default {@link DEFAULT_PAGE_SIZE}. */
  readonly top?: number;
  /** The `next` cursor of the previous page; absent for the first page. */
  readonly after?: string;
}

/** One page of a list. */
export interface Page<T> {
  readonly items: readonly T[];
  /** Cursor of the next page (pass as `after`); undefined on the last page. */
  readonly next: string | undefined;
}

/** Items per page when `top` is not given (Graph's default page size for directory objects). */
export const DEFAULT_PAGE_SIZE = 100;

/** Largest `top` (Graph's `$top` limit for directory objects). */
export const MAX_PAGE_SIZE = 999;

/**
 * The page size of a request.
 *
 * @throws RangeError when `top` is not an integer from 1 to {@link MAX_PAGE_SIZE}.
 */
export function pageSize(request: PageRequest): number {
  const top = request.top ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(top) || top < 1 || top > MAX_PAGE_SIZE) {
    throw new RangeError(`A page holds 1 to ${MAX_PAGE_SIZE} items, not ${top}.`);
  }
  return top;
}

/**
 * The page made of `rows`, read with a limit of `size + 1`: the extra row only tells that another page follows.
 *
 * @param id the ordering key of an item (its object id).
 */
export function toPage<T>(rows: readonly T[], size: number, id: (item: T) => string): Page<T> {
  const items = rows.slice(0, size);
  const last = items.at(-1);
  return { items, next: rows.length > size && last !== undefined ? id(last) : undefined };
}

/** Tables of objects that belong to one tenant: each has text `id` and `tenant_id` columns. */
export type TenantScopedTable =
  'applications' | 'service_principals' | 'users' | 'app_role_assignments' | 'oauth2_permission_grants';

/**
 * One page of the rows of `table` that belong to `request.tenantId`, by id, as `map` makes them.
 *
 * @throws RangeError for a `top` out of range.
 */
export async function listByTenant<TB extends TenantScopedTable, T extends { readonly id: string }>(
  db: Kysely<Database>,
  table: TB,
  request: PageRequest & { readonly tenantId: string },
  map: (row: Selectable<Database[TB]>) => T | Promise<T>,
): Promise<Page<T>> {
  return listWhere(db, table, { tenant_id: request.tenantId }, request, map);
}

/**
 * One page of the rows of `table` whose text columns equal `equal` (every entry must match), by id, as `map`
 * makes them. Each caller passes the tenant among the columns, or a column that implies it.
 *
 * @param equal column name → value; only `table`'s own text columns.
 * @throws RangeError for a `top` out of range.
 */
export async function listWhere<TB extends TenantScopedTable, T extends { readonly id: string }>(
  db: Kysely<Database>,
  table: TB,
  equal: Readonly<Record<string, string>>,
  request: PageRequest,
  map: (row: Selectable<Database[TB]>) => T | Promise<T>,
): Promise<Page<T>> {
  const size = pageSize(request);
  // One keyset query for every tenant-scoped table; only the columns named are referenced.
  const scoped = db as unknown as Kysely<Record<string, Record<string, string>>>;
  let query = scoped
    .selectFrom(table as string)
    .selectAll()
    .orderBy('id')
    .limit(size + 1);
  for (const [column, value] of Object.entries(equal)) query = query.where(column, '=', value);
  if (request.after !== undefined) query = query.where('id', '>', request.after);
  const rows = (await query.execute()) as Selectable<Database[TB]>[];
  const items = await Promise.all(rows.map(async (row) => map(row)));
  return toPage(items, size, (item) => item.id);
}
