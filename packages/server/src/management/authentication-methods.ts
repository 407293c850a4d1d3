import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { DirectoryError } from '../directory/errors.js';
import type { User } from '../directory/model.js';
import { hasControlCharacter } from '../directory/services/users.js';
import type { SoftwareOathMethod } from '../users/authentication-methods.js';
import { isAllowed, requireAllowed, type Caller } from './authentication.js';
import type { ManagementOperation } from './permissions.js';
import { INSUFFICIENT_PRIVILEGES, ManagementError } from './errors.js';
import { graphDateTime, resourceNotFound } from './route-helpers.js';

/** The resource paths under `/v1.0` this module answers (another method on them answers 405). */
export const AUTHENTICATION_METHODS_PATHS: readonly RegExp[] = [
  /^\/v1\.0\/(?:me|users\/[^/]+)\/authentication\/(?:methods|softwareOathMethods)$/,
  /^\/v1\.0\/(?:me|users\/[^/]+)\/authentication\/softwareOathMethods\/[^/]+$/,
];

/**
 * The well-known id of every user's `passwordAuthenticationMethod` (Graph's: the same for all users).
 *
 * @see https://learn.microsoft.com/graph/api/resources/passwordauthenticationmethod
 */
export const PASSWORD_METHOD_ID = '28c10230-6103-485e-b985-444c60001490';

/** Longest user key looked up (an id or a UPN). */
const MAX_KEY_CHARS = 1024;

/**
 * Graph `passwordAuthenticationMethod`: the password itself is never returned (`null`), nor when it was set
 * (Tessera does not keep it: `null`).
 */
function passwordMethod(): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.passwordAuthenticationMethod',
    id: PASSWORD_METHOD_ID,
    password: null,
    createdDateTime: null,
  };
}

/** Graph `softwareOathAuthenticationMethod` (the secret is never returned: `secretKey` is `null`). */
function softwareOathMethod(method: SoftwareOathMethod): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.softwareOathAuthenticationMethod',
    id: method.id,
    secretKey: null,
    createdDateTime: graphDateTime(method.createdAt),
  };
}

/**
 * `/v1.0/me/authentication/…` and `/v1.0/users/{id | userPrincipalName}/authentication/…` (Graph
 * `authenticationMethod`): `GET …/methods` (the password and the software OATH authenticator),
 * `GET …/softwareOathMethods`, `GET …/softwareOathMethods/{id}` and `DELETE …/softwareOathMethods/{id}` (204; the
 * user then sets up a new authenticator at the next sign-in that requires one). Deleting is audited as
 * "User deleted security info" (the user's own) or "Admin deleted security info".
 *
 * Who may: the signed-in user for their own methods (`/me`, or `/users/{own id}`) with
 * `UserAuthenticationMethod.Read` / `.ReadWrite`; another user's with `UserAuthenticationMethod.Read.All` /
 * `.ReadWrite.All` and an authentication administrator's role (or the app roles of the same names). Users of
 * other tenants do not exist here (404). `/me` with an app-only token is 400, as in Graph.
 *
 * @see https://learn.microsoft.com/graph/api/resources/authenticationmethods-overview
 * @see https://learn.microsoft.com/graph/api/resources/softwareoathauthenticationmethod
 */
export function registerAuthenticationMethodRoutes(
  scope: FastifyInstance,
  context: ServerContext,
  authenticate: (request: FastifyRequest) => Promise<Caller>,
): void {
  type Keyed = FastifyRequest<{ Params: { key: string } }>;
  type KeyedMethod = FastifyRequest<{ Params: { key: string; id: string } }>;

  const list = async (
    request: FastifyRequest,
    reply: FastifyReply,
    key: string | undefined,
    all: boolean,
  ) => {
    const { user, path } = await targetOf(context, await authenticate(request), key, 'read');
    const method = await context.authenticationMethods.softwareOathMethod(user.id);
    const oath = method === undefined ? [] : [softwareOathMethod(method)];
    const collection = all ? 'methods' : 'softwareOathMethods';
    return reply.send({
      '@odata.context': `${context.baseUrl()}/v1.0/$metadata#${path}/authentication/${collection}`,
      value: all ? [passwordMethod(), ...oath] : oath,
    });
  };
  const get = async (request: FastifyRequest, reply: FastifyReply, key: string | undefined, id: string) => {
    const { user, path } = await targetOf(context, await authenticate(request), key, 'read');
    const method = await context.authenticationMethods.softwareOathMethod(user.id);
    if (method?.id !== id.toLowerCase()) throw resourceNotFound(id);
    return reply.send({
      '@odata.context': `${context.baseUrl()}/v1.0/$metadata#${path}/authentication/softwareOathMethods/$entity`,
      ...softwareOathMethod(method),
    });
  };
  const remove = async (
    request: FastifyRequest,
    reply: FastifyReply,
    key: string | undefined,
    id: string,
  ) => {
    const caller = await authenticate(request);
    const { user, self } = await targetOf(context, caller, key, 'write');
    const removed = await context.authenticationMethods.remove(user.id, id.toLowerCase().slice(0, 64));
    if (removed === undefined) throw resourceNotFound(id);
    await context.directory.audits.record(
      {
        activityDisplayName: self ? 'User deleted security info' : 'Admin deleted security info',
        category: 'UserManagement',
        operationType: 'Delete',
      },
      {
        tenant: user.tenantId,
        targets: [
          {
            id: user.id,
            displayName: user.displayName,
            type: 'User',
            userPrincipalName: user.userPrincipalName,
            modifiedProperties: [
              {
                displayName: 'softwareOathMethods',
                oldValue: JSON.stringify([removed.id]),
                newValue: '[]',
              },
            ],
          },
        ],
      },
      { ok: true },
    );
    return reply.status(204).send();
  };

  scope.get('/me/authentication/methods', (request, reply) => list(request, reply, undefined, true));
  scope.get('/me/authentication/softwareOathMethods', (request, reply) =>
    list(request, reply, undefined, false),
  );
  scope.get(
    '/me/authentication/softwareOathMethods/:id',
    (request: FastifyRequest<{ Params: { id: string } }>, reply) =>
      get(request, reply, undefined, request.params.id),
  );
  scope.delete(
    '/me/authentication/softwareOathMethods/:id',
    (request: FastifyRequest<{ Params: { id: string } }>, reply) =>
      remove(request, reply, undefined, request.params.id),
  );
  scope.get('/users/:key/authentication/methods', (request: Keyed, reply) =>
    list(request, reply, request.params.key, true),
  );
  scope.get('/users/:key/authentication/softwareOathMethods', (request: Keyed, reply) =>
    list(request, reply, request.params.key, false),
  );
  scope.get('/users/:key/authentication/softwareOathMethods/:id', (request: KeyedMethod, reply) =>
    get(request, reply, request.params.key, request.params.id),
  );
  scope.delete('/users/:key/authentication/softwareOathMethods/:id', (request: KeyedMethod, reply) =>
    remove(request, reply, request.params.key, request.params.id),
  );
}

/**
 * The user whose methods a request is about, and whether it is the caller: `/me` (delegated callers only), or a
 * user of the caller's tenant by id or UPN. The caller's own methods need the `…Own` permission, another user's
 * the administrators' one.
 *
 * @throws ManagementError `invalid` (400: `/me` app-only), `not_found` (404: no such user in the caller's tenant),
 *   `denied` (403 `Authorization_RequestDenied`).
 */
async function targetOf(
  context: ServerContext,
  caller: Caller,
  key: string | undefined,
  access: 'read' | 'write',
): Promise<{ readonly user: User; readonly self: boolean; readonly path: string }> {
  const own: ManagementOperation =
    access === 'read' ? 'authenticationMethods.readOwn' : 'authenticationMethods.writeOwn';
  const others: ManagementOperation =
    access === 'read' ? 'authenticationMethods.read' : 'authenticationMethods.write';
  if (key === undefined) {
    if (caller.kind === 'app')
      throw new ManagementError('invalid', '/me request is only valid with delegated authentication flow.');
    requireAllowed(caller, own);
    return { user: caller.user, self: true, path: 'me' };
  }
  if (!isAllowed(caller, own) && !isAllowed(caller, others))
    throw new ManagementError('denied', INSUFFICIENT_PRIVILEGES);
  if (key.length > MAX_KEY_CHARS || hasControlCharacter(key)) throw resourceNotFound(key);
  let user: User;
  try {
    user = await context.directory.users.get(caller.tenantId, key);
  } catch (error) {
    if (error instanceof DirectoryError && error.code === 'not_found') throw resourceNotFound(key);
    throw error;
  }
  const self = caller.kind === 'delegated' && caller.user.id === user.id;
  if (!(self ? isAllowed(caller, own) || isAllowed(caller, others) : isAllowed(caller, others)))
    throw new ManagementError('denied', INSUFFICIENT_PRIVILEGES);
  return { user, self, path: `users('${user.id}')` };
}
