import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { bearerChallenge } from './authentication.js';
import { asManagementError, ManagementError, sendGraphError } from './errors.js';
import { APP_ROLE_ASSIGNMENTS_PATHS, registerAppRoleAssignmentRoutes } from './app-role-assignments.js';
import { APPLICATIONS_PATHS, registerApplicationRoutes } from './applications.js';
import {
  AUTHENTICATION_METHODS_PATHS,
  registerAuthenticationMethodRoutes,
} from './authentication-methods.js';
import {
  CONDITIONAL_ACCESS_POLICIES_PATHS,
  registerConditionalAccessPolicyRoutes,
} from './conditional-access-policies.js';
import {
  AUDIT_LOGS_PATHS,
  auditRefusal,
  authenticateForAudit,
  noteWriteRoute,
  registerAuditLogRoutes,
  runManagementRequest,
} from './audit-logs.js';
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
  ...CONDITIONAL_ACCESS_POLICIES_PATHS,
  ...AUTHENTICATION_METHODS_PATHS,
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
      // The caller becomes the actor of the directory writes its request makes (directory audit log).
      const authenticate = (request: FastifyRequest) => authenticateForAudit(request, context);
      // Every route handler runs in the request's audit scope, whoever registers it.
      scope.addHook('onRoute', (route) => {
        noteWriteRoute(route.method, route.url);
        const handler = route.handler;
        route.handler = function (this: FastifyInstance, request, reply) {
          return runManagementRequest(request, () => handler.call(this, request, reply));
        };
      });
      scope.setErrorHandler(async (error, request, reply) => {
        if (asManagementError(error).descriptor.httpStatus === 401) {
          void reply.header('www-authenticate', bearerChallenge(context, request));
        }
        // A write refused before its directory service ran is audited as a failure here.
        await auditRefusal(context, request, error).catch((failure: unknown) => {
          request.log.error({ err: failure, traceId: request.id }, 'could not audit a refused request');
        });
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
      registerConditionalAccessPolicyRoutes(scope, context, authenticate);
      registerAuthenticationMethodRoutes(scope, context, authenticate);
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
