import { CompiledQuery, sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import type { ServerContext } from '../context.js';
import type { Application, ServicePrincipal, User } from '../directory/model.js';
import type { DirectoryStore } from '../store/directory-store.js';
import { servicePrincipalFromRow } from '../store/repositories/service-principals.js';
import { userFromRow } from '../store/repositories/users.js';
import type { ApplicationTable, Database, UserTable } from '../store/schema.js';
import {
  encodeSkipToken,
  type CollectionQuery,
  type Cursor,
  type EntityType,
  type Filter,
  type FilterValue,
} from './odata.js';

/**
 * The one place that turns a parsed collection query (`odata.ts`) into SQL, per collection: `users`,
 * `applications`, `servicePrincipals`. Each page is one keyset statement (`tenant_id = ?`, the `$filter` and
 * `$search` conditions, the cursor as a row comparison, `order by sort key, id limit top + 1`) on SQLite and
 * PostgreSQL; `@odata.count` is one more `count(*)` statement, only when asked. Applications load their App ID
 * URIs and credentials for the whole page in three more statements (none per item).
 *
 * Strings compare case-insensitively, as Graph's do: ids, `appId`, `userPrincipalName` and App ID URIs are
 * stored lower-cased (Unicode lower case); other text is compared through SQL `lower()` on both sides, which is
 * ASCII-only on SQLite and follows the database's locale on PostgreSQL.
 *
 * @see https://learn.microsoft.com/graph/paging
 * @see https://learn.microsoft.com/graph/filter-query-parameter
 */

/** One page of a collection. */
export interface CollectionPage<T> {
  readonly items: readonly T[];
  /** The `$skiptoken` of the next page (opaque, already encoded); undefined on the last page. */
  readonly next?: string;
  /** Items matching `$filter` and `$search` in all pages, when the query asked for `@odata.count`. */
  readonly count?: number;
}

/** Graph's `application` as far as queries go: what `$select`, `$filter`, `$orderby` and `$search` may name. */
export const APPLICATION_TYPE: EntityType = {
  name: 'microsoft.graph.application',
  properties: {
    id: 'string',
    appId: 'string',
    displayName: 'string',
    signInAudience: 'string',
    identifierUris: 'strings',
    createdDateTime: 'string',
    publisherDomain: 'string',
    description: 'string',
    api: 'string',
    appRoles: 'string',
    info: 'string',
    keyCredentials: 'string',
    passwordCredentials: 'string',
    publicClient: 'string',
    requiredResourceAccess: 'string',
    spa: 'string',
    web: 'string',
    tags: 'string',
    isFallbackPublicClient: 'boolean',
    deletedDateTime: 'string',
  },
  filterable: ['id', 'appId', 'displayName', 'signInAudience', 'identifierUris'],
  searchable: ['displayName'],
  queries: 'full',
};

/** Graph's `servicePrincipal` as far as queries go. */
export const SERVICE_PRINCIPAL_TYPE: EntityType = {
  name: 'microsoft.graph.servicePrincipal',
  properties: {
    id: 'string',
    appId: 'string',
    displayName: 'string',
    accountEnabled: 'boolean',
    appOwnerOrganizationId: 'string',
    servicePrincipalNames: 'strings',
    servicePrincipalType: 'string',
    appDisplayName: 'string',
    appRoles: 'string',
    oauth2PermissionScopes: 'string',
    signInAudience: 'string',
    tags: 'string',
    deletedDateTime: 'string',
  },
  filterable: [
    'id',
    'appId',
    'displayName',
    'accountEnabled',
    'appOwnerOrganizationId',
    'servicePrincipalNames',
  ],
  searchable: ['displayName'],
  queries: 'full',
};

/**
 * How a filterable property is compared: `stored` text is kept lower-cased (the value is lower-cased in
 * JavaScript), `lower` text is lower-cased by SQL on both sides, `boolean` is an integer 0/1 column.
 */
interface Column {
  readonly expression: RawBuilder<unknown>;
  readonly compare: 'stored' | 'lower' | 'boolean';
  /** A nullable column (a property not set): `ne` holds for it, nothing else does; never a sort key. */
  readonly nullable?: boolean;
}

/** `any(x: x eq v)` / `any(x: startswith(x, v))` over a collection property, `value` lower-cased. */
type CollectionTest = (test: 'eq' | 'startswith', value: string) => RawBuilder<unknown>;

/** A collection's table and the SQL of its filterable properties. */
interface CollectionSpec {
  readonly table: 'users' | 'applications' | 'service_principals';
  /** Columns read for each item. */
  readonly select: readonly string[];
  readonly columns: Readonly<Record<string, Column>>;
  readonly collections: Readonly<Record<string, CollectionTest>>;
}

function ref(table: string, column: string): RawBuilder<unknown> {
  return sql`${sql.ref(`${table}.${column}`)}`;
}

function stored(table: string, column: string): Column {
  return { expression: ref(table, column), compare: 'stored' };
}

function lowered(table: string, column: string): Column {
  return { expression: sql`lower(${sql.ref(`${table}.${column}`)})`, compare: 'lower' };
}

function optional(table: string, column: string): Column {
  return { ...lowered(table, column), nullable: true };
}

function flag(table: string, column: string): Column {
  return { expression: ref(table, column), compare: 'boolean' };
}

/** `subject like prefix%`, with `%`, `_` and `!` of the prefix escaped. */
function likePrefix(subject: RawBuilder<unknown>, prefix: RawBuilder<unknown> | string): RawBuilder<unknown> {
  return sql`${subject} like ${prefix} escape '!'`;
}

function escapeLike(text: string): string {
  return text.replace(/[!%_]/g, (char) => `!${char}`);
}

const USERS: CollectionSpec = {
  table: 'users',
  select: [
    'id',
    'tenant_id',
    'user_principal_name',
    'display_name',
    'account_enabled',
    'directory_roles',
    'mail_nickname',
    'given_name',
    'surname',
    'job_title',
    'mail',
  ],
  columns: {
    id: stored('users', 'id'),
    userPrincipalName: stored('users', 'upn_lower'),
    displayName: lowered('users', 'display_name'),
    accountEnabled: flag('users', 'account_enabled'),
    givenName: optional('users', 'given_name'),
    surname: optional('users', 'surname'),
    mail: optional('users', 'mail'),
    mailNickname: optional('users', 'mail_nickname'),
    jobTitle: optional('users', 'job_title'),
  },
  collections: {},
};

const APPLICATIONS: CollectionSpec = {
  table: 'applications',
  select: [
    'id',
    'app_id',
    'tenant_id',
    'display_name',
    'sign_in_audience',
    'definition',
    'account_enabled',
    'created_at',
  ],
  columns: {
    id: stored('applications', 'id'),
    appId: stored('applications', 'app_id'),
    displayName: lowered('applications', 'display_name'),
    signInAudience: lowered('applications', 'sign_in_audience'),
  },
  collections: {
    identifierUris: (test, value) =>
      sql`exists (select 1 from application_identifier_uris as u where u.application_id = ${sql.ref('applications.id')} and ${
        test === 'eq' ? sql`u.uri_lower = ${value}` : likePrefix(sql`u.uri_lower`, `${escapeLike(value)}%`)
      })`,
  },
};

const SERVICE_PRINCIPALS: CollectionSpec = {
  table: 'service_principals',
  select: ['id', 'app_id', 'tenant_id', 'display_name', 'app_owner_tenant_id', 'account_enabled'],
  columns: {
    id: stored('service_principals', 'id'),
    appId: stored('service_principals', 'app_id'),
    displayName: lowered('service_principals', 'display_name'),
    accountEnabled: flag('service_principals', 'account_enabled'),
    appOwnerOrganizationId: stored('service_principals', 'app_owner_tenant_id'),
  },
  collections: {
    // Graph's servicePrincipalNames: the appId and the App ID URIs of the application.
    servicePrincipalNames: (test, value) => {
      const match = (subject: RawBuilder<unknown>) =>
        test === 'eq' ? sql`${subject} = ${value}` : likePrefix(subject, `${escapeLike(value)}%`);
      return sql`(${match(ref('service_principals', 'app_id'))} or exists (select 1 from applications as a inner join application_identifier_uris as u on u.application_id = a.id where a.app_id = ${sql.ref('service_principals.app_id')} and ${match(sql`u.uri_lower`)}))`;
    },
  },
};

/** Separators that start a word for `$search`, besides a space (each is replaced by a space before matching). */
const WORD_SEPARATORS = ['-', '_', '.', '@', '(', ')', '/', ',', ':'];

/** The SQL condition of a filter over `spec`. Properties and value types were checked by the parser. */
function condition(spec: CollectionSpec, filter: Filter): RawBuilder<unknown> {
  switch (filter.kind) {
    case 'and':
    case 'or':
      return sql`(${sql.join(
        filter.operands.map((operand) => condition(spec, operand)),
        filter.kind === 'and' ? sql` and ` : sql` or `,
      )})`;
    case 'any': {
      const test = spec.collections[filter.property];
      if (test === undefined) throw new Error(`No collection test for ${filter.property}.`);
      return test(filter.test, filter.value.toLowerCase());
    }
    case 'search': {
      const column = columnOf(spec, filter.property);
      let words = column.expression;
      for (const separator of WORD_SEPARATORS) words = sql`replace(${words}, ${separator}, ' ')`;
      return sql`(${sql.join(
        filter.words.map((word) => likePrefix(sql`(' ' || ${words})`, `% ${escapeLike(word)}%`)),
        sql` and `,
      )})`;
    }
    case 'startswith': {
      const column = columnOf(spec, filter.property);
      const pattern = `${escapeLike(column.compare === 'stored' ? filter.value.toLowerCase() : filter.value)}%`;
      return likePrefix(column.expression, column.compare === 'lower' ? sql`lower(${pattern})` : pattern);
    }
    case 'eq':
    case 'ne': {
      const column = columnOf(spec, filter.property);
      const value = literal(column, filter.value);
      if (filter.kind === 'eq') return sql`${column.expression} = ${value}`;
      return column.nullable === true
        ? sql`(${column.expression} is null or ${column.expression} <> ${value})`
        : sql`${column.expression} <> ${value}`;
    }
    case 'in': {
      const column = columnOf(spec, filter.property);
      return sql`${column.expression} in (${sql.join(filter.values.map((value) => literal(column, value)))})`;
    }
  }
}

function columnOf(spec: CollectionSpec, property: string): Column {
  const column = spec.columns[property];
  if (column === undefined) throw new Error(`No column for ${property}.`);
  return column;
}

function literal(column: Column, value: FilterValue): RawBuilder<unknown> {
  if (typeof value === 'boolean') return sql`${value ? 1 : 0}`;
  if (column.compare === 'stored') return sql`${value.toLowerCase()}`;
  return sql`lower(${value})`;
}

/** A row as read for a page: the item's columns, and its sort key under an `$orderby` other than `id`. */
type PageRow = Record<string, unknown> & { readonly id: string; readonly sort_key?: string | number };

/**
 * The SQL text of each plain page statement already compiled, per database (its dialect's placeholders): a page
 * by id with neither `$filter` nor `$search`, the one every SDK pager asks for page after page, keyed by
 * `table asc|desc first|next`. Its parameters are always `tenant id[, cursor id], limit`, in that order.
 */
const plainPageStatements = new WeakMap<Kysely<Database>, Map<string, string>>();

/**
 * Runs the plain page statement `read` makes (see {@link plainPageStatements}) with `parameters`: the first time
 * it is built and compiled by Kysely and its text kept, afterwards the kept text is run with the new parameters as
 * they are, with no query building or compiling per page.
 *
 * @throws Error if the compiled statement's parameters are not `parameters` (a change to {@link readPage} that
 *   would make the kept text wrong).
 */
async function runPlainPage(
  db: Kysely<Database>,
  key: string,
  read: () => RawBuilder<PageRow>,
  parameters: readonly unknown[],
): Promise<readonly PageRow[]> {
  let texts = plainPageStatements.get(db);
  if (texts === undefined) {
    texts = new Map();
    plainPageStatements.set(db, texts);
  }
  let text = texts.get(key);
  if (text === undefined) {
    const compiled = read().compile(db);
    if (
      compiled.parameters.length !== parameters.length ||
      compiled.parameters.some((value, index) => value !== parameters[index])
    ) {
      throw new Error(
        `The plain page statement of ${key} does not take its parameters in the expected order.`,
      );
    }
    text = compiled.sql;
    texts.set(key, text);
  }
  return (await db.executeQuery<PageRow>(CompiledQuery.raw(text, [...parameters]))).rows;
}

/**
 * One keyset page of `spec`'s rows in `tenantId` that match `query`, as `toItems` makes them, with the next page's
 * `$skiptoken` and the count when asked. One statement (two with the count).
 */
async function readPage<T>(
  store: DirectoryStore,
  spec: CollectionSpec,
  tenantId: string,
  query: CollectionQuery,
  toItems: (rows: readonly PageRow[]) => readonly T[] | Promise<readonly T[]>,
): Promise<CollectionPage<T>> {
  const table = spec.table;
  const orderBy = query.orderBy;
  const byId = orderBy === undefined || orderBy.property === 'id';
  const descending = orderBy?.descending === true;
  const after = query.cursor;
  /** The page's conditions, and its statement; built only when a statement is compiled. */
  const statements = () => {
    const id = ref(table, 'id');
    const conditions = [sql`${sql.ref(`${table}.tenant_id`)} = ${tenantId}`];
    if (query.where !== undefined) conditions.push(condition(spec, query.where));
    if (query.search !== undefined) conditions.push(condition(spec, query.search));
    const matching = sql.join(conditions, sql` and `);
    const sortKey = byId ? id : columnOf(spec, orderBy.property).expression;
    // The cursor as `key >= v and (key > v or id > last)` (mirrored for desc) rather than a row comparison: both
    // dialects then read the index on (tenant_id, key, id) from the cursor on, also when the key is an expression.
    const [beyond, upTo] = descending ? [sql`<`, sql`<=`] : [sql`>`, sql`>=`];
    const keyset =
      after === undefined
        ? sql``
        : byId
          ? sql` and ${id} ${beyond} ${after.id}`
          : sql` and ${sortKey} ${upTo} ${after.value} and (${sortKey} ${beyond} ${after.value} or ${id} ${beyond} ${after.id})`;
    const direction = descending ? sql`desc` : sql`asc`;
    const columns = sql.join(spec.select.map((column) => sql.ref(`${table}.${column}`)));
    // By id the cursor is the last row's id: no separate sort key is read.
    const read = sql<PageRow>`select ${columns}${byId ? sql`` : sql`, ${sortKey} as sort_key`} from ${sql.table(
      table,
    )} where ${matching}${keyset} order by ${
      byId ? sql`${id} ${direction}` : sql`${sortKey} ${direction}, ${id} ${direction}`
    } limit ${query.top + 1}`;
    return { matching, read };
  };
  const plain = byId && query.where === undefined && query.search === undefined;
  const reading = plain
    ? runPlainPage(
        store.db,
        `${table} ${descending ? 'desc' : 'asc'} ${after === undefined ? 'first' : 'next'}`,
        () => statements().read,
        after === undefined ? [tenantId, query.top + 1] : [tenantId, after.id, query.top + 1],
      )
    : statements()
        .read.execute(store.db)
        .then((result) => result.rows);
  const counted = query.count
    ? sql<{
        readonly n: number | string;
      }>`select count(*) as n from ${sql.table(table)} where ${statements().matching}`.execute(store.db)
    : undefined;
  const [readRows, countResult] = await Promise.all([reading, counted]);
  const rows = readRows.slice(0, query.top);
  const last = rows.at(-1);
  const cursor: Cursor | undefined =
    readRows.length > query.top && last !== undefined
      ? {
          id: last.id,
          property: orderBy?.property,
          value: orderBy === undefined ? undefined : byId ? last.id : last.sort_key,
        }
      : undefined;
  const count = countResult?.rows[0]?.n;
  return {
    items: await toItems(rows),
    ...(cursor === undefined ? {} : { next: encodeSkipToken(cursor) }),
    ...(count === undefined ? {} : { count: Number(count) }),
  };
}

/**
 * One page of a tenant's users matching `query` (`$filter` on `id`, `userPrincipalName`, `displayName`,
 * `accountEnabled`; `$search` on `displayName`; `$orderby` on the same).
 *
 * @see https://learn.microsoft.com/graph/api/user-list
 */
export function listUsers(
  store: DirectoryStore,
  tenantId: string,
  query: CollectionQuery,
): Promise<CollectionPage<User>> {
  return listUserRows(store, tenantId, query, userFromRow);
}

/** The columns of a `users` row that a page of users reads (never the password hash). */
export type UserPageRow = Pick<
  Selectable<UserTable>,
  | 'id'
  | 'tenant_id'
  | 'user_principal_name'
  | 'display_name'
  | 'account_enabled'
  | 'directory_roles'
  | 'mail_nickname'
  | 'given_name'
  | 'surname'
  | 'job_title'
  | 'mail'
>;

/**
 * {@link listUsers} with each row made into an item by `toItem` (the same statement, page and cursor), for a
 * caller that writes rows straight into a response instead of making directory users first.
 */
export function listUserRows<T>(
  store: DirectoryStore,
  tenantId: string,
  query: CollectionQuery,
  toItem: (row: UserPageRow) => T,
): Promise<CollectionPage<T>> {
  return readPage(store, USERS, tenantId, query, (rows) =>
    rows.map((row) => toItem(row as unknown as UserPageRow)),
  );
}

/**
 * One page of the applications registered in a tenant matching `query` ({@link APPLICATION_TYPE}), with their
 * App ID URIs and credentials.
 *
 * @see https://learn.microsoft.com/graph/api/application-list
 */
export function listApplications(
  store: DirectoryStore,
  tenantId: string,
  query: CollectionQuery,
): Promise<CollectionPage<Application>> {
  return readPage(store, APPLICATIONS, tenantId, query, (rows) =>
    store.applications.loadAll(rows as unknown as Selectable<ApplicationTable>[]),
  );
}

/**
 * One page of a tenant's service principals matching `query` ({@link SERVICE_PRINCIPAL_TYPE}).
 *
 * @see https://learn.microsoft.com/graph/api/serviceprincipal-list
 */
export function listServicePrincipals(
  store: DirectoryStore,
  tenantId: string,
  query: CollectionQuery,
): Promise<CollectionPage<ServicePrincipal>> {
  return readPage(store, SERVICE_PRINCIPALS, tenantId, query, (rows) =>
    rows.map((row) =>
      servicePrincipalFromRow(row as unknown as Parameters<typeof servicePrincipalFromRow>[0]),
    ),
  );
}

/**
 * Graph's collection body: `@odata.context` (`{base}/v1.0/$metadata#{path}[(select)]`), `@odata.count` (when
 * asked), `value` (each item through `toJson`), `@odata.nextLink` (the request's options with the next
 * `$skiptoken`, when another page follows).
 *
 * @param path the collection's path under `/v1.0`, e.g. `applications`.
 * @see https://learn.microsoft.com/graph/paging
 */
export function collectionBody<T>(
  context: ServerContext,
  path: string,
  query: CollectionQuery,
  page: CollectionPage<T>,
  toJson: (item: T) => Record<string, unknown>,
): Record<string, unknown> {
  const { odataContext, next } = collectionLinks(context, path, query, page);
  return {
    '@odata.context': odataContext,
    ...(page.count === undefined ? {} : { '@odata.count': page.count }),
    value: page.items.map(toJson),
    ...(next === undefined ? {} : { '@odata.nextLink': next }),
  };
}

/**
 * {@link collectionBody} as JSON text, from items that are JSON text already (one JSON object each): exactly
 * `JSON.stringify(collectionBody(…))` of the same items, written without building the body.
 */
export function collectionText(
  context: ServerContext,
  path: string,
  query: CollectionQuery,
  page: CollectionPage<string>,
): string {
  const { odataContext, next } = collectionLinks(context, path, query, page);
  const count = page.count === undefined ? '' : `"@odata.count":${JSON.stringify(page.count)},`;
  const nextLink = next === undefined ? '' : `,"@odata.nextLink":${JSON.stringify(next)}`;
  return `{"@odata.context":${JSON.stringify(odataContext)},${count}"value":[${page.items.join(',')}]${nextLink}}`;
}

/** `@odata.context` and `@odata.nextLink` (undefined on the last page) of a collection page. */
function collectionLinks(
  context: ServerContext,
  path: string,
  query: CollectionQuery,
  page: CollectionPage<unknown>,
): { readonly odataContext: string; readonly next: string | undefined } {
  const base = `${context.baseUrl()}/v1.0`;
  const projection = query.select === undefined ? '' : `(${query.select.join(',')})`;
  const next =
    page.next === undefined
      ? undefined
      : `${base}/${path}?${new URLSearchParams([...query.carried, ['$skiptoken', page.next]]).toString()}`;
  return { odataContext: `${base}/$metadata#${path}${projection}`, next };
}
