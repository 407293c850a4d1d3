import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import {
  graphDateTime,
  type AppRole,
  type Application,
  type KeyCredential,
  type PasswordCredential,
  type PermissionScope,
  type RequiredResourceAccess,
  type SignInAudience,
} from '../directory/model.js';
import type { ApplicationChange, ApplicationRef } from '../directory/services/applications.js';
import { certificateCredential, type CertificateInput } from '../directory/services/credentials.js';
import { requireAllowed, type Caller } from './authentication.js';
import { APPLICATION_TYPE, collectionBody, listApplications } from './collection-queries.js';
import { ManagementError } from './errors.js';
import { encodeSkipToken, parseEntityQuery, queryOf, selected } from './odata.js';
import { collectionQueryOf, objectId, odataContext, onDirectoryError, orNotFound } from './route-helpers.js';
import { graphUser, USER_TYPE } from './users.js';

/** The resource paths under `/v1.0` this module answers (another method on them answers 405). */
export const APPLICATIONS_PATHS: readonly RegExp[] = [
  /^\/v1\.0\/applications$/,
  /^\/v1\.0\/applications(?:\/[^/]+|\(appId=[^/]*)(?:\/(?:owners|owners\/\$ref|owners\/[^/]+\/\$ref|addPassword|removePassword|addKey|removeKey))?$/,
];

/** Graph's `application` properties Tessera returns without `$select`, in Graph's order. */
const DEFAULT_APPLICATION_PROPERTIES = [
  'id',
  'deletedDateTime',
  'appId',
  'applicationTemplateId',
  'disabledByMicrosoftStatus',
  'createdDateTime',
  'displayName',
  'description',
  'groupMembershipClaims',
  'identifierUris',
  'isDeviceOnlyAuthSupported',
  'isFallbackPublicClient',
  'notes',
  'publisherDomain',
  'serviceManagementReference',
  'signInAudience',
  'tags',
  'tokenEncryptionKeyId',
  'defaultRedirectUri',
  'certification',
  'optionalClaims',
  'addIns',
  'api',
  'appRoles',
  'info',
  'keyCredentials',
  'parentalControlSettings',
  'passwordCredentials',
  'publicClient',
  'requiredResourceAccess',
  'verifiedPublisher',
  'web',
  'spa',
  // Tessera's own property (no Graph counterpart): see docs/management-api.md.
  'tesseraDpopBoundAccessTokens',
] as const;

/** A `passwordCredential` in Graph's JSON; `secretText` only in `addPassword`'s answer. */
function graphPasswordCredential(
  credential: Omit<PasswordCredential, 'secretHash'>,
  secretText: string | null,
): Record<string, unknown> {
  return {
    customKeyIdentifier: null,
    displayName: credential.displayName,
    endDateTime: graphDateTime(credential.endAt),
    hint: credential.hint,
    keyId: credential.keyId,
    secretText,
    startDateTime: graphDateTime(credential.startAt),
  };
}

/**
 * A `keyCredential` in Graph's JSON: `customKeyIdentifier` is the certificate's SHA-1 thumbprint (base64, as
 * Graph's `Edm.Binary`), `key` is null as in Graph's reads (the certificate is never echoed).
 */
function graphKeyCredential(credential: KeyCredential): Record<string, unknown> {
  return {
    customKeyIdentifier: Buffer.from(credential.thumbprintSha1, 'base64url').toString('hex').toUpperCase(),
    displayName: credential.displayName,
    endDateTime: graphDateTime(credential.endAt),
    key: null,
    keyId: credential.keyId,
    startDateTime: graphDateTime(credential.startAt),
    type: 'AsymmetricX509Cert',
    usage: 'Verify',
  };
}

/** A delegated permission in Graph's JSON (`permissionScope`, Graph's property order). */
export function graphPermissionScope(scope: PermissionScope): Record<string, unknown> {
  return {
    adminConsentDescription: scope.adminConsentDescription,
    adminConsentDisplayName: scope.adminConsentDisplayName,
    id: scope.id,
    isEnabled: scope.isEnabled,
    type: scope.type,
    userConsentDescription: scope.userConsentDescription,
    userConsentDisplayName: scope.userConsentDisplayName,
    value: scope.value,
  };
}

/** An app role in Graph's JSON (`appRole`, Graph's property order; `origin` is always `Application`). */
export function graphAppRole(role: AppRole): Record<string, unknown> {
  return {
    allowedMemberTypes: role.allowedMemberTypes,
    description: role.description,
    displayName: role.displayName,
    id: role.id,
    isEnabled: role.isEnabled,
    origin: 'Application',
    value: role.value,
  };
}

/** An application in Graph's JSON: every default property, `null` / `[]` / `false` for what Tessera does not keep. */
export function graphApplication(
  app: Application,
  select: readonly string[] | undefined,
): Record<string, unknown> {
  const all: Record<string, unknown> = {
    id: app.id,
    deletedDateTime: null,
    appId: app.appId,
    applicationTemplateId: null,
    disabledByMicrosoftStatus: null,
    createdDateTime: app.createdAt === undefined ? null : graphDateTime(app.createdAt),
    displayName: app.displayName,
    description: null,
    groupMembershipClaims: null,
    identifierUris: app.identifierUris,
    isDeviceOnlyAuthSupported: null,
    isFallbackPublicClient: null,
    notes: null,
    publisherDomain: null,
    serviceManagementReference: null,
    signInAudience: app.signInAudience,
    tags: [],
    tokenEncryptionKeyId: null,
    defaultRedirectUri: null,
    certification: null,
    optionalClaims: null,
    addIns: [],
    api: {
      acceptMappedClaims: null,
      knownClientApplications: app.api.knownClientApplications,
      requestedAccessTokenVersion: app.api.requestedAccessTokenVersion,
      oauth2PermissionScopes: app.api.oauth2PermissionScopes.map(graphPermissionScope),
      preAuthorizedApplications: app.api.preAuthorizedApplications,
    },
    appRoles: app.appRoles.map(graphAppRole),
    info: {
      logoUrl: null,
      marketingUrl: null,
      privacyStatementUrl: null,
      supportUrl: null,
      termsOfServiceUrl: null,
    },
    keyCredentials: app.keyCredentials.map(graphKeyCredential),
    parentalControlSettings: { countriesBlockedForMinors: [], legalAgeGroupRule: 'Allow' },
    passwordCredentials: app.passwordCredentials.map((credential) =>
      graphPasswordCredential(credential, null),
    ),
    publicClient: { redirectUris: app.publicClient.redirectUris },
    requiredResourceAccess: app.requiredResourceAccess,
    verifiedPublisher: { displayName: null, verifiedPublisherId: null, addedDateTime: null },
    web: {
      homePageUrl: null,
      logoutUrl: app.web.logoutUrl,
      redirectUris: app.web.redirectUris,
      implicitGrantSettings: app.web.implicitGrantSettings,
      redirectUriSettings: app.web.redirectUris.map((uri) => ({ uri, index: null })),
    },
    spa: { redirectUris: app.spa.redirectUris },
    // Tessera extension, RFC 9449 §5.2 `dpop_bound_access_tokens`: token requests must carry a DPoP proof.
    tesseraDpopBoundAccessTokens: app.dpopBoundAccessTokens === true,
  };
  return selected(all, select ?? DEFAULT_APPLICATION_PROPERTIES);
}

// ---------------------------------------------------------------------------------------------------------------
// Request bodies: Graph's JSON types, checked before anything is written.

/** The JSON shape a body value must have. `?` types also allow `null`. */
type Shape =
  | 'string'
  | 'string?'
  | 'boolean'
  | 'version?'
  | { readonly array: Shape }
  | { readonly object: Readonly<Record<string, Shape>>; readonly required?: readonly string[] };

const STRINGS: Shape = { array: 'string' };

const PERMISSION_SCOPE: Shape = {
  object: {
    adminConsentDescription: 'string?',
    adminConsentDisplayName: 'string?',
    id: 'string',
    isEnabled: 'boolean',
    origin: 'string?',
    type: 'string?',
    userConsentDescription: 'string?',
    userConsentDisplayName: 'string?',
    value: 'string',
  },
  required: ['id', 'value'],
};

const APP_ROLE: Shape = {
  object: {
    allowedMemberTypes: STRINGS,
    description: 'string?',
    displayName: 'string?',
    id: 'string',
    isEnabled: 'boolean',
    origin: 'string?',
    value: 'string',
  },
  required: ['allowedMemberTypes', 'id', 'value'],
};

const KEY_CREDENTIAL: Shape = {
  object: {
    customKeyIdentifier: 'string?',
    displayName: 'string?',
    endDateTime: 'string?',
    key: 'string?',
    keyId: 'string?',
    startDateTime: 'string?',
    type: 'string',
    usage: 'string',
  },
  required: ['type', 'usage'],
};

/** What `POST /applications` and `PATCH /applications/{id}` may set. */
const APPLICATION_BODY: Readonly<Record<string, Shape>> = {
  displayName: 'string',
  signInAudience: 'string',
  identifierUris: STRINGS,
  web: {
    object: {
      redirectUris: STRINGS,
      logoutUrl: 'string?',
      implicitGrantSettings: {
        object: { enableAccessTokenIssuance: 'boolean', enableIdTokenIssuance: 'boolean' },
      },
    },
  },
  spa: { object: { redirectUris: STRINGS } },
  publicClient: { object: { redirectUris: STRINGS } },
  api: {
    object: {
      oauth2PermissionScopes: { array: PERMISSION_SCOPE },
      knownClientApplications: STRINGS,
      preAuthorizedApplications: {
        array: {
          object: { appId: 'string', delegatedPermissionIds: STRINGS },
          required: ['appId', 'delegatedPermissionIds'],
        },
      },
      requestedAccessTokenVersion: 'version?',
    },
  },
  appRoles: { array: APP_ROLE },
  requiredResourceAccess: {
    array: {
      object: {
        resourceAppId: 'string',
        resourceAccess: {
          array: { object: { id: 'string', type: 'string' }, required: ['id', 'type'] },
        },
      },
      required: ['resourceAppId', 'resourceAccess'],
    },
  },
  keyCredentials: { array: KEY_CREDENTIAL },
  tesseraDpopBoundAccessTokens: 'boolean',
};

/** Properties of Graph's `application` no client sets. */
const READ_ONLY_PROPERTIES = [
  'id',
  'appId',
  'createdDateTime',
  'deletedDateTime',
  'publisherDomain',
  'passwordCredentials',
];

function edmName(shape: Shape): string {
  if (shape === 'boolean') return 'Edm.Boolean';
  if (shape === 'version?') return 'Edm.Int32';
  if (typeof shape === 'string') return 'Edm.String';
  return 'array' in shape ? 'Collection' : 'ComplexType';
}

/**
 * Checks a JSON value against a shape: only known properties, each of its JSON type, required ones present.
 *
 * @param path the property's path, for messages (`api.oauth2PermissionScopes`).
 * @throws ManagementError `invalid` (400 `Request_BadRequest`).
 */
function checkShape(value: unknown, shape: Shape, path: string): void {
  const wrongType = () =>
    new ManagementError(
      'invalid',
      `Cannot convert the value of property '${path}' to the expected type '${edmName(shape)}'.`,
    );
  if (shape === 'string' || shape === 'string?') {
    if (!(typeof value === 'string' || (shape === 'string?' && value === null))) throw wrongType();
  } else if (shape === 'boolean') {
    if (typeof value !== 'boolean') throw wrongType();
  } else if (shape === 'version?') {
    if (!(value === null || (typeof value === 'number' && Number.isInteger(value)))) throw wrongType();
  } else if ('array' in shape) {
    if (!Array.isArray(value)) throw wrongType();
    for (const item of value) checkShape(item, shape.array, path);
  } else {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw wrongType();
    for (const [name, property] of Object.entries(value as Record<string, unknown>)) {
      if (name.startsWith('@odata.')) continue;
      const inner = Object.hasOwn(shape.object, name) ? shape.object[name] : undefined;
      if (inner === undefined) {
        throw new ManagementError('invalid', `Invalid property '${`${path}.${name}`.slice(0, 100)}'.`);
      }
      checkShape(property, inner, `${path}.${name}`);
    }
    for (const name of shape.required ?? []) {
      if ((value as Record<string, unknown>)[name] === undefined) {
        throw new ManagementError('invalid', `Property '${path}.${name}' is required.`);
      }
    }
  }
}

/**
 * The top-level application body: a JSON object of {@link APPLICATION_BODY} properties, none read-only.
 *
 * @throws ManagementError `invalid`.
 */
function checkApplicationBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ManagementError('invalid', 'Expected a JSON object for the request body.');
  }
  const object = body as Record<string, unknown>;
  for (const [name, value] of Object.entries(object)) {
    if (name.startsWith('@odata.')) continue;
    if (READ_ONLY_PROPERTIES.includes(name)) {
      throw new ManagementError(
        'invalid',
        name === 'passwordCredentials'
          ? "Property 'passwordCredentials' cannot be set here: use addPassword and removePassword."
          : `Property '${name}' is read-only and cannot be set.`,
      );
    }
    const shape = Object.hasOwn(APPLICATION_BODY, name) ? APPLICATION_BODY[name] : undefined;
    if (shape === undefined) throw new ManagementError('invalid', `Invalid property '${name.slice(0, 64)}'.`);
    checkShape(value, shape, name);
  }
  return object;
}

type Json = Record<string, unknown>;

function appRoleOf(role: Json): AppRole {
  const value = role.value as string;
  return {
    id: (role.id as string).toLowerCase(),
    value,
    displayName: (role.displayName as string | null | undefined) ?? value,
    description: (role.description as string | null | undefined) ?? value,
    allowedMemberTypes: role.allowedMemberTypes as AppRole['allowedMemberTypes'],
    isEnabled: (role.isEnabled as boolean | undefined) ?? true,
  };
}

function scopeOf(scope: Json): PermissionScope {
  const value = scope.value as string;
  const text = (name: string) => (scope[name] as string | null | undefined) ?? value;
  return {
    id: (scope.id as string).toLowerCase(),
    value,
    type: ((scope.type as string | null | undefined) ?? 'User') as PermissionScope['type'],
    adminConsentDisplayName: text('adminConsentDisplayName'),
    adminConsentDescription: text('adminConsentDescription'),
    userConsentDisplayName: text('userConsentDisplayName'),
    userConsentDescription: text('userConsentDescription'),
    isEnabled: (scope.isEnabled as boolean | undefined) ?? true,
  };
}

/** The directory's change of a checked body (property names are Graph's, so this is a copy of types only). */
function changeOf(body: Json): ApplicationChange {
  const web = body.web as Json | undefined;
  const api = body.api as Json | undefined;
  const redirects = (platform: unknown) => ({
    redirectUris: ((platform as Json).redirectUris as string[] | undefined) ?? [],
  });
  return {
    ...(body.displayName === undefined ? {} : { displayName: body.displayName as string }),
    ...(body.signInAudience === undefined ? {} : { signInAudience: body.signInAudience as SignInAudience }),
    ...(body.identifierUris === undefined ? {} : { identifierUris: body.identifierUris as string[] }),
    ...(body.appRoles === undefined ? {} : { appRoles: (body.appRoles as Json[]).map(appRoleOf) }),
    ...(body.requiredResourceAccess === undefined
      ? {}
      : {
          requiredResourceAccess: (body.requiredResourceAccess as Json[]).map(
            (entry): RequiredResourceAccess => ({
              resourceAppId: (entry.resourceAppId as string).toLowerCase(),
              resourceAccess: (entry.resourceAccess as Json[]).map((access) => ({
                id: (access.id as string).toLowerCase(),
                type: access.type as 'Scope' | 'Role',
              })),
            }),
          ),
        }),
    ...(body.spa === undefined ? {} : { spa: redirects(body.spa) }),
    ...(body.publicClient === undefined ? {} : { publicClient: redirects(body.publicClient) }),
    ...(body.tesseraDpopBoundAccessTokens === undefined
      ? {}
      : { dpopBoundAccessTokens: body.tesseraDpopBoundAccessTokens as boolean }),
    ...(web === undefined
      ? {}
      : {
          web: {
            ...(web.redirectUris === undefined ? {} : { redirectUris: web.redirectUris as string[] }),
            ...(web.logoutUrl === undefined ? {} : { logoutUrl: web.logoutUrl as string | null }),
            ...(web.implicitGrantSettings === undefined
              ? {}
              : { implicitGrantSettings: web.implicitGrantSettings as Json }),
          },
        }),
    ...(api === undefined
      ? {}
      : {
          api: {
            ...(api.oauth2PermissionScopes === undefined
              ? {}
              : { oauth2PermissionScopes: (api.oauth2PermissionScopes as Json[]).map(scopeOf) }),
            ...(api.knownClientApplications === undefined
              ? {}
              : { knownClientApplications: api.knownClientApplications as string[] }),
            ...(api.preAuthorizedApplications === undefined
              ? {}
              : {
                  preAuthorizedApplications: (api.preAuthorizedApplications as Json[]).map((entry) => ({
                    appId: (entry.appId as string).toLowerCase(),
                    delegatedPermissionIds: (entry.delegatedPermissionIds as string[]).map((id) =>
                      id.toLowerCase(),
                    ),
                  })),
                }),
            ...(api.requestedAccessTokenVersion === undefined
              ? {}
              : { requestedAccessTokenVersion: api.requestedAccessTokenVersion as 1 | 2 | null }),
          },
        }),
  };
}

/**
 * The certificates of a `keyCredentials` body (Graph's replace semantics): an entry with `key` (base64 DER) is a
 * new certificate; one without names a `keyId` the application already has, which is kept. `type` must be
 * `AsymmetricX509Cert` and `usage` `Verify` (Tessera keeps no symmetric or encryption keys).
 *
 * @throws ManagementError / DirectoryError `invalid`.
 */
function keyCredentialsOf(
  entries: readonly Json[],
  current: readonly KeyCredential[],
  nowSeconds: number,
): KeyCredential[] {
  const result: KeyCredential[] = [];
  for (const entry of entries) {
    if (entry.type !== 'AsymmetricX509Cert' || entry.usage !== 'Verify') {
      throw new ManagementError(
        'invalid',
        "A key credential must have type 'AsymmetricX509Cert' and usage 'Verify'.",
      );
    }
    const keyId = (entry.keyId as string | null | undefined) ?? undefined;
    const key = (entry.key as string | null | undefined) ?? undefined;
    let credential: KeyCredential;
    if (key === undefined) {
      const kept = current.find((existing) => existing.keyId === keyId?.toLowerCase());
      if (kept === undefined) {
        throw new ManagementError('invalid', 'A new key credential needs its certificate in key.');
      }
      credential = kept;
    } else {
      const input: CertificateInput = {
        certificate: key,
        ...(typeof entry.displayName === 'string' ? { displayName: entry.displayName } : {}),
        ...(keyId === undefined ? {} : { keyId }),
      };
      credential = certificateCredential(input, nowSeconds);
    }
    if (result.some((other) => other.keyId === credential.keyId)) {
      throw new ManagementError('invalid', `The keyId '${credential.keyId}' is used twice.`);
    }
    result.push(credential);
  }
  return result;
}

/** Graph's message for an identifier URI another application registered. */
const IDENTIFIER_URI_TAKEN = 'Another object with the same value for property identifierUris already exists.';

/** A directory write; a taken App ID URI answers Graph's message (400 `Request_BadRequest`, `ObjectConflict`). */
function withGraphConflict<T>(work: Promise<T>): Promise<T> {
  return onDirectoryError(work, 'conflict', () => {
    throw new ManagementError('conflict', IDENTIFIER_URI_TAKEN);
  });
}

/** A time of a body (`…DateTime`, ISO 8601) as Unix seconds. */
function dateTimeOf(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new ManagementError(
      'invalid',
      `Cannot convert the value of property '${name}' to the expected type 'Edm.DateTimeOffset'.`,
    );
  }
  return Math.floor(ms / 1000);
}

/** A body object with one required object property (`passwordCredential`, `keyCredential`). */
function bodyObject(
  body: unknown,
  shape: Readonly<Record<string, Shape>>,
  required: readonly string[],
): Json {
  checkShape(body, { object: shape, required }, 'body');
  return body as Json;
}

// ---------------------------------------------------------------------------------------------------------------
// Routes.

/**
 * The application a path names: `applications/{id}` (`key`) or `applications(appId='{appId}')` (`ref`, what
 * follows `appId=`). A key that is no GUID answers 400, as Graph does; a GUID of no application of the caller's
 * tenant 404.
 */
function refOf(params: { key?: string; ref?: string }): ApplicationRef {
  if (params.ref !== undefined) {
    const appId = /^'([^']*)'\)$/.exec(params.ref)?.[1];
    if (appId === undefined) {
      throw new ManagementError(
        'invalid',
        "The alternate key must be written applications(appId='{appId}').",
      );
    }
    return { appId: objectId(appId) };
  }
  return { id: objectId(params.key ?? '') };
}

type AppParams = { Params: { key?: string; ref?: string; owner?: string } };

/**
 * `GET|POST /v1.0/applications`, `GET|PATCH|DELETE /v1.0/applications/{id}` and
 * `/v1.0/applications(appId='{appId}')`, the actions `addPassword`, `removePassword`, `addKey`, `removeKey`, and
 * `owners` (list, `$ref` add and remove), on the directory services, limited to the caller's tenant.
 *
 * @see https://learn.microsoft.com/graph/api/resources/application
 * @see docs/management-api.md
 */
export function registerApplicationRoutes(
  scope: FastifyInstance,
  context: ServerContext,
  authenticate: (request: FastifyRequest) => Promise<Caller>,
): void {
  const applications = context.directory.applications;
  const credentials = context.directory.credentials;

  /** Registers a handler under both keys of an application: `/applications/{id}…` and `(appId='…')…`. */
  function route(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    suffix: string,
    handler: (request: FastifyRequest<AppParams>, reply: FastifyReply) => Promise<FastifyReply>,
  ): void {
    for (const prefix of ['/applications/:key', '/applications(appId=:ref']) {
      scope.route<AppParams>({ method, url: `${prefix}${suffix}`, handler });
    }
  }

  /** The caller, allowed `operation`, and the application the path names in the caller's tenant. */
  async function target(
    request: FastifyRequest<AppParams>,
    operation: 'applications.read' | 'applications.write',
  ): Promise<{ caller: Caller; ref: ApplicationRef; app: Application }> {
    const caller = await authenticate(request);
    requireAllowed(caller, operation);
    const ref = refOf(request.params);
    const app = await orNotFound(applications.get(caller.tenantId, ref), 'id' in ref ? ref.id : ref.appId);
    return { caller, ref, app };
  }

  scope.get('/applications', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'applications.read');
    const query = collectionQueryOf(request, APPLICATION_TYPE);
    const page = await listApplications(context.store, caller.tenantId, query);
    return reply.send(
      collectionBody(context, 'applications', query, page, (app) => graphApplication(app, query.select)),
    );
  });

  scope.post('/applications', async (request, reply) => {
    const caller = await authenticate(request);
    requireAllowed(caller, 'applications.write');
    const body = checkApplicationBody(request.body);
    if (typeof body.displayName !== 'string') {
      throw new ManagementError('invalid', "Property 'displayName' is required to create an application.");
    }
    const keyCredentials = keyCredentialsOf(
      (body.keyCredentials as Json[] | undefined) ?? [],
      [],
      context.now(),
    );
    const { application } = await withGraphConflict(
      applications.register(
        caller.tenantId,
        { ...changeOf(body), displayName: body.displayName },
        { servicePrincipal: false, keyCredentials },
      ),
    );
    return reply
      .status(201)
      .header('location', `${context.baseUrl()}/v1.0/applications/${application.id}`)
      .send({
        '@odata.context': odataContext(context, 'applications', undefined, true),
        ...graphApplication(application, undefined),
      });
  });

  route('GET', '', async (request, reply) => {
    const select = parseEntityQuery(queryOf(request.url), APPLICATION_TYPE);
    const { app } = await target(request, 'applications.read');
    return reply.send({
      '@odata.context': odataContext(context, 'applications', select, true),
      ...graphApplication(app, select),
    });
  });

  route('PATCH', '', async (request, reply) => {
    const { app } = await target(request, 'applications.write');
    const body = checkApplicationBody(request.body);
    const keyCredentials =
      body.keyCredentials === undefined
        ? undefined
        : keyCredentialsOf(body.keyCredentials as Json[], app.keyCredentials, context.now());
    await withGraphConflict(applications.change(app.appId, changeOf(body), keyCredentials));
    return reply.status(204).send();
  });

  route('DELETE', '', async (request, reply) => {
    const { caller, app } = await target(request, 'applications.write');
    await applications.delete(caller.tenantId, app.appId);
    return reply.status(204).send();
  });

  route('POST', '/addPassword', async (request, reply) => {
    const { app } = await target(request, 'applications.write');
    const body = bodyObject(
      request.body ?? {},
      {
        passwordCredential: {
          object: {
            displayName: 'string?',
            endDateTime: 'string?',
            startDateTime: 'string?',
            customKeyIdentifier: 'string?',
          },
        },
      },
      [],
    );
    const input = (body.passwordCredential as Json | undefined) ?? {};
    const startAt = dateTimeOf(input.startDateTime, 'startDateTime');
    const endAt = dateTimeOf(input.endDateTime, 'endDateTime');
    const created = await credentials.addPassword({
      appId: app.appId,
      ...(typeof input.displayName === 'string' ? { displayName: input.displayName } : {}),
      ...(startAt === undefined ? {} : { startAt }),
      ...(endAt === undefined ? {} : { endAt }),
    });
    return reply.header('cache-control', 'no-store').send({
      '@odata.context': `${context.baseUrl()}/v1.0/$metadata#microsoft.graph.passwordCredential`,
      ...graphPasswordCredential(created.credential, created.secretText),
    });
  });

  route('POST', '/removePassword', async (request, reply) => {
    const { app } = await target(request, 'applications.write');
    const body = bodyObject(request.body, { keyId: 'string' }, ['keyId']);
    await credentials.removePassword(app.appId, (body.keyId as string).toLowerCase());
    return reply.status(204).send();
  });

  route('POST', '/addKey', async (request, reply) => {
    const { app } = await target(request, 'applications.write');
    const body = bodyObject(
      request.body,
      { keyCredential: KEY_CREDENTIAL, passwordCredential: 'string?', proof: 'string' },
      ['keyCredential', 'proof'],
    );
    if (body.passwordCredential !== undefined && body.passwordCredential !== null) {
      throw new ManagementError('invalid', 'addKey adds certificates only: passwordCredential must be null.');
    }
    const entry = body.keyCredential as Json;
    if (entry.type !== 'AsymmetricX509Cert' || entry.usage !== 'Verify' || typeof entry.key !== 'string') {
      throw new ManagementError(
        'invalid',
        "keyCredential must have type 'AsymmetricX509Cert', usage 'Verify' and the certificate in key.",
      );
    }
    const credential = await credentials.addKey(
      app.appId,
      {
        certificate: entry.key,
        ...(typeof entry.displayName === 'string' ? { displayName: entry.displayName } : {}),
      },
      body.proof as string,
    );
    return reply.send({
      '@odata.context': `${context.baseUrl()}/v1.0/$metadata#microsoft.graph.keyCredential`,
      ...graphKeyCredential(credential),
    });
  });

  route('POST', '/removeKey', async (request, reply) => {
    const { app } = await target(request, 'applications.write');
    const body = bodyObject(request.body, { keyId: 'string', proof: 'string' }, ['keyId', 'proof']);
    await credentials.removeKey(app.appId, (body.keyId as string).toLowerCase(), body.proof as string);
    return reply.status(204).send();
  });

  route('GET', '/owners', async (request, reply) => {
    const { caller, ref } = await target(request, 'applications.read');
    const query = collectionQueryOf(request, USER_TYPE);
    if (query.where !== undefined || query.search !== undefined || query.orderBy !== undefined) {
      throw new ManagementError('unsupported_query', 'Only $select, $top and $skiptoken apply to owners.');
    }
    const page = await applications.listOwners(caller.tenantId, ref, {
      top: query.top,
      ...(query.after === undefined ? {} : { after: query.after }),
    });
    const body = collectionBody(
      context,
      (request.url.split('?')[0] ?? '').replace(/^\/v1\.0\//, ''),
      query,
      { items: page.items, ...(page.next === undefined ? {} : { next: encodeSkipToken(page.next) }) },
      (user) => ({ '@odata.type': '#microsoft.graph.user', ...graphUser(user, query.select) }),
    );
    return reply.send({ ...body, '@odata.context': `${context.baseUrl()}/v1.0/$metadata#directoryObjects` });
  });

  route('POST', '/owners/$ref', async (request, reply) => {
    const { caller, ref } = await target(request, 'applications.write');
    checkShape(request.body, { object: { '@odata.id': 'string' }, required: ['@odata.id'] }, 'body');
    const reference = ((request.body as Json)['@odata.id'] as string).trim();
    const userId = /\/(?:directoryObjects|users)\/([^/?#]+)$/.exec(reference)?.[1];
    if (userId === undefined) {
      throw new ManagementError(
        'invalid',
        "The @odata.id must name a directory object: '{base}/v1.0/directoryObjects/{id}'.",
      );
    }
    await orNotFound(applications.addOwner(caller.tenantId, ref, objectId(userId)), userId);
    return reply.status(204).send();
  });

  route('DELETE', '/owners/:owner/$ref', async (request, reply) => {
    const { caller, ref } = await target(request, 'applications.write');
    const owner = objectId(request.params.owner ?? '');
    await orNotFound(applications.removeOwner(caller.tenantId, ref, owner), owner);
    return reply.status(204).send();
  });
}
