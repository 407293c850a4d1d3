import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../store/repositories/paging.js';
import { ManagementError } from './errors.js';

/**
 * The OData subset of the management API: `$select`, `$top`, `$skiptoken`, `$filter` (`eq`, `ne`, `startswith`,
 * `in`, `and`, `or`, parentheses, and `any` on string collections), `$orderby` (one property, `asc` / `desc`),
 * `$count` and `$search` (`"property:words"`, with `ConsistencyLevel: eventual`). Every other system query option,
 * operator or property answers 400, never a silently ignored clause; limits on the size of a query answer 400 too.
 * SQL for each collection is made in `collection-queries.ts`.
 *
 * @see https://learn.microsoft.com/graph/query-parameters
 * @see https://learn.microsoft.com/graph/aad-advanced-queries
 * @see OData Version 4.01 Part 2: URL Conventions §5.1
 */

/**
 * The EDM type of a property, as far as queries need it: `strings` is a collection of strings (`Collection(Edm.String)`,
 * filtered only with `any`).
 */
export type PropertyType = 'string' | 'boolean' | 'strings';

/** An entity type's properties: what `$select` may name and what `$filter`, `$orderby` and `$search` may use. */
export interface EntityType {
  /** Graph's type name, e.g. `microsoft.graph.user`. */
  readonly name: string;
  /** Every selectable property, with its type. */
  readonly properties: Readonly<Record<string, PropertyType>>;
  /** Properties `$filter` supports (indexed or cheap to compare); those not of type `strings` also `$orderby`. */
  readonly filterable: readonly string[];
  /** Properties `$orderby` supports; default: the filterable ones that are not collections. */
  readonly orderable?: readonly string[];
  /** Properties `$search` supports (`"displayName:word"`); none when absent. */
  readonly searchable?: readonly string[];
  /**
   * `basic` (the default): only `$filter` of `eq` / `startswith` clauses joined by `and` (read as
   * {@link CollectionQuery.filter}), no `$orderby`, `$search` or `$count`, for collections whose SQL is made
   * elsewhere. `full`: the whole subset, read as {@link CollectionQuery.where} by `collection-queries.ts`.
   */
  readonly queries?: 'basic' | 'full';
}

/** One clause of a `basic` `$filter` (see {@link EntityType.queries}). `startswith` compares strings only. */
export interface FilterClause {
  readonly property: string;
  readonly operator: 'eq' | 'startswith';
  readonly value: string | boolean;
}

/** A literal of a `$filter` comparison. */
export type FilterValue = string | boolean;

/**
 * A parsed `$filter` (or `$search`) expression. Property names are checked against the entity type; values have the
 * property's type. `any` tests the elements of a `strings` property (`identifierUris/any(x:x eq 'api://…')`);
 * `search` matches `words` (each a prefix of a word of the property, case-insensitively).
 */
export type Filter =
  | { readonly kind: 'and' | 'or'; readonly operands: readonly Filter[] }
  | { readonly kind: 'eq' | 'ne'; readonly property: string; readonly value: FilterValue }
  | { readonly kind: 'startswith'; readonly property: string; readonly value: string }
  | { readonly kind: 'in'; readonly property: string; readonly values: readonly FilterValue[] }
  | {
      readonly kind: 'any';
      readonly property: string;
      readonly test: 'eq' | 'startswith';
      readonly value: string;
    }
  | { readonly kind: 'search'; readonly property: string; readonly words: readonly string[] };

/** `$orderby` of one property. */
export interface OrderBy {
  readonly property: string;
  readonly descending: boolean;
}

/**
 * The keyset position a `$skiptoken` carries: the id of the last item of the previous page and, under `$orderby`,
 * that item's sort value (as the collection's SQL compares it: lower-cased text, or 0/1).
 */
export interface Cursor {
  readonly id: string;
  /** The `$orderby` property the cursor was made for; undefined when ordered by id only. */
  readonly property: string | undefined;
  readonly value: string | number | undefined;
}

/** The query options of a collection request. */
export interface CollectionQuery {
  /** Properties to return, in request order; undefined: the default set. */
  readonly select: readonly string[] | undefined;
  /** Page size, 1 to 999; default 100. */
  readonly top: number;
  /** The object id of the keyset position `$skiptoken` carries (all of it when not under `$orderby`). */
  readonly after: string | undefined;
  /** The keyset position `$skiptoken` carries; undefined on the first page. */
  readonly cursor: Cursor | undefined;
  /** What every item must satisfy (`$filter`); undefined: all items. */
  readonly where: Filter | undefined;
  /**
   * The `$filter` of a `basic` entity type as clauses that all must hold; for a `full` one the same when the
   * filter is such a conjunction, else empty (read {@link where}).
   */
  readonly filter: readonly FilterClause[];
  /** What every item must match (`$search`); undefined: no search. */
  readonly search: Filter | undefined;
  /** `$orderby`; undefined: by object id (the order of unordered pages). */
  readonly orderBy: OrderBy | undefined;
  /** `@odata.count` wanted: `$count=true` with `ConsistencyLevel: eventual` (Graph ignores it without the header). */
  readonly count: boolean;
  /** The raw options to repeat in `@odata.nextLink` (all but `$skiptoken`). */
  readonly carried: readonly [string, string][];
}

/** Request headers that change how a collection query is answered. */
export interface QueryHeaders {
  /** The `ConsistencyLevel` header (`eventual` enables `$count` and `$search`). */
  readonly consistencyLevel?: string | undefined;
}

const COLLECTION_OPTIONS = new Set([
  '$select',
  '$top',
  '$skiptoken',
  '$filter',
  '$orderby',
  '$count',
  '$search',
]);
const ENTITY_OPTIONS = new Set(['$select']);

/** Longest value of one query option, in characters (a longer one answers 400 `Request_BadRequest`). */
export const LONGEST_OPTION_CHARS = 4096;
/** Most comparisons (`eq`, `ne`, `startswith`, `in`, `any`) in one `$filter` or `$search`. */
export const MAX_FILTER_PREDICATES = 32;
/** Most children of one `or` or values of one `in` (Graph's limit of 15 child clauses). */
export const MAX_OR_CHILDREN = 15;
/** Deepest nesting of parentheses in a `$filter`. */
export const MAX_FILTER_DEPTH = 8;

/** The query parameters of a request URL (`/v1.0/users?$top=5`). */
export function queryOf(url: string): URLSearchParams {
  const at = url.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
}

/** The headers of a request that {@link parseCollectionQuery} reads (Fastify's lower-cased header record). */
export function queryHeadersOf(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): QueryHeaders {
  const value = headers['consistencylevel'];
  return { consistencyLevel: Array.isArray(value) ? value[0] : value };
}

/**
 * The query options of a collection request.
 *
 * @throws ManagementError `invalid` (400 `Request_BadRequest`: a `$top` outside 1–999, an unknown `$select`
 *   property, a malformed `$filter`, `$orderby`, `$search`, `$count` or `$skiptoken`, a repeated or too long
 *   option) or `unsupported_query` (400 `Request_UnsupportedQuery`: another system query option, operator or
 *   property, `$search` without `ConsistencyLevel: eventual`, a query over the complexity limits).
 */
export function parseCollectionQuery(
  params: URLSearchParams,
  entity: EntityType,
  headers: QueryHeaders = {},
): CollectionQuery {
  checkOptions(params, COLLECTION_OPTIONS);
  const carried: [string, string][] = [];
  const eventual = headers.consistencyLevel?.trim().toLowerCase() === 'eventual';
  const topText = params.get('$top');
  let top = DEFAULT_PAGE_SIZE;
  if (topText !== null) {
    top = /^\d{1,4}$/.test(topText) ? Number(topText) : Number.NaN;
    if (!(top >= 1 && top <= MAX_PAGE_SIZE)) {
      throw new ManagementError(
        'invalid',
        `Invalid page size specified: '${topText.slice(0, 64)}'. Must be between 1 and ${MAX_PAGE_SIZE} inclusive.`,
      );
    }
    carried.push(['$top', topText]);
  }
  const filterText = params.get('$filter');
  const basic = entity.queries !== 'full';
  if (basic) {
    for (const option of ['$orderby', '$search', '$count']) {
      if (params.has(option)) {
        throw new ManagementError('unsupported_query', `The query option '${option}' is not supported.`);
      }
    }
  }
  const where = filterText === null ? undefined : parseFilter(filterText, entity);
  const clauses = where === undefined ? [] : clausesOf(where);
  if (basic && clauses === undefined) {
    throw new ManagementError(
      'unsupported_query',
      `This collection supports only 'eq' and 'startswith' clauses joined by 'and' in $filter.`,
    );
  }
  if (filterText !== null) carried.push(['$filter', filterText]);
  const searchText = params.get('$search');
  if (searchText !== null && !eventual) {
    throw new ManagementError(
      'unsupported_query',
      "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
    );
  }
  const search = searchText === null ? undefined : parseSearch(searchText, entity);
  if (searchText !== null) carried.push(['$search', searchText]);
  const orderText = params.get('$orderby');
  const orderBy = orderText === null ? undefined : parseOrderBy(orderText, entity);
  if (orderText !== null) carried.push(['$orderby', orderText]);
  const countText = params.get('$count');
  if (countText !== null && countText !== 'true' && countText !== 'false') {
    throw new ManagementError(
      'invalid',
      `Invalid value '${countText.slice(0, 64)}' for the query option '$count'.`,
    );
  }
  if (countText !== null) carried.push(['$count', countText]);
  const selectText = params.get('$select');
  if (selectText !== null) carried.push(['$select', selectText]);
  const skipToken = params.get('$skiptoken');
  const cursor = skipToken === null ? undefined : decodeSkipToken(skipToken, orderBy);
  return {
    select: selectText === null ? undefined : parseSelect(selectText, entity),
    top,
    after: cursor?.id,
    cursor,
    where,
    filter: clauses ?? [],
    search,
    orderBy,
    count: countText === 'true' && eventual,
    carried,
  };
}

/**
 * The `$select` of a single-entity request (`GET /users/{id}`), undefined for the default set.
 *
 * @throws ManagementError as {@link parseCollectionQuery}.
 */
export function parseEntityQuery(params: URLSearchParams, entity: EntityType): readonly string[] | undefined {
  checkOptions(params, ENTITY_OPTIONS);
  const selectText = params.get('$select');
  return selectText === null ? undefined : parseSelect(selectText, entity);
}

/**
 * `$skiptoken` for the page after `cursor` (an object id alone when not under `$orderby`): opaque to clients,
 * stable across requests.
 */
export function encodeSkipToken(after: Cursor | string): string {
  const cursor = typeof after === 'string' ? { id: after, property: undefined, value: undefined } : after;
  const payload =
    cursor.property === undefined ? [cursor.id] : [cursor.id, cursor.property, cursor.value ?? null];
  return Buffer.from(`k2:${JSON.stringify(payload)}`, 'utf8').toString('base64url');
}

const ID_PATTERN = /^[0-9a-f-]{1,64}$/;

/** The cursor of a `$skiptoken`; it must have been made for the same `$orderby`. */
function decodeSkipToken(token: string, orderBy: OrderBy | undefined): Cursor {
  const invalid = () => new ManagementError('invalid', 'The $skiptoken is not valid.');
  const text = /^[A-Za-z0-9_-]{1,4096}$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const legacy = /^k1:([0-9a-f-]{1,64})$/.exec(text)?.[1];
  if (legacy !== undefined && orderBy === undefined)
    return { id: legacy, property: undefined, value: undefined };
  if (!text.startsWith('k2:')) throw invalid();
  let payload: unknown;
  try {
    payload = JSON.parse(text.slice(3));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(payload) || typeof payload[0] !== 'string' || !ID_PATTERN.test(payload[0]))
    throw invalid();
  const [id, property, value] = payload as [string, unknown, unknown];
  if (orderBy === undefined) {
    if (payload.length !== 1) throw invalid();
    return { id, property: undefined, value: undefined };
  }
  if (payload.length !== 3 || property !== orderBy.property) throw invalid();
  if (typeof value !== 'string' && typeof value !== 'number') throw invalid();
  return { id, property, value };
}

function checkOptions(params: URLSearchParams, supported: ReadonlySet<string>): void {
  const seen = new Set<string>();
  for (const [name, value] of params) {
    // Graph accepts system query options with or without the `$` prefix (case-insensitively); only `$` names
    // are options here, so other parameters (`client-request-id`) stay free.
    if (!name.startsWith('$')) continue;
    if (!supported.has(name)) {
      throw new ManagementError(
        'unsupported_query',
        `The query option '${name.slice(0, 64)}' is not supported.`,
      );
    }
    if (seen.has(name)) {
      throw new ManagementError('invalid', `The query option '${name}' was specified more than once.`);
    }
    if (value.length > LONGEST_OPTION_CHARS) {
      throw new ManagementError(
        'invalid',
        `The query option '${name}' is too long: at most ${LONGEST_OPTION_CHARS} characters.`,
      );
    }
    seen.add(name);
  }
}

function parseSelect(text: string, entity: EntityType): readonly string[] {
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!Object.hasOwn(entity.properties, name)) {
      throw new ManagementError(
        'invalid',
        `Could not find a property named '${name.slice(0, 64)}' on type '${entity.name}'.`,
      );
    }
  }
  return [...new Set(names)];
}

/** Graph's resource name in messages: `microsoft.graph.user` → `User`. */
function resourceName(entity: EntityType): string {
  const name = entity.name.replace('microsoft.graph.', '');
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * `$orderby` of one property of `entity.filterable` (not a collection), `asc` (default) or `desc`.
 *
 * @throws ManagementError `invalid` (malformed) or `unsupported_query` (another property, several properties).
 */
function parseOrderBy(text: string, entity: EntityType): OrderBy {
  const parts = text.trim().split(',');
  if (parts.length > 1) {
    throw new ManagementError('unsupported_query', 'Sorting on more than one property is not supported.');
  }
  const match = /^([A-Za-z][A-Za-z0-9]*)(?:\s+(asc|desc))?$/i.exec(parts[0]?.trim() ?? '');
  if (match === null) throw new ManagementError('invalid', `Invalid $orderby: '${text.slice(0, 200)}'.`);
  const property = match[1] ?? '';
  const orderable =
    entity.orderable ?? entity.filterable.filter((name) => entity.properties[name] !== 'strings');
  if (!orderable.includes(property)) {
    throw new ManagementError(
      'unsupported_query',
      `Sorting not supported for property '${property.slice(0, 64)}' of resource '${resourceName(entity)}'.`,
    );
  }
  return { property, descending: match[2]?.toLowerCase() === 'desc' };
}

type Token =
  | { readonly kind: 'name'; readonly text: string }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'punct'; readonly text: '(' | ')' | ',' | ':' };

/**
 * Tokens of a `$filter`: names (identifiers, operators, `true` / `false`, `property/any`), single-quoted strings
 * (`''` is a quote) and `(`, `)`, `,`, `:`. Undefined when the text has anything else.
 */
function tokenize(text: string): Token[] | undefined {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const char = text.charAt(at);
    if (char === ' ') {
      at += 1;
    } else if (char === '(' || char === ')' || char === ',' || char === ':') {
      tokens.push({ kind: 'punct', text: char });
      at += 1;
    } else if (char === "'") {
      let value = '';
      at += 1;
      for (;;) {
        if (at >= text.length) return undefined;
        if (text.charAt(at) === "'") {
          if (text.charAt(at + 1) !== "'") break;
          value += "'";
          at += 2;
        } else {
          value += text.charAt(at);
          at += 1;
        }
      }
      at += 1;
      tokens.push({ kind: 'string', text: value });
    } else {
      const name = /^[A-Za-z_$][A-Za-z0-9_./$-]*/.exec(text.slice(at))?.[0];
      if (name === undefined) return undefined;
      tokens.push({ kind: 'name', text: name });
      at += name.length;
    }
  }
  return tokens;
}

/** Operators and functions of OData that the subset does not implement. */
const UNSUPPORTED_OPERATORS = new Set([
  'gt',
  'ge',
  'lt',
  'le',
  'not',
  'has',
  'endswith',
  'contains',
  'all',
  'add',
  'sub',
  'mul',
  'div',
  'mod',
]);

function unsupportedOperator(operator: string): ManagementError {
  return new ManagementError(
    'unsupported_query',
    `The filter operator '${operator.slice(0, 64)}' is not supported.`,
  );
}

function unsupportedClause(property: string, entity: EntityType): ManagementError {
  return new ManagementError(
    'unsupported_query',
    `Unsupported or invalid query filter clause specified for property '${property.slice(0, 64)}' of resource '${resourceName(entity)}'.`,
  );
}

function tooManyChildren(count: number): ManagementError {
  return new ManagementError(
    'unsupported_query',
    `Too many child clauses specified in search filter expression containing 'OR' operators: ${count}. Max allowed: ${MAX_OR_CHILDREN}.`,
  );
}

function incompatible(property: string): ManagementError {
  return new ManagementError(
    'invalid',
    `A binary operator with incompatible types was detected for property '${property.slice(0, 64)}'.`,
  );
}

/**
 * A recursive-descent parser of the `$filter` subset: `or` binds looser than `and`, parentheses group;
 * comparisons are `p eq v`, `p ne v`, `p in (v, …)`, `startswith(p, 's')`, `p/any(x:x eq 's')`,
 * `p/any(x:startswith(x, 's'))`.
 */
class FilterParser {
  private at = 0;
  private predicates = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly entity: EntityType,
    private readonly text: string,
  ) {}

  parse(): Filter {
    const filter = this.or(0);
    if (this.at !== this.tokens.length) throw this.invalid();
    return filter;
  }

  private invalid(): ManagementError {
    return new ManagementError('invalid', `Invalid filter clause: '${this.text.slice(0, 200)}'.`);
  }

  private next(): Token | undefined {
    const token = this.tokens[this.at];
    this.at += 1;
    return token;
  }

  private peekWord(word: string): boolean {
    const token = this.tokens[this.at];
    return token?.kind === 'name' && token.text.toLowerCase() === word;
  }

  private expect(text: '(' | ')' | ',' | ':'): void {
    const token = this.next();
    if (token?.kind !== 'punct' || token.text !== text) throw this.invalid();
  }

  private or(depth: number): Filter {
    const operands = [...this.flatten('or', this.and(depth))];
    while (this.peekWord('or')) {
      this.at += 1;
      operands.push(...this.flatten('or', this.and(depth)));
    }
    if (operands.length > MAX_OR_CHILDREN) throw tooManyChildren(operands.length);
    return operands.length === 1 && operands[0] !== undefined ? operands[0] : { kind: 'or', operands };
  }

  private and(depth: number): Filter {
    const operands = [...this.flatten('and', this.unary(depth))];
    while (this.peekWord('and')) {
      this.at += 1;
      operands.push(...this.flatten('and', this.unary(depth)));
    }
    return operands.length === 1 && operands[0] !== undefined ? operands[0] : { kind: 'and', operands };
  }

  private flatten(kind: 'and' | 'or', filter: Filter): readonly Filter[] {
    return filter.kind === kind ? filter.operands : [filter];
  }

  private unary(depth: number): Filter {
    const token = this.tokens[this.at];
    if (token?.kind === 'punct' && token.text === '(') {
      if (depth >= MAX_FILTER_DEPTH) {
        throw new ManagementError(
          'unsupported_query',
          `The $filter is nested too deeply: at most ${MAX_FILTER_DEPTH} levels of parentheses.`,
        );
      }
      this.at += 1;
      const inner = this.or(depth + 1);
      this.expect(')');
      return inner;
    }
    if (token?.kind === 'name' && token.text.toLowerCase() === 'not') throw unsupportedOperator(token.text);
    return this.comparison();
  }

  private comparison(): Filter {
    this.predicates += 1;
    if (this.predicates > MAX_FILTER_PREDICATES) {
      throw new ManagementError(
        'unsupported_query',
        `The $filter has too many clauses: at most ${MAX_FILTER_PREDICATES}.`,
      );
    }
    const first = this.next();
    if (first?.kind !== 'name') throw this.invalid();
    const lower = first.text.toLowerCase();
    const opens = this.tokens[this.at]?.text === '(';
    if (opens && lower === 'startswith') {
      this.expect('(');
      const property = this.next();
      this.expect(',');
      const value = this.next();
      this.expect(')');
      if (property?.kind !== 'name' || value === undefined) throw this.invalid();
      this.property(property.text, 'string');
      if (value.kind !== 'string') throw incompatible(property.text);
      return { kind: 'startswith', property: property.text, value: value.text };
    }
    if (opens && UNSUPPORTED_OPERATORS.has(lower)) throw unsupportedOperator(first.text);
    const slash = first.text.indexOf('/');
    if (slash >= 0) return this.lambda(first.text.slice(0, slash), first.text.slice(slash + 1));
    const operator = this.next();
    if (operator?.kind !== 'name') throw this.invalid();
    const op = operator.text.toLowerCase();
    if (op === 'eq' || op === 'ne') {
      const type = this.property(first.text, undefined);
      const value = this.literal(first.text, type);
      return { kind: op, property: first.text, value };
    }
    if (op === 'in') {
      const type = this.property(first.text, undefined);
      this.expect('(');
      const values = [this.literal(first.text, type)];
      for (;;) {
        const token = this.next();
        if (token?.kind === 'punct' && token.text === ')') break;
        if (token?.kind !== 'punct' || token.text !== ',') throw this.invalid();
        values.push(this.literal(first.text, type));
      }
      if (values.length > MAX_OR_CHILDREN) throw tooManyChildren(values.length);
      return { kind: 'in', property: first.text, values };
    }
    if (UNSUPPORTED_OPERATORS.has(op) || op === 'any') throw unsupportedOperator(operator.text);
    throw this.invalid();
  }

  /** `property/any(x: x eq 's')` or `property/any(x: startswith(x, 's'))` on a `strings` property. */
  private lambda(property: string, operator: string): Filter {
    const op = operator.toLowerCase();
    if (op !== 'any') {
      if (op === 'all') throw unsupportedOperator(operator);
      throw this.invalid();
    }
    this.property(property, 'strings');
    this.expect('(');
    const variable = this.next();
    if (variable?.kind !== 'name' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable.text)) throw this.invalid();
    this.expect(':');
    const head = this.next();
    if (head?.kind !== 'name') throw this.invalid();
    let test: 'eq' | 'startswith';
    let value: Token | undefined;
    if (head.text.toLowerCase() === 'startswith') {
      this.expect('(');
      const subject = this.next();
      this.expect(',');
      value = this.next();
      this.expect(')');
      if (subject?.text !== variable.text) throw this.invalid();
      test = 'startswith';
    } else {
      if (head.text !== variable.text) throw this.invalid();
      const comparison = this.next();
      if (comparison?.kind !== 'name') throw this.invalid();
      if (comparison.text.toLowerCase() !== 'eq') throw unsupportedOperator(comparison.text);
      value = this.next();
      test = 'eq';
    }
    if (this.tokens[this.at]?.kind === 'name') {
      throw new ManagementError(
        'unsupported_query',
        'Only one comparison is supported inside a lambda expression (any).',
      );
    }
    this.expect(')');
    if (value?.kind !== 'string') throw incompatible(property);
    return { kind: 'any', property, test, value: value.text };
  }

  /**
   * Checks that `name` is a filterable property of the entity (of type `want` when given) and returns its type.
   */
  private property(name: string, want: PropertyType | undefined): PropertyType {
    if (!Object.hasOwn(this.entity.properties, name)) {
      throw new ManagementError(
        'invalid',
        `Could not find a property named '${name.slice(0, 64)}' on type '${this.entity.name}'.`,
      );
    }
    const type = this.entity.properties[name];
    if (type === undefined || !this.entity.filterable.includes(name))
      throw unsupportedClause(name, this.entity);
    if (want === 'strings' ? type !== 'strings' : type === 'strings')
      throw unsupportedClause(name, this.entity);
    if (want !== undefined && type !== want) throw incompatible(name);
    return type;
  }

  private literal(property: string, type: PropertyType): FilterValue {
    const token = this.next();
    if (token === undefined || token.kind === 'punct') throw this.invalid();
    if (token.kind === 'string') {
      if (type !== 'string') throw incompatible(property);
      return token.text;
    }
    if (token.text === 'true' || token.text === 'false') {
      if (type !== 'boolean') throw incompatible(property);
      return token.text === 'true';
    }
    if (token.text === 'null') {
      throw new ManagementError('unsupported_query', `Comparing '${property}' with null is not supported.`);
    }
    throw this.invalid();
  }
}

/** `filter` as `eq` / `startswith` clauses that all must hold; undefined when it is not such a conjunction. */
function clausesOf(filter: Filter): FilterClause[] | undefined {
  const operands = filter.kind === 'and' ? filter.operands : [filter];
  const clauses: FilterClause[] = [];
  for (const operand of operands) {
    if (operand.kind !== 'eq' && operand.kind !== 'startswith') return undefined;
    clauses.push({ property: operand.property, operator: operand.kind, value: operand.value });
  }
  return clauses;
}

function parseFilter(text: string, entity: EntityType): Filter {
  const tokens = tokenize(text);
  if (tokens === undefined || tokens.length === 0) {
    throw new ManagementError('invalid', `Invalid filter clause: '${text.slice(0, 200)}'.`);
  }
  return new FilterParser(tokens, entity, text).parse();
}

/** The words of a `$search` term: runs of letters and digits, lower-cased. */
function searchWords(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 0);
}

/**
 * `$search`: one or more `"property:words"` terms joined by `AND` / `OR` (`AND` binds tighter), as Graph's
 * directory objects take it.
 *
 * @throws ManagementError `invalid` (malformed) or `unsupported_query` (a property not searchable).
 */
function parseSearch(text: string, entity: EntityType): Filter {
  const invalid = () => new ManagementError('invalid', `Invalid $search: '${text.slice(0, 200)}'.`);
  const parts = /^\s*"[^"]*"(?:\s+(?:AND|OR)\s+"[^"]*")*\s*$/i.test(text)
    ? [...text.matchAll(/"([^"]*)"|(AND|OR)/gi)]
    : undefined;
  if (parts === undefined) throw invalid();
  const groups: Filter[][] = [[]];
  let terms = 0;
  for (const part of parts) {
    const joiner = part[2]?.toUpperCase();
    if (joiner === 'OR') groups.push([]);
    if (joiner !== undefined) continue;
    const term = part[1] ?? '';
    const colon = term.indexOf(':');
    if (colon <= 0) throw invalid();
    const property = term.slice(0, colon).trim();
    if (!(entity.searchable ?? []).includes(property)) {
      throw new ManagementError(
        'unsupported_query',
        `Unsupported or invalid query search clause specified for property '${property.slice(0, 64)}' of resource '${resourceName(entity)}'.`,
      );
    }
    const words = searchWords(term.slice(colon + 1));
    if (words.length === 0) throw invalid();
    terms += words.length;
    if (terms > MAX_FILTER_PREDICATES) {
      throw new ManagementError(
        'unsupported_query',
        `The $search has too many words: at most ${MAX_FILTER_PREDICATES}.`,
      );
    }
    groups.at(-1)?.push({ kind: 'search', property, words });
  }
  if (groups.length > MAX_OR_CHILDREN) throw tooManyChildren(groups.length);
  const ands = groups.map((group): Filter =>
    group.length === 1 && group[0] !== undefined ? group[0] : { kind: 'and', operands: group },
  );
  return ands.length === 1 && ands[0] !== undefined ? ands[0] : { kind: 'or', operands: ands };
}

/** Keeps the `select`ed properties of an entity in request order; all of `entity` when `select` is undefined. */
export function selected(
  entity: Readonly<Record<string, unknown>>,
  select: readonly string[] | undefined,
): Record<string, unknown> {
  if (select === undefined) return { ...entity };
  return Object.fromEntries(select.map((name) => [name, entity[name] ?? null]));
}
