import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../store/repositories/paging.js';
import { ManagementError } from './errors.js';

/**
 * The OData subset of the management API: `$select`, `$top`, `$skiptoken` and a `$filter` of `eq` / `startswith`
 * clauses joined by `and`. Every other system query option, operator or property answers 400, never a silently
 * ignored clause.
 *
 * @see https://learn.microsoft.com/graph/query-parameters
 * @see OData Version 4.01 Part 2: URL Conventions §5.1
 */

/** The EDM type of a property, as far as filters need it. */
export type PropertyType = 'string' | 'boolean';

/** An entity type's properties: what `$select` may name and what `$filter` may compare. */
export interface EntityType {
  /** Graph's type name, e.g. `microsoft.graph.user`. */
  readonly name: string;
  /** Every selectable property, with its type. */
  readonly properties: Readonly<Record<string, PropertyType>>;
  /** Properties `$filter` supports (indexed or cheap to compare). */
  readonly filterable: readonly string[];
}

/** One `$filter` clause. `startswith` compares strings only. */
export interface FilterClause {
  readonly property: string;
  readonly operator: 'eq' | 'startswith';
  readonly value: string | boolean;
}

/** The query options of a collection request. */
export interface CollectionQuery {
  /** Properties to return, in request order; undefined: the default set. */
  readonly select: readonly string[] | undefined;
  /** Page size, 1 to 999; default 100. */
  readonly top: number;
  /** The keyset cursor `$skiptoken` carries; undefined on the first page. */
  readonly after: string | undefined;
  /** Clauses all items must satisfy (`and`). */
  readonly filter: readonly FilterClause[];
  /** The raw `$filter`, `$select` and `$top` to repeat in `@odata.nextLink`. */
  readonly carried: readonly [string, string][];
}

const COLLECTION_OPTIONS = new Set(['$select', '$top', '$skiptoken', '$filter']);
const ENTITY_OPTIONS = new Set(['$select']);
/** Longest value of one query option, in characters (a longer one answers 400). */
const LONGEST_OPTION_CHARS = 4096;

/** The query parameters of a request URL (`/v1.0/users?$top=5`). */
export function queryOf(url: string): URLSearchParams {
  const at = url.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
}

/**
 * The query options of a collection request.
 *
 * @throws ManagementError `invalid` (a `$top` outside 1–999, an unknown `$select` property, a malformed `$filter`
 *   or `$skiptoken`, a repeated option) or `unsupported_query` (another system query option, operator or
 *   property).
 */
export function parseCollectionQuery(params: URLSearchParams, entity: EntityType): CollectionQuery {
  checkOptions(params, COLLECTION_OPTIONS);
  const carried: [string, string][] = [];
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
  const filter = filterText === null ? [] : parseFilter(filterText, entity);
  if (filterText !== null) carried.push(['$filter', filterText]);
  const selectText = params.get('$select');
  if (selectText !== null) carried.push(['$select', selectText]);
  const skipToken = params.get('$skiptoken');
  return {
    select: selectText === null ? undefined : parseSelect(selectText, entity),
    top,
    after: skipToken === null ? undefined : decodeSkipToken(skipToken),
    filter,
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

/** `$skiptoken` for the page after the item with id `after`: opaque to clients, stable across requests. */
export function encodeSkipToken(after: string): string {
  return Buffer.from(`k1:${after}`, 'utf8').toString('base64url');
}

function decodeSkipToken(token: string): string {
  const text = /^[A-Za-z0-9_-]{1,200}$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const after = /^k1:([0-9a-f-]{1,64})$/.exec(text)?.[1];
  if (after === undefined) throw new ManagementError('invalid', 'The $skiptoken is not valid.');
  return after;
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
      throw new ManagementError('invalid', `The query option '${name}' is too long.`);
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

type Token =
  | { readonly kind: 'name'; readonly text: string }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'punct'; readonly text: '(' | ')' | ',' };

/**
 * Tokens of a `$filter`: names (identifiers, operators, `true` / `false`), single-quoted strings (`''` is a
 * quote) and `(`, `)`, `,`.
 */
function tokenize(text: string): Token[] | undefined {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const char = text.charAt(at);
    if (char === ' ') {
      at += 1;
    } else if (char === '(' || char === ')' || char === ',') {
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

/** Comparison and logical operators of OData that the subset does not implement. */
const UNSUPPORTED_OPERATORS = new Set([
  'ne',
  'gt',
  'ge',
  'lt',
  'le',
  'in',
  'or',
  'not',
  'has',
  'endswith',
  'contains',
  'any',
  'all',
]);

function parseFilter(text: string, entity: EntityType): FilterClause[] {
  const invalid = () => new ManagementError('invalid', `Invalid filter clause: '${text.slice(0, 200)}'.`);
  const tokens = tokenize(text);
  if (tokens === undefined || tokens.length === 0) throw invalid();
  const clauses: FilterClause[] = [];
  let at = 0;
  const next = () => tokens[at++];
  for (;;) {
    const first = next();
    if (first?.kind !== 'name') throw invalid();
    let clause: FilterClause;
    if (first.text.toLowerCase() === 'startswith') {
      const [open, property, comma, value, close] = [next(), next(), next(), next(), next()];
      if (open?.text !== '(' || property?.kind !== 'name' || comma?.text !== ',' || close?.text !== ')')
        throw invalid();
      if (value?.kind !== 'string') throw unsupportedClause(property.text, entity);
      clause = { property: property.text, operator: 'startswith', value: value.text };
    } else {
      const operator = next();
      if (operator?.kind !== 'name') throw invalid();
      const op = operator.text.toLowerCase();
      if (UNSUPPORTED_OPERATORS.has(op)) {
        throw new ManagementError(
          'unsupported_query',
          `The filter operator '${operator.text}' is not supported.`,
        );
      }
      if (op !== 'eq') throw invalid();
      const value = next();
      if (value === undefined || value.kind === 'punct') throw invalid();
      const literal =
        value.kind === 'string'
          ? value.text
          : value.text === 'true'
            ? true
            : value.text === 'false'
              ? false
              : undefined;
      if (literal === undefined) throw invalid();
      clause = { property: first.text, operator: 'eq', value: literal };
    }
    const type = entity.filterable.includes(clause.property) ? entity.properties[clause.property] : undefined;
    if (type === undefined) throw unsupportedClause(clause.property, entity);
    if (typeof clause.value !== type) {
      throw new ManagementError(
        'invalid',
        `A binary operator with incompatible types was detected for property '${clause.property}'.`,
      );
    }
    clauses.push(clause);
    const joiner = next();
    if (joiner === undefined) return clauses;
    if (joiner.kind === 'name' && joiner.text.toLowerCase() === 'and') continue;
    if (joiner.kind === 'name' && UNSUPPORTED_OPERATORS.has(joiner.text.toLowerCase())) {
      throw new ManagementError(
        'unsupported_query',
        `The filter operator '${joiner.text}' is not supported.`,
      );
    }
    throw invalid();
  }
}

function unsupportedClause(property: string, entity: EntityType): ManagementError {
  return new ManagementError(
    'unsupported_query',
    `Unsupported or invalid query filter clause specified for property '${property.slice(0, 64)}' of resource '${entity.name.replace('microsoft.graph.', '')}'.`,
  );
}

/** Keeps the `select`ed properties of an entity in request order; all of `entity` when `select` is undefined. */
export function selected(
  entity: Readonly<Record<string, unknown>>,
  select: readonly string[] | undefined,
): Record<string, unknown> {
  if (select === undefined) return { ...entity };
  return Object.fromEntries(select.map((name) => [name, entity[name] ?? null]));
}
