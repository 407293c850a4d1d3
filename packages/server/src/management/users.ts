import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { DirectoryError } from '../directory/errors.js';
import { GLOBAL_ADMINISTRATOR, type User } from '../directory/model.js';
import { hasControlCharacter, type UserChange } from '../directory/services/users.js';
import { isAllowed, requireAllowed, type Caller } from './authentication.js';
import { INSUFFICIENT_PRIVILEGES, ManagementError } from './errors.js';
import {
  collectionBody,
  collectionText,
  listUserRows,
  listUsers,
  type UserPageRow,
} from './collection-queries.js';
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
    mailNickname: 'string',
    mobilePhone: 'string',
    officeLocation: 'string',
    preferredLanguage: 'string',
    surname: 'string',
    userPrincipalName: 'string',
  },
  filterable: [
    'id',
    'userPrincipalName',
    'displayName',
    'accountEnabled',
    'givenName',
    'surname',
    'mail',
    'mailNickname',
    'jobTitle',
  ],
  orderable: ['id', 'userPrincipalName', 'displayName', 'accountEnabled'],
  searchable: ['displayName', 'userPrincipalName', 'mail', 'givenName', 'surname'],
  queries: 'full',
};

/**
 * The properties Graph returns without `$select` (`accountEnabled` only when selected), in Graph's order
 * ({@link defaultGraphUser} and {@link defaultUserText} write them in this order).
 */
type DefaultUserProperty =
  | 'businessPhones'
  | 'displayName'
  | 'givenName'
  | 'jobTitle'
  | 'mail'
  | 'mobilePhone'
  | 'officeLocation'
  | 'preferredLanguage'
  | 'surname'
  | 'userPrincipalName'
  | 'id';

/**
 * A user in Graph's JSON; properties Tessera does not keep, or that are not set, are `null` (`businessPhones`
 * `[]`). `mailNickname` only when selected, as in Graph.
 */
export function graphUser(user: User, select: readonly string[] | undefined): Record<string, unknown> {
  if (select === undefined) return defaultGraphUser(user);
  const all: Record<string, unknown> = {
    id: user.id,
    accountEnabled: user.accountEnabled,
    businessPhones: [],
    displayName: user.displayName,
    givenName: user.givenName ?? null,
    jobTitle: user.jobTitle ?? null,
    mail: user.mail ?? null,
    mailNickname: user.mailNickname ?? null,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: user.surname ?? null,
    userPrincipalName: user.userPrincipalName,
  };
  return selected(all, select);
}

/**
 * Text `JSON.stringify` writes unchanged between quotes: no `"`, `\\`, control character (U+0000–U+001F) or
 * UTF-16 surrogate (a lone one is escaped; a string with a pair goes through `JSON.stringify` too).
 */
// eslint-disable-next-line no-control-regex -- control characters are what JSON.stringify escapes
const PLAIN_JSON_TEXT = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** `JSON.stringify(value)` of a string: quoted as it is when it is {@link PLAIN_JSON_TEXT}, the common case. */
function jsonString(value: string): string {
  return PLAIN_JSON_TEXT.test(value) ? `"${value}"` : JSON.stringify(value);
}

/** A JSON string, or `null` for a property that is not set. */
function jsonText(value: string | null | undefined): string {
  return value === null || value === undefined ? 'null' : jsonString(value);
}

/**
 * A user in Graph's JSON without `$select`, as text, straight from its row: the {@link DefaultUserProperty}
 * properties in Graph's order, exactly `JSON.stringify(graphUser(userFromRow(row), undefined))` (strings that need
 * escaping escaped by `JSON.stringify` itself), without making the user or the object first.
 */
function defaultUserText(row: UserPageRow): string {
  return (
    `{"businessPhones":[],"displayName":${jsonString(row.display_name)},` +
    `"givenName":${jsonText(row.given_name)},"jobTitle":${jsonText(row.job_title)},` +
    `"mail":${jsonText(row.mail)},"mobilePhone":null,"officeLocation":null,"preferredLanguage":null,` +
    `"surname":${jsonText(row.surname)},"userPrincipalName":${jsonString(row.user_principal_name)},` +
    `"id":${jsonString(row.id)}}`
  );
}

/** A user in Graph's JSON without `$select`: the {@link DefaultUserProperty} properties, built directly. */
function defaultGraphUser(user: User): Record<DefaultUserProperty, unknown> {
  return {
    businessPhones: [],
    displayName: user.displayName,
    givenName: user.givenName ?? null,
    jobTitle: user.jobTitle ?? null,
    mail: user.mail ?? null,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: user.surname ?? null,
    userPrincipalName: user.userPrincipalName,
    id: user.id,
  };
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
  readonly mailNickname: string;
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
  const password = checkPasswordProfile(object.passwordProfile);
  if (password === undefined) {
    throw new ManagementError('invalid', "Property 'passwordProfile.password' is required to create a user.");
  }
  return {
    accountEnabled: object.accountEnabled as boolean,
    displayName: object.displayName as string,
    mailNickname: object.mailNickname as string,
    userPrincipalName: object.userPrincipalName as string,
    password,
  };
}

/**
 * Checks Graph's `passwordProfile`: an object of only {@link PASSWORD_PROFILE_PROPERTIES}. Tessera has no
 * forced password change at sign-in, so `forceChangePasswordNextSignIn` and `…WithMfa` may only be `false`.
 *
 * @returns the new password, if given.
 * @throws ManagementError `invalid` (400 `Request_BadRequest`) otherwise.
 */
function checkPasswordProfile(value: unknown): string | undefined {
  const profile = checkObject(value, PASSWORD_PROFILE_PROPERTIES, 'passwordProfile');
  for (const name of ['forceChangePasswordNextSignIn', 'forceChangePasswordNextSignInWithMfa']) {
    if (profile[name] === true) {
      throw new ManagementError(
        'invalid',
        `Property 'passwordProfile.${name}' can only be false: Tessera has no forced password change.`,
      );
    }
  }
  return profile.password as string | undefined;
}

/**
 * The properties `PATCH /users/{id}` accepts, with their JSON types (`string?`: a string or null, which clears
 * it); `passwordProfile` is checked on its own.
 */
const UPDATE_PROPERTIES = {
  accountEnabled: 'boolean',
  displayName: 'string',
  userPrincipalName: 'string',
  passwordProfile: 'object',
  mailNickname: 'string?',
  givenName: 'string?',
  surname: 'string?',
  jobTitle: 'string?',
  mail: 'string?',
} as const;

/** What a plain user may change of themself with `User.ReadWrite` (their own name); the rest needs a role. */
const SELF_SERVICE_PROPERTIES: ReadonlySet<string> = new Set(['displayName', 'givenName', 'surname']);

/**
 * Properties whose change on a user who holds a directory role needs a Global Administrator, as Graph's "who can
 * perform sensitive actions" rule: they let the changer sign in as that user or lock them out.
 */
const SENSITIVE_PROPERTIES: readonly string[] = [
  'accountEnabled',
  'passwordProfile',
  'userPrincipalName',
  'mail',
];

/** Scopes that let a signed-in user change their own profile (Graph's least privileged: `User.ReadWrite`). */
const SELF_UPDATE_SCOPES = ['user.readwrite', 'user.readwrite.all', 'directory.readwrite.all'];

/**
 * Checks Graph's `PATCH /users/{id}` body: a JSON object of only {@link UPDATE_PROPERTIES}, each of its type.
 *
 * @returns the change for `directory.users.update`, and the names of the properties given.
 * @throws ManagementError `invalid` (400 `Request_BadRequest`) for anything else.
 */
function checkUpdateBody(body: unknown): { change: UserChange; names: readonly string[] } {
  const object = checkObject(body, UPDATE_PROPERTIES, 'the request body');
  const password =
    object.passwordProfile === undefined ? undefined : checkPasswordProfile(object.passwordProfile);
  const change: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(object)) {
    if (name !== 'passwordProfile') change[name] = value;
  }
  if (password !== undefined) change.password = password;
  return { change, names: Object.keys(object) };
}

/**
 * Whether `caller` may make a change naming `properties` to `target`: `users.update` callers may change anyone,
 * except the {@link SENSITIVE_PROPERTIES} of a directory role holder, which need a signed-in Global Administrator
 * (no app-only caller); a plain user signed in with `User.ReadWrite` may change their own
 * {@link SELF_SERVICE_PROPERTIES}.
 *
 * @throws ManagementError `denied` (403 `Authorization_RequestDenied`) otherwise.
 * @see https://learn.microsoft.com/graph/api/user-update (permissions; who can perform sensitive actions)
 */
function requireUpdateAllowed(caller: Caller, target: User, properties: readonly string[]): void {
  if (isAllowed(caller, 'users.update')) {
    requireSensitiveAllowed(caller, target, properties);
    return;
  }
  const self =
    caller.kind === 'delegated' &&
    caller.user.id === target.id &&
    SELF_UPDATE_SCOPES.some((scope) => caller.scopes.has(scope)) &&
    properties.every((name) => SELF_SERVICE_PROPERTIES.has(name));
  if (!self) throw new ManagementError('denied', INSUFFICIENT_PRIVILEGES);
}

/**
 * Requires a signed-in Global Administrator to change the sign-in of a user who holds a directory role (a User
 * Administrator or a daemon must not take over or lock out an administrator).
 *
 * @throws ManagementError `denied` (403 `Authorization_RequestDenied`).
 */
function requireSensitiveAllowed(caller: Caller, target: User, properties: readonly string[]): void {
  if (target.directoryRoles.length === 0) return;
  if (!properties.some((name) => SENSITIVE_PROPERTIES.includes(name))) return;
  if (caller.kind === 'delegated' && caller.user.directoryRoles.includes(GLOBAL_ADMINISTRATOR)) return;
  throw new ManagementError('denied', INSUFFICIENT_PRIVILEGES);
}

function checkObject(
  value: unknown,
  properties: Readonly<Record<string, 'string' | 'string?' | 'boolean' | 'object'>>,
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
    if (actual !== type && !(type === 'string?' && (actual === 'string' || actual === 'null'))) {
      throw new ManagementError(
        'invalid',
        `Cannot convert the value of property '${name}' to the expected type 'Edm.${type.startsWith('string') ? 'String' : type === 'boolean' ? 'Boolean' : 'ComplexType'}'.`,
      );
    }
  }
  return object;
}

/**
 * `GET|PATCH /v1.0/me`, `GET|POST /v1.0/users`, `GET|PATCH|DELETE /v1.0/users/{id | userPrincipalName}` (Graph v1.0
 * user resource): everything limited to the caller's tenant; creation, changes and deletion through
 * `directory.users` (which holds every rule: verified domains, unique UPNs, the last Global Administrator, the
 * sign-ins a password change ends).
 *
 * @see https://learn.microsoft.com/graph/api/user-get
 * @see https://learn.microsoft.com/graph/api/user-list
 * @see https://learn.microsoft.com/graph/api/user-post-users
 * @see https://learn.microsoft.com/graph/api/user-update
 * @see https://learn.microsoft.com/graph/api/user-delete
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
    if (query.select !== undefined) {
      const page = await listUsers(context.store, caller.tenantId, query);
      return reply.send(
        collectionBody(context, 'users', query, page, (user) => graphUser(user, query.select)),
      );
    }
    // Without `$select` every user has the one shape of defaultUserText: the page is written as text, row by row.
    const page = await listUserRows(context.store, caller.tenantId, query, defaultUserText);
    return reply.type('application/json; charset=utf-8').send(collectionText(context, 'users', query, page));
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
      mailNickname: body.mailNickname,
      password: body.password,
      accountEnabled: body.accountEnabled,
    });
    return reply
      .status(201)
      .header('location', `${context.baseUrl()}/v1.0/users/${user.id}`)
      .send({ '@odata.context': usersContext(context, undefined, true), ...graphUser(user, undefined) });
  });

  /** `PATCH /users/{key}`, and `PATCH /me` with the signed-in user's id as the key. */
  const update = async (caller: Caller, key: string, body: unknown): Promise<void> => {
    const self = caller.kind === 'delegated' && SELF_UPDATE_SCOPES.some((name) => caller.scopes.has(name));
    if (!self) requireAllowed(caller, 'users.update');
    const { change, names } = checkUpdateBody(body);
    const user = await userOfTenant(context, caller.tenantId, key);
    requireUpdateAllowed(caller, user, names);
    await context.directory.users.update(caller.tenantId, user.id, change);
  };

  scope.patch('/me', async (request, reply) => {
    const caller = await authenticate(request);
    if (caller.kind === 'app') {
      throw new ManagementError('invalid', '/me request is only valid with delegated authentication flow.');
    }
    await update(caller, caller.user.id, request.body);
    return reply.status(204).send();
  });

  scope.patch<{ Params: { key: string } }>('/users/:key', async (request, reply) => {
    await update(await authenticate(request), request.params.key, request.body);
    return reply.status(204).send();
  });

  scope.delete<{ Params: { key: string } }>('/users/:key', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'users.delete');
    const user = await userOfTenant(context, caller.tenantId, request.params.key);
    requireSensitiveAllowed(caller, user, ['accountEnabled']);
    await context.directory.users.delete(caller.tenantId, user.id);
    return reply.status(204).send();
  });
}
