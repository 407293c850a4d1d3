import type { FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { DirectoryError, type DirectoryErrorCode } from '../directory/errors.js';
import { GUID_PATTERN } from '../directory/identifiers.js';
import { ManagementError } from './errors.js';
import {
  encodeSkipToken,
  parseCollectionQuery,
  queryHeadersOf,
  queryOf,
  type CollectionQuery,
  type EntityType,
} from './odata.js';

/**
 * What the routes of service principals, app role assignments and permission grants share: checks of JSON
 * bodies and path keys with Microsoft Graph's 400 messages (nothing is written before a body passed them),
 * Graph's 404, the query and `@odata.context` of a request, and directory refusals turned into Graph's answers.
 */

/**
 * The collection query of a request: its URL's options and its `ConsistencyLevel` header.
 *
 * @throws ManagementError as {@link parseCollectionQuery}.
 */
export function collectionQueryOf(request: FastifyRequest, entity: EntityType): CollectionQuery {
  return parseCollectionQuery(queryOf(request.url), entity, queryHeadersOf(request.headers));
}

/**
 * `@odata.context` of a response: `{base}/v1.0/$metadata#{path}[(select)][/$entity]`.
 *
 * @param path the collection as Graph names it, e.g. `servicePrincipals` or
 *   `servicePrincipals('{id}')/appRoleAssignedTo`.
 */
export function odataContext(
  context: ServerContext,
  path: string,
  select: readonly string[] | undefined,
  entity: boolean,
): string {
  const projection = select === undefined ? '' : `(${select.join(',')})`;
  return `${context.baseUrl()}/v1.0/$metadata#${path}${projection}${entity ? '/$entity' : ''}`;
}

/**
 * `@odata.nextLink` of a page whose last item has the id `next`: the request's own path (a navigation such as
 * `/servicePrincipals/{id}/appRoleAssignedTo`) with its query options and a `$skiptoken`; nothing on the last page.
 */
export function nextLinkOf(
  context: ServerContext,
  request: FastifyRequest,
  query: CollectionQuery,
  next: string | undefined,
): { readonly '@odata.nextLink'?: string } {
  if (next === undefined) return {};
  const path = request.url.split('?')[0] ?? '';
  const options = new URLSearchParams([...query.carried, ['$skiptoken', encodeSkipToken(next)]]);
  return { '@odata.nextLink': `${context.baseUrl()}${path}?${options.toString()}` };
}

/**
 * What `work` resolves to, or, when it is refused with the directory error `code`, what `instead` returns or
 * throws (Graph's answer for that refusal); other failures as they are.
 */
export async function onDirectoryError<T>(
  work: Promise<T>,
  code: DirectoryErrorCode,
  instead: (error: DirectoryError) => T,
): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof DirectoryError && error.code === code) return instead(error);
    throw error;
  }
}

/** `work`, with the directory's `not_found` answered as Graph's 404 for `key` ({@link resourceNotFound}). */
export function orNotFound<T>(work: Promise<T>, key: string): Promise<T> {
  return onDirectoryError(work, 'not_found', () => {
    throw resourceNotFound(key);
  });
}

/** The JSON type a body property must have; `string?` also allows `null`. */
export type BodyPropertyType = 'string' | 'string?' | 'boolean';

/** What a request body may hold. */
export interface BodyShape {
  /** Properties the request sets, with their types. */
  readonly writable: Readonly<Record<string, BodyPropertyType>>;
  /** Properties of the resource a client may not set (Graph answers 400, not "invalid property"). */
  readonly readOnly?: readonly string[];
  /** Writable properties that must be present. */
  readonly required?: readonly string[];
  /**
   * The body's entity type (`microsoft.graph.servicePrincipal`): an `@odata.type` naming it (with or without
   * `#`, as SDKs send it) is accepted and ignored.
   */
  readonly odataType?: string;
}

const EDM_NAMES: Readonly<Record<BodyPropertyType, string>> = {
  string: 'Edm.String',
  'string?': 'Edm.String',
  boolean: 'Edm.Boolean',
};

/**
 * The body as an object of only `shape.writable` properties, each of its JSON type, every `shape.required` one
 * present.
 *
 * @param what the request, for the missing-property message (e.g. `create a service principal`).
 * @throws ManagementError `invalid` (400 `Request_BadRequest`): not a JSON object, an unknown or read-only
 *   property, a value of another type, a missing required property, an `@odata.type` of another entity type.
 */
export function checkBody(body: unknown, shape: BodyShape, what: string): Readonly<Record<string, unknown>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ManagementError('invalid', 'Expected a JSON object for the request body.');
  }
  const entries = Object.entries(body as Record<string, unknown>);
  for (const [name, value] of entries) {
    if (name === '@odata.type' && shape.odataType !== undefined) {
      const named = typeof value === 'string' ? value.replace(/^#/, '').toLowerCase() : undefined;
      if (named === shape.odataType.toLowerCase()) continue;
      throw new ManagementError('invalid', `The @odata.type of the body must be '#${shape.odataType}'.`);
    }
    const type = Object.hasOwn(shape.writable, name) ? shape.writable[name] : undefined;
    if (type === undefined) {
      const readOnly = shape.readOnly?.includes(name) === true;
      throw new ManagementError(
        'invalid',
        readOnly
          ? `Property '${name}' is read-only and cannot be set.`
          : `Invalid property '${name.slice(0, 64)}'.`,
      );
    }
    const matches =
      type === 'boolean'
        ? typeof value === 'boolean'
        : typeof value === 'string' || (type === 'string?' && value === null);
    if (!matches) {
      throw new ManagementError(
        'invalid',
        `Cannot convert the value of property '${name}' to the expected type '${EDM_NAMES[type]}'.`,
      );
    }
  }
  for (const name of shape.required ?? []) {
    if (!entries.some(([present]) => present === name)) {
      throw new ManagementError('invalid', `Property '${name}' is required to ${what}.`);
    }
  }
  return body as Readonly<Record<string, unknown>>;
}

/**
 * A directory object id from a body or path: a GUID, lower-cased.
 *
 * @throws ManagementError `invalid` (400 `Request_BadRequest`, Graph's `Invalid object identifier '…'.`).
 */
export function objectId(value: string): string {
  const id = value.toLowerCase();
  if (!GUID_PATTERN.test(id)) {
    throw new ManagementError('invalid', `Invalid object identifier '${value.slice(0, 100)}'.`);
  }
  return id;
}

/** Graph's 404 for an object the caller's tenant does not have (or that does not exist at all). */
export function resourceNotFound(key: string): ManagementError {
  return new ManagementError(
    'not_found',
    `Resource '${key.slice(0, 200)}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

/** Unix seconds as Graph writes a `DateTimeOffset` (`2026-12-02T03:04:05Z`). */
export function graphDateTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
