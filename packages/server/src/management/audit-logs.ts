import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import {
  currentAuditScope,
  runInAuditScope,
  type AuditActor,
  type AuditScope,
} from '../directory/audit-context.js';
import type { RefusedActivity } from '../directory/audit-log.js';
import type {
  AuditLogFilter,
  DirectoryAudit,
  LogPageRequest,
  SignInRecord,
} from '../directory/audit-records.js';
import type { LogPage } from '../store/repositories/audit-logs.js';
import { correlationIdOf } from '../http/errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../store/repositories/paging.js';
import { authenticateCaller, requireAllowed, type Caller } from './authentication.js';
import { asManagementError, ManagementError } from './errors.js';
import { queryOf } from './odata.js';

/** The resource paths under `/v1.0` this module answers (another method on them answers 405). */
export const AUDIT_LOGS_PATHS: readonly RegExp[] = [
  /^\/v1\.0\/auditLogs\/(?:directoryAudits|signIns)$/,
  /^\/v1\.0\/auditLogs\/(?:directoryAudits|signIns)\/[^/]+$/,
];

/** Graph's `loggedByService` of every directory audit Tessera records. */
const LOGGED_BY_SERVICE = 'Core Directory';

/** What the management API knows of a request while it runs: its audit scope, and its caller once known. */
const requests = new WeakMap<FastifyRequest, { scope: AuditScope | undefined; caller?: Caller }>();

/** The audit actor of a management caller: the signed-in user, or the calling application. */
export function auditActorOf(caller: Caller, ipAddress: string): AuditActor {
  return caller.kind === 'delegated'
    ? {
        user: {
          id: caller.user.id,
          displayName: caller.user.displayName,
          userPrincipalName: caller.user.userPrincipalName,
          ipAddress,
        },
      }
    : {
        app: {
          appId: caller.clientAppId,
          displayName: null,
          servicePrincipalId: caller.servicePrincipalId,
          servicePrincipalName: null,
        },
      };
}

/**
 * Runs a management route handler in its own audit scope (correlation id: the request's `client-request-id`, else
 * its trace id, as `correlationIdOf` gives it); the actor is filled in by {@link authenticateForAudit}.
 */
export function runManagementRequest<T>(request: FastifyRequest, work: () => T): T {
  return runInAuditScope({ correlationId: correlationIdOf(request), ipAddress: request.ip }, () => {
    requests.set(request, { scope: currentAuditScope() });
    return work();
  });
}

/**
 * `authenticateCaller`, and the caller becomes the actor of the request's directory writes.
 *
 * @throws ManagementError as `authenticateCaller`.
 */
export async function authenticateForAudit(request: FastifyRequest, context: ServerContext): Promise<Caller> {
  const caller = await authenticateCaller(request, context);
  const known = requests.get(request);
  if (known === undefined) requests.set(request, { scope: undefined, caller });
  else {
    known.caller = caller;
    if (known.scope !== undefined) known.scope.actor ??= auditActorOf(caller, request.ip);
  }
  return caller;
}

/** A write route and the activity it records; `target` names the target's type. */
interface WriteRoute extends RefusedActivity {
  readonly method: 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  /** Matched against the request path (no query). The first group, when any, is the target's id. */
  readonly path: RegExp;
  readonly targetType: string;
}

const SEGMENT = '([^/]+)';
const POLICIES = 'identity/conditionalAccess/policies';
const APPLICATION = `(?:applications/${SEGMENT}|applications\\(appId='?([^/')]*)'?\\))`;
const SERVICE_PRINCIPAL = `(?:servicePrincipals/${SEGMENT}|servicePrincipals\\(appId='?([^/')]*)'?\\))`;
const CREDENTIALS = 'Update application – Certificates and secrets management';

function route(
  method: WriteRoute['method'],
  path: string,
  targetType: string,
  activityDisplayName: string,
  category: RefusedActivity['category'],
  operationType: RefusedActivity['operationType'],
): WriteRoute {
  return {
    method,
    path: new RegExp(`^/v1\\.0/${path}$`),
    targetType,
    activityDisplayName,
    category,
    operationType,
  };
}

/**
 * Every write route of the management API with the activity its directory service records: a request refused
 * before the service ran (unreadable or invalid body, unknown property, unknown target, 403) is audited as a
 * failure of that activity by the management error handler, unless the service already recorded it.
 */
export const WRITE_ROUTES: readonly WriteRoute[] = [
  route('POST', 'users', 'User', 'Add user', 'UserManagement', 'Add'),
  route('PATCH', `users/${SEGMENT}`, 'User', 'Update user', 'UserManagement', 'Update'),
  route('PATCH', 'me', 'User', 'Update user', 'UserManagement', 'Update'),
  route('DELETE', `users/${SEGMENT}`, 'User', 'Delete user', 'UserManagement', 'Delete'),
  route('POST', 'applications', 'Application', 'Add application', 'ApplicationManagement', 'Add'),
  route('PATCH', APPLICATION, 'Application', 'Update application', 'ApplicationManagement', 'Update'),
  route('DELETE', APPLICATION, 'Application', 'Delete application', 'ApplicationManagement', 'Delete'),
  ...['addPassword', 'removePassword', 'addKey', 'removeKey'].map((action) =>
    route(
      'POST',
      `${APPLICATION}/(?:microsoft\\.graph\\.)?${action}`,
      'Application',
      CREDENTIALS,
      'ApplicationManagement',
      'Update',
    ),
  ),
  route(
    'POST',
    `${APPLICATION}/owners/\\$ref`,
    'Application',
    'Add owner to application',
    'ApplicationManagement',
    'Add',
  ),
  route(
    'DELETE',
    `${APPLICATION}/owners/[^/]+/\\$ref`,
    'Application',
    'Remove owner from application',
    'ApplicationManagement',
    'Delete',
  ),
  route(
    'POST',
    'servicePrincipals',
    'ServicePrincipal',
    'Add service principal',
    'ApplicationManagement',
    'Add',
  ),
  route(
    'PATCH',
    SERVICE_PRINCIPAL,
    'ServicePrincipal',
    'Update service principal',
    'ApplicationManagement',
    'Update',
  ),
  route(
    'DELETE',
    SERVICE_PRINCIPAL,
    'ServicePrincipal',
    'Remove service principal',
    'ApplicationManagement',
    'Delete',
  ),
  route(
    'POST',
    `servicePrincipals/${SEGMENT}/appRole(?:AssignedTo|Assignments)`,
    'ServicePrincipal',
    'Add app role assignment to service principal',
    'ApplicationManagement',
    'Assign',
  ),
  route(
    'DELETE',
    `servicePrincipals/${SEGMENT}/appRole(?:AssignedTo|Assignments)/[^/]+`,
    'ServicePrincipal',
    'Remove app role assignment from service principal',
    'ApplicationManagement',
    'Unassign',
  ),
  route(
    'POST',
    `users/${SEGMENT}/appRoleAssignments`,
    'User',
    'Add app role assignment grant to user',
    'UserManagement',
    'Assign',
  ),
  route(
    'DELETE',
    `users/${SEGMENT}/appRoleAssignments/[^/]+`,
    'User',
    'Remove app role assignment from user',
    'UserManagement',
    'Unassign',
  ),
  route(
    'POST',
    'oauth2PermissionGrants',
    'OAuth2PermissionGrant',
    'Add delegated permission grant',
    'ApplicationManagement',
    'Assign',
  ),
  route(
    'PATCH',
    `oauth2PermissionGrants/${SEGMENT}`,
    'OAuth2PermissionGrant',
    'Update delegated permission grant',
    'ApplicationManagement',
    'Update',
  ),
  route(
    'DELETE',
    `oauth2PermissionGrants/${SEGMENT}`,
    'OAuth2PermissionGrant',
    'Remove delegated permission grant',
    'ApplicationManagement',
    'Unassign',
  ),
  route('POST', POLICIES, 'Policy', 'Add conditional access policy', 'Policy', 'Add'),
  route('PATCH', `${POLICIES}/${SEGMENT}`, 'Policy', 'Update conditional access policy', 'Policy', 'Update'),
  route('DELETE', `${POLICIES}/${SEGMENT}`, 'Policy', 'Delete conditional access policy', 'Policy', 'Delete'),
  route(
    'DELETE',
    'me/authentication/softwareOathMethods/[^/]+',
    'User',
    'User deleted security info',
    'UserManagement',
    'Delete',
  ),
  route(
    'DELETE',
    `users/${SEGMENT}/authentication/softwareOathMethods/[^/]+`,
    'User',
    'Admin deleted security info',
    'UserManagement',
    'Delete',
  ),
];

/** `METHOD /v1.0/…pattern` of every write route registered in this process (see {@link noteWriteRoute}). */
const registeredWriteRoutes = new Set<string>();

/**
 * Notes a route as the management API registers it, so a test can check that every write route has its entry in
 * {@link WRITE_ROUTES}.
 */
export function noteWriteRoute(method: string | readonly string[], url: string): void {
  for (const one of typeof method === 'string' ? [method] : method) {
    if (['POST', 'PATCH', 'PUT', 'DELETE'].includes(one)) registeredWriteRoutes.add(`${one} ${url}`);
  }
}

/** The write routes registered so far, as `METHOD /v1.0/…pattern` (Fastify's path syntax). */
export function writeRoutesRegistered(): readonly string[] {
  return [...registeredWriteRoutes];
}

/**
 * Audits a refused management write as a failure of the activity its route records ({@link WRITE_ROUTES}),
 * when no directory service recorded it already. Not audited: reads, 401s and requests whose caller cannot be
 * authenticated (no actor), paths that are no write route.
 */
export async function auditRefusal(
  context: ServerContext,
  request: FastifyRequest,
  error: unknown,
): Promise<void> {
  const known = requests.get(request);
  if (known?.scope?.audited === true) return;
  const refusal = asManagementError(error);
  if (refusal.descriptor.httpStatus === 401) return;
  const path = request.url.split('?')[0] ?? '';
  const write = WRITE_ROUTES.find(
    (candidate) => candidate.method === request.method && candidate.path.test(path),
  );
  if (write === undefined) return;
  let caller = known?.caller;
  if (caller === undefined) {
    // The body was refused before the handler authenticated the caller.
    caller = await authenticateCaller(request, context).catch(() => undefined);
    if (caller === undefined) return;
  }
  const match = write.path.exec(path);
  const groups: readonly (string | undefined)[] = match?.slice(1) ?? [];
  const id = groups.find((group) => group !== undefined) ?? null;
  const actor = known?.scope?.actor ?? auditActorOf(caller, request.ip);
  const tenantId = caller.tenantId;
  await runInAuditScope({ actor, correlationId: correlationIdOf(request), ipAddress: request.ip }, () =>
    context.directory.audits.record(
      write,
      {
        tenant: tenantId,
        targets: [
          {
            id: id === null ? null : safeDecode(id).slice(0, 200),
            displayName: null,
            type: write.targetType,
            userPrincipalName: null,
            modifiedProperties: [],
          },
        ],
      },
      { ok: false, reason: refusal.code },
    ),
  );
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** A directory audit in Graph's JSON (`microsoft.graph.directoryAudit`). */
export function graphDirectoryAudit(audit: DirectoryAudit): Record<string, unknown> {
  return {
    id: audit.id,
    category: audit.category,
    correlationId: audit.correlationId,
    result: audit.result,
    resultReason: audit.resultReason,
    activityDisplayName: audit.activityDisplayName,
    activityDateTime: new Date(audit.activityMs).toISOString(),
    loggedByService: LOGGED_BY_SERVICE,
    operationType: audit.operationType,
    initiatedBy: audit.initiatedBy,
    targetResources: audit.targetResources,
    additionalDetails: [],
  };
}

/** A sign-in in Graph's JSON (`microsoft.graph.signIn`); risk and conditional access are not evaluated. */
export function graphSignIn(record: SignInRecord): Record<string, unknown> {
  return {
    id: record.id,
    createdDateTime: new Date(record.createdMs).toISOString(),
    userDisplayName: record.userDisplayName,
    userPrincipalName: record.userPrincipalName,
    userId: record.userId,
    appId: record.appId,
    appDisplayName: record.appDisplayName,
    ipAddress: record.ipAddress,
    clientAppUsed: record.clientAppUsed,
    correlationId: record.correlationId,
    conditionalAccessStatus: 'notApplied',
    isInteractive: record.isInteractive,
    resourceDisplayName: record.resourceDisplayName,
    resourceId: record.resourceId,
    status: {
      errorCode: record.errorCode,
      failureReason: record.failureReason,
      additionalDetails: null,
    },
    appliedConditionalAccessPolicies: [],
  };
}

/**
 * The `$filter` properties of one log, each with the operators and the value type it takes, and the filter field it
 * fills (a `dateTime` fills `fromMs` for `ge`, `toMs` for `le`).
 */
type LogProperties = Readonly<
  Record<
    string,
    {
      readonly ops: readonly ('eq' | 'ge' | 'le')[];
      readonly value: 'string' | 'dateTime' | 'integer';
      readonly key: keyof AuditLogFilter;
    }
  >
>;

const AUDIT_PROPERTIES: LogProperties = {
  activityDateTime: { ops: ['ge', 'le'], value: 'dateTime', key: 'fromMs' },
  result: { ops: ['eq'], value: 'string', key: 'result' },
  activityDisplayName: { ops: ['eq'], value: 'string', key: 'activityDisplayName' },
  category: { ops: ['eq'], value: 'string', key: 'category' },
  correlationId: { ops: ['eq'], value: 'string', key: 'correlationId' },
  'initiatedBy/user/id': { ops: ['eq'], value: 'string', key: 'userId' },
  'initiatedBy/app/appId': { ops: ['eq'], value: 'string', key: 'appId' },
};

const SIGN_IN_PROPERTIES: LogProperties = {
  createdDateTime: { ops: ['ge', 'le'], value: 'dateTime', key: 'fromMs' },
  'status/errorCode': { ops: ['eq'], value: 'integer', key: 'errorCode' },
  correlationId: { ops: ['eq'], value: 'string', key: 'correlationId' },
  userId: { ops: ['eq'], value: 'string', key: 'userId' },
  appId: { ops: ['eq'], value: 'string', key: 'appId' },
};

const CLAUSE =
  /^([A-Za-z/]+) (eq|ne|ge|le|gt|lt) ('(?:[^']|'')*'|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2})|-?\d{1,10})$/;

/** `text` split at each ` and ` (any case) outside single-quoted literals. */
function splitOutsideQuotes(text: string): string[] {
  const clauses: string[] = [];
  let quoted = false;
  let start = 0;
  for (let at = 0; at < text.length; at += 1) {
    if (text[at] === "'") quoted = !quoted;
    else if (!quoted && text.slice(at, at + 5).toLowerCase() === ' and ') {
      clauses.push(text.slice(start, at));
      start = at + 5;
      at += 4;
    }
  }
  clauses.push(text.slice(start));
  return clauses;
}

/**
 * The `$filter` of a log request: clauses `property op value` joined by `and`.
 *
 * @throws ManagementError `invalid` (a malformed clause or value), `unsupported_query` (another property,
 *   operator or connective).
 */
export function parseLogFilter(text: string, properties: LogProperties): AuditLogFilter {
  const filter: Record<string, string | number> = {};
  for (const clause of splitOutsideQuotes(text.trim())) {
    if (/ or |^not |\(/i.test(clause.replace(/'(?:[^']|'')*'/g, "''"))) {
      throw new ManagementError(
        'unsupported_query',
        "Only clauses joined by 'and' are supported in this $filter.",
      );
    }
    const parsed = CLAUSE.exec(clause.trim());
    if (parsed === null)
      throw new ManagementError('invalid', `Invalid filter clause: '${clause.slice(0, 100)}'.`);
    const [, name = '', op = '', raw = ''] = parsed;
    const property = Object.hasOwn(properties, name) ? properties[name] : undefined;
    if (property === undefined) {
      throw new ManagementError(
        'unsupported_query',
        `Filtering on the property '${name.slice(0, 64)}' is not supported.`,
      );
    }
    if (!(property.ops as readonly string[]).includes(op)) {
      throw new ManagementError('unsupported_query', `The operator '${op}' is not supported on '${name}'.`);
    }
    if (property.value === 'dateTime') {
      const ms = raw.startsWith("'") ? Number.NaN : Date.parse(raw);
      if (Number.isNaN(ms))
        throw new ManagementError('invalid', `'${raw.slice(0, 64)}' is not a valid DateTimeOffset.`);
      const key = op === 'ge' ? 'fromMs' : 'toMs';
      filter[key] =
        op === 'ge' ? Math.max(ms, Number(filter[key] ?? ms)) : Math.min(ms, Number(filter[key] ?? ms));
      continue;
    }
    if (property.value === 'integer') {
      if (!/^-?\d+$/.test(raw))
        throw new ManagementError('invalid', `'${raw.slice(0, 64)}' is not an integer.`);
      filter[property.key] = Number(raw);
      continue;
    }
    if (!raw.startsWith("'"))
      throw new ManagementError('invalid', `'${raw.slice(0, 64)}' is not a string literal.`);
    filter[property.key] = raw.slice(1, -1).replaceAll("''", "'");
  }
  if (filter.result !== undefined && filter.result !== 'success' && filter.result !== 'failure') {
    throw new ManagementError('invalid', "The result is 'success' or 'failure'.");
  }
  return filter;
}

/** The options of a log collection request: `$top`, `$filter`, `$skiptoken` (others answer 400). */
function parseLogQuery(
  url: string,
  properties: LogProperties,
): {
  top: number;
  filter: AuditLogFilter;
  after: { ms: number; id: string } | undefined;
  carried: [string, string][];
} {
  const params = queryOf(url);
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (!name.startsWith('$')) continue;
    if (!['$top', '$filter', '$skiptoken'].includes(name)) {
      throw new ManagementError(
        'unsupported_query',
        `The query option '${name.slice(0, 64)}' is not supported.`,
      );
    }
    if (seen.has(name)) throw new ManagementError('invalid', `The query option '${name}' is repeated.`);
    seen.add(name);
  }
  const carried: [string, string][] = [];
  const topText = params.get('$top');
  const top = topText === null ? DEFAULT_PAGE_SIZE : /^\d{1,4}$/.test(topText) ? Number(topText) : Number.NaN;
  if (!(top >= 1 && top <= MAX_PAGE_SIZE)) {
    throw new ManagementError(
      'invalid',
      `Invalid page size specified: '${(topText ?? '').slice(0, 64)}'. Must be between 1 and ${MAX_PAGE_SIZE} inclusive.`,
    );
  }
  if (topText !== null) carried.push(['$top', topText]);
  const filterText = params.get('$filter');
  if (filterText !== null && filterText.length > 4096)
    throw new ManagementError('invalid', 'The $filter is too long.');
  const filter = filterText === null ? {} : parseLogFilter(filterText, properties);
  if (filterText !== null) carried.push(['$filter', filterText]);
  const skipToken = params.get('$skiptoken');
  return { top, filter, after: skipToken === null ? undefined : decodeLogSkipToken(skipToken), carried };
}

function encodeLogSkipToken(after: { readonly ms: number; readonly id: string }): string {
  return Buffer.from(`l1:${after.ms}:${after.id}`, 'utf8').toString('base64url');
}

function decodeLogSkipToken(token: string): { ms: number; id: string } {
  const text = /^[A-Za-z0-9_-]{1,200}$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const match = /^l1:(\d{1,15}):([0-9a-f-]{36})$/.exec(text);
  if (match === null) throw new ManagementError('invalid', 'The $skiptoken is not valid.');
  return { ms: Number(match[1]), id: match[2] ?? '' };
}

/**
 * `GET /v1.0/auditLogs/directoryAudits[/{id}]` and `GET /v1.0/auditLogs/signIns[/{id}]`: the caller's tenant's
 * logs, newest first, `$top` (1–999, default 100) and `$skiptoken` paging, `$filter` on the time (`ge`, `le`),
 * `result` / `status/errorCode`, `correlationId` and the user or app (`eq`). Needs `AuditLog.Read.All` (and, for
 * a user, a directory role that reads audit logs).
 *
 * @see https://learn.microsoft.com/graph/api/directoryaudit-list
 * @see https://learn.microsoft.com/graph/api/signin-list
 */
export function registerAuditLogRoutes(
  scope: FastifyInstance,
  context: ServerContext,
  authenticate: (request: FastifyRequest) => Promise<Caller>,
): void {
  const repository = context.directory.audits.repository;
  registerLog(scope, context, authenticate, {
    path: 'directoryAudits',
    properties: AUDIT_PROPERTIES,
    list: (request) => repository.listAudits(request),
    find: (tenantId, id) => repository.findAudit(tenantId, id),
    json: graphDirectoryAudit,
  });
  registerLog(scope, context, authenticate, {
    path: 'signIns',
    properties: SIGN_IN_PROPERTIES,
    list: (request) => repository.listSignIns(request),
    find: (tenantId, id) => repository.findSignIn(tenantId, id),
    json: graphSignIn,
  });
}

/** One log's collection and entity routes. */
function registerLog<T>(
  scope: FastifyInstance,
  context: ServerContext,
  authenticate: (request: FastifyRequest) => Promise<Caller>,
  log: {
    readonly path: string;
    readonly properties: LogProperties;
    readonly list: (request: LogPageRequest) => Promise<LogPage<T>>;
    readonly find: (tenantId: string, id: string) => Promise<T | undefined>;
    readonly json: (item: T) => Record<string, unknown>;
  },
): void {
  const contextUrl = () => `${context.baseUrl()}/v1.0/$metadata#auditLogs/${log.path}`;
  scope.get(`/auditLogs/${log.path}`, async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'auditLogs.read');
    const query = parseLogQuery(request.url, log.properties);
    const page = await log.list({
      tenantId: caller.tenantId,
      top: query.top,
      filter: query.filter,
      ...(query.after === undefined ? {} : { after: query.after }),
    });
    const next =
      page.next === undefined
        ? undefined
        : `${context.baseUrl()}/v1.0/auditLogs/${log.path}?${new URLSearchParams([
            ...query.carried,
            ['$skiptoken', encodeLogSkipToken(page.next)],
          ]).toString()}`;
    return reply.send({
      '@odata.context': contextUrl(),
      value: page.items.map((item) => log.json(item)),
      ...(next === undefined ? {} : { '@odata.nextLink': next }),
    });
  });
  scope.get<{ Params: { id: string } }>(`/auditLogs/${log.path}/:id`, async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'auditLogs.read');
    const id = request.params.id.toLowerCase();
    const found = /^[0-9a-f-]{36}$/.test(id) ? await log.find(caller.tenantId, id) : undefined;
    if (found === undefined) {
      throw new ManagementError(
        'not_found',
        `Resource '${request.params.id.slice(0, 200)}' does not exist or one of its queried reference-property objects are not present.`,
      );
    }
    return reply.send({ '@odata.context': `${contextUrl()}/$entity`, ...log.json(found) });
  });
}
