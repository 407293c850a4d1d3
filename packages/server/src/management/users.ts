import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { DirectoryError } from '../directory/errors.js';
import type { User } from '../directory/model.js';
import { isAllowed, requireAllowed, type Caller } from './authentication.js';
import { INSUFFICIENT_PRIVILEGES, ManagementError } from './errors.js';
import { collectionBody, listUsers } from './collection-queries.js';
import {
  parseCollectionQuery,
  parseEntityQuery,
  queryHeadersOf,
  queryOf,
  selected,
  type EntityType,
} from './odata.js';

/** The resource paths under `/v1.0` this module answers (another method on them answers 405). */
export const USERS_PATHS: readonly RegExp[] = [/^\/v1\.0\/(?:me|users)$/, /^\/v1\.0\/users\/[^/]+$/];

/** Graph's `user` as far as Tessera keeps it: what `$select` and `$filter` may name. */
export const USER_TYPE: EntityType = {
  name: 'microsoft.graph.user',
  properties: {
    id: 'string',
    accountEnabled: 'boolean',
    businessPhones: 'string',
    displayName: 'string',
    givenName: 'string',
    jobTitle: 'string',
    mail: 'string',
    mobilePhone: 'string',
    officeLocation: 'string',
    preferredLanguage: 'string',
    surname: 'string',
    userPrincipalName: 'string',
  },
  filterable: ['id', 'userPrincipalName', 'displayName', 'accountEnabled'],
  searchable: ['displayName'],
  queries: 'full',
};

/** The properties Graph returns without `$select` (`accountEnabled` only when selected), in Graph's order. */
const DEFAULT_USER_PROPERTIES = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
] as const;

/** A user in Graph's JSON; properties Tessera does not keep are `null` (`businessPhones` `[]`). */
export function graphUser(user: User, select: readonly string[] | undefined): Record<string, unknown> {
  const all: Record<string, unknown> = {
    id: user.id,
    accountEnabled: user.accountEnabled,
    businessPhones: [],
    displayName: user.displayName,
    givenName: null,
    jobTitle: null,
    mail: null,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: null,
    userPrincipalName: user.userPrincipalName,
  };
  return selected(all, select ?? DEFAULT_USER_PROPERTIES);
}

/** `@odata.context` of users: `{base}/v1.0/$metadata#users[(select)][/$entity]`. */
function usersContext(
  context: ServerContext,
  select: readonly string[] | undefined,
  entity: boolean,
): string {
  const projection = select === undefined ? '' : `(${select.join(',')})`;
  return `${context.baseUrl()}/v1.0/$metadata#users${projection}${entity ? '/$entity' : ''}`;
}

/** A C0 control character or DEL: never part of an id or UPN (PostgreSQL refuses NUL in text). */
function hasControlCharacter(text: string): boolean {
  for (let at = 0; at < text.length; at += 1) {
    const code = text.charCodeAt(at);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** Largest `{id | userPrincipalName}` path segment, in characters. */
const MAX_KEY_CHARS = 1024;

/**
 * A user of the caller's tenant by object id or UPN (case-insensitive), through `directory.users.get`; users of
 * other tenants do not exist here. A key no id or UPN can be (a control character, over 1024 characters) is not
 * looked up.
 *
 * @throws ManagementError `not_found` (404 `Request_ResourceNotFound`, Graph's message).
 */
async function userOfTenant(context: ServerContext, tenantId: string, key: string): Promise<User> {
  const notFound = new ManagementError(
    'not_found',
    `Resource '${key.slice(0, 200)}' does not exist or one of its queried reference-property objects are not present.`,
  );
  if (key.length > MAX_KEY_CHARS || hasControlCharacter(key)) throw notFound;
  try {
    return await context.directory.users.get(tenantId, key);
  } catch (error) {
    if (error instanceof DirectoryError && error.code === 'not_found') throw notFound;
    throw error;
  }
}

/** The properties `POST /users` accepts, with their JSON types; `passwordProfile` is checked on its own. */
const CREATE_PROPERTIES = {
  accountEnabled: 'boolean',
  displayName: 'string',
  mailNickname: 'string',
  userPrincipalName: 'string',
  passwordProfile: 'object',
} as const;
const PASSWORD_PROFILE_PROPERTIES = {
  password: 'string',
  forceChangePasswordNextSignIn: 'boolean',
  forceChangePasswordNextSignInWithMfa: 'boolean',
} as const;

/** The checked body of `POST /users`. */
interface CreateUserBody {
  readonly accountEnabled: boolean;
  readonly displayName: string;
  readonly userPrincipalName: string;
  readonly password: string;
}

/**
 * Checks Graph's `POST /users` body: a JSON object of only {@link CREATE_PROPERTIES}, each of its type, all
 * present; `passwordProfile` an object with a string `password`.
 *
 * @throws ManagementError `invalid` (400 `Request_BadRequest`) for anything else.
 */
function checkCreateBody(body: unknown): CreateUserBody {
  const object = checkObject(body, CREATE_PROPERTIES, 'the request body');
  for (const name of Object.keys(CREATE_PROPERTIES)) {
    if (object[name] === undefined) {
      throw new ManagementError('invalid', `Property '${name}' is required to create a user.`);
    }
  }
  const profile = checkObject(object.passwordProfile, PASSWORD_PROFILE_PROPERTIES, 'passwordProfile');
  if (typeof profile.password !== 'string') {
    throw new ManagementError('invalid', "Property 'passwordProfile.password' is required to create a user.");
  }
  return {
    accountEnabled: object.accountEnabled as boolean,
    displayName: object.displayName as string,
    userPrincipalName: object.userPrincipalName as string,
    password: profile.password,
  };
}

function checkObject(
  value: unknown,
  properties: Readonly<Record<string, 'string' | 'boolean' | 'object'>>,
  what: string,
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ManagementError('invalid', `Expected a JSON object for ${what}.`);
  }
  const object = value as Record<string, unknown>;
  for (const [name, property] of Object.entries(object)) {
    const type = Object.hasOwn(properties, name) ? properties[name] : undefined;
    if (type === undefined) {
      throw new ManagementError('invalid', `Invalid property '${name.slice(0, 64)}'.`);
    }
    const actual = property === null ? 'null' : Array.isArray(property) ? 'array' : typeof property;
    if (actual !== type) {
      throw new ManagementError(
        'invalid',
        `Cannot convert the value of property '${name}' to the expected type 'Edm.${type === 'string' ? 'String' : type === 'boolean' ? 'Boolean' : 'ComplexType'}'.`,
      );
    }
  }
  return object;
}

/**
 * `GET /v1.0/me`, `GET|POST /v1.0/users`, `GET /v1.0/users/{id | userPrincipalName}` (Graph v1.0 user
 * resource): reads limited to the caller's tenant, creation through `directory.users.create`.
 *
 * @see https://learn.microsoft.com/graph/api/user-get
 * @see https://learn.microsoft.com/graph/api/user-list
 * @see https://learn.microsoft.com/graph/api/user-post-users
 */
export function registerUserRoutes(
  scope: FastifyInstance,
  context: ServerContext,
  authenticate: (request: FastifyRequest) => Promise<Caller>,
): void {
  scope.get('/me', async (request, reply) => {
    const caller = await authenticate(request);
    if (caller.kind === 'app') {
      throw new ManagementError('invalid', '/me request is only valid with delegated authentication flow.');
    }
    requireAllowed(caller, 'me.read');
    const select = parseEntityQuery(queryOf(request.url), USER_TYPE);
    return reply.send({
      '@odata.context': usersContext(context, select, true),
      ...graphUser(caller.user, select),
    });
  });

  scope.get('/users', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'users.read');
    const query = parseCollectionQuery(queryOf(request.url), USER_TYPE, queryHeadersOf(request.headers));
    const page = await listUsers(context.store, caller.tenantId, query);
    return reply.send(collectionBody(context, 'users', query, page, (user) => graphUser(user, query.select)));
  });

  scope.get<{ Params: { key: string } }>('/users/:key', async (request, reply) => {
    const caller = await authenticate(request);
    const select = parseEntityQuery(queryOf(request.url), USER_TYPE);
    const self = caller.kind === 'delegated' && isAllowed(caller, 'me.read');
    if (!self) requireAllowed(caller, 'users.read');
    const user = await userOfTenant(context, caller.tenantId, request.params.key);
    if (!isAllowed(caller, 'users.read') && (caller.kind === 'app' || user.id !== caller.user.id)) {
      throw new ManagementError('denied', INSUFFICIENT_PRIVILEGES);
    }
    return reply.send({ '@odata.context': usersContext(context, select, true), ...graphUser(user, select) });
  });

  scope.post('/users', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'users.create');
    const body = checkCreateBody(request.body);
    const user = await context.directory.users.create({
      tenant: caller.tenantId,
      userPrincipalName: body.userPrincipalName,
      displayName: body.displayName,
      password: body.password,
      accountEnabled: body.accountEnabled,
    });
    return reply
      .status(201)
      .header('location', `${context.baseUrl()}/v1.0/users/${user.id}`)
      .send({ '@odata.context': usersContext(context, undefined, true), ...graphUser(user, undefined) });
  });
}
