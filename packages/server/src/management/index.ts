import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { authenticateCaller, bearerChallenge } from './authentication.js';
import { asManagementError, ManagementError, sendGraphError } from './errors.js';
import { APP_ROLE_ASSIGNMENTS_PATHS, registerAppRoleAssignmentRoutes } from './app-role-assignments.js';
import { APPLICATIONS_PATHS, registerApplicationRoutes } from './applications.js';
import { AUDIT_LOGS_PATHS, registerAuditLogRoutes } from './audit-logs.js';
import { ORGANIZATION_PATHS, registerOrganizationRoutes } from './organization.js';
import { PERMISSION_GRANTS_PATHS, registerPermissionGrantRoutes } from './permission-grants.js';
import { registerServicePrincipalRoutes, SERVICE_PRINCIPALS_PATHS } from './service-principals.js';
import { registerUserRoutes, USERS_PATHS } from './users.js';

export { MANAGEMENT_ERRORS, ManagementError, type ManagementErrorCode } from './errors.js';
export { OPERATION_PERMISSIONS, type ManagementOperation } from './permissions.js';

/** The resource paths the API answers (some methods only): another method on them answers 405. */
const RESOURCE_PATHS: readonly RegExp[] = [
  ...USERS_PATHS,
  ...ORGANIZATION_PATHS,
  ...APPLICATIONS_PATHS,
  ...SERVICE_PRINCIPALS_PATHS,
  ...APP_ROLE_ASSIGNMENTS_PATHS,
  ...PERMISSION_GRANTS_PATHS,
  ...AUDIT_LOGS_PATHS,
];

/**
 * The management API under `/v1.0`, in Microsoft Graph's shapes: `/me`, `/users`, `/organization`. Every request
 * carries a bearer access token for the built-in directory API and sees only its token's tenant; every refusal,
 * including an unknown path under `/v1.0`, answers Graph's error body (401s with `WWW-Authenticate`, RFC 6750 §3).
 *
 * @see docs/management-api.md
 */
export function registerManagementApi(app: FastifyInstance, context: ServerContext): void {
  void app.register(
    (scope, _options, done) => {
      const authenticate = (request: FastifyRequest) => authenticateCaller(request, context);
      scope.setErrorHandler((error, request, reply) => {
        if (asManagementError(error).descriptor.httpStatus === 401) {
          void reply.header('www-authenticate', bearerChallenge(context, request));
        }
        return sendGraphError(request, reply, error, context.now());
      });
      scope.setNotFoundHandler((request, reply) => {
        const path = request.url.split('?')[0] ?? '';
        if (RESOURCE_PATHS.some((resource) => resource.test(path))) {
          return sendGraphError(
            request,
            reply,
            new ManagementError('method_not_allowed', `The method '${request.method}' is not allowed here.`),
            context.now(),
          );
        }
        const segment = path.split('/').filter((part) => part !== '')[1] ?? '';
        return sendGraphError(
          request,
          reply,
          new ManagementError('no_segment', `Resource not found for the segment '${segment.slice(0, 100)}'.`),
          context.now(),
        );
      });
      registerUserRoutes(scope, context, authenticate);
      registerOrganizationRoutes(scope, context, authenticate);
      registerApplicationRoutes(scope, context, authenticate);
      registerServicePrincipalRoutes(scope, context, authenticate);
      registerAppRoleAssignmentRoutes(scope, context, authenticate);
      registerPermissionGrantRoutes(scope, context, authenticate);
      registerAuditLogRoutes(scope, context, authenticate);
      done();
    },
    { prefix: '/v1.0' },
  );
}

/** Whether a request URL is under the management API (`/v1.0` or `/v1.0/…`). */
export function isManagementUrl(url: string): boolean {
  return url === '/v1.0' || url.startsWith('/v1.0/') || url.startsWith('/v1.0?');
}

/**
 * Fastify's `frameworkErrors` for management URLs: errors raised before a route runs (a malformed
 * percent-encoding, an over-long path segment) answer Graph's 400 body too.
 */
export function sendManagementFrameworkError(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
): FastifyReply {
  return sendGraphError(request, reply, error, context.now());
}
