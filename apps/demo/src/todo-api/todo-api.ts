import cors from '@fastify/cors';
import { fastifyHubs, createHubServer, type HubServer } from '@tessera/hub';
import {
  TokenAcquisitionError,
  bearerErrorResponse,
  bearerTokenOf,
  createTokenAcquirer,
  type AccessTokenClaims,
  type TokenAcquirer,
  type TokenValidator,
} from '@tessera/resource';
import { tesseraAuth } from '@tessera/resource/fastify';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { FlowLog } from '../flows/flow-log.js';
import { ACCESS_AS_USER, TODOS_READ_ALL, USER_READ, type DemoScenario } from '../seed/scenario.js';
import { TEAM_HUB_PATH, teamHub } from './team-hub.js';
import { MAX_TITLE_CHARS, type TodoStore } from './todo-store.js';

/** How long closing waits for hub clients to end their connections, in ms. */
const HUB_DRAIN_GRACE_MS = 2000;

/** The authentication context the sensitive export requires (a conditional access policy asks MFA for it). */
export const EXPORT_AUTHENTICATION_CONTEXT = 'c1';
/** Largest request body the Todo API reads, in bytes. */
export const MAX_BODY_BYTES = 16_384;
/** Access token `uti`s remembered so that each token is shown once on the landing page. */
const SHOWN_TOKENS = 1_000;

/** What the Todo API needs. */
export interface TodoApiOptions {
  readonly scenario: DemoScenario;
  /** Base URL of the identity server, `https://localhost:8443`. */
  readonly identityUrl: string;
  /** Origin of the demo SPA: the only cross origin allowed (CORS and the hub). */
  readonly webOrigin: string;
  readonly validator: TokenValidator;
  readonly todos: TodoStore;
  readonly flows: FlowLog;
  readonly https: { readonly key: Buffer; readonly cert: Buffer } | undefined;
}

/** The running Todo API. */
export interface TodoApi {
  readonly app: FastifyInstance;
  readonly hub: HubServer;
  close(): Promise<void>;
}

/** An error body of the Todo API: an OAuth-style `error` code and a safe description, never a stack. */
interface ErrorBody {
  readonly error: string;
  readonly error_description: string;
}

/** The user's display name (`name`), else its object id, for the flow log. */
function nameOf(claims: AccessTokenClaims): string {
  return typeof claims.name === 'string' ? claims.name : (claims.oid ?? claims.sub);
}

/** The caller's tenant and object id (validated token; a delegated token always has `oid`). */
function owner(claims: AccessTokenClaims | null): { tenantId: string; userId: string } {
  if (claims?.oid === undefined) throw new Error('route reached without a user token');
  return { tenantId: claims.tid, userId: claims.oid };
}

/**
 * Builds the Todo API (the seeds' middle tier) on Fastify with `@tessera/resource`'s adapter, every route
 * protected by default:
 *
 * | route | requires | does |
 * | --- | --- | --- |
 * | `GET /todos`, `POST /todos`, `PATCH /todos/:id`, `DELETE /todos/:id` | scope `access_as_user` | the caller's todos (by `tid` + `oid`) |
 * | `GET /me/profile` | scope `access_as_user` | `/v1.0/me` of the directory API, through On-Behalf-Of (`User.Read`) |
 * | `POST /todos/export` | scope `access_as_user` and `acrs` `c1` | the caller's todos as a file; else a claims challenge (401 `insufficient_claims`) |
 * | `GET /reports/todos` | app role `Todos.Read.All` (app-only token) | the caller tenant's totals |
 * | `/hubs/team` | scope `access_as_user` | the team chat hub ({@link teamHub}) |
 * | `GET /health` | — | `ok` |
 *
 * CORS allows the SPA's origin only, and exposes `WWW-Authenticate` so the SPA can read a claims challenge.
 * Errors are `{ error, error_description }` with a 4xx status (5xx only when the directory is unreachable).
 */
export async function createTodoApi(options: TodoApiOptions): Promise<TodoApi> {
  const { scenario, identityUrl, validator, todos, flows } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: MAX_BODY_BYTES,
    // Refuse unknown body properties rather than drop them silently (Fastify's default is `removeAdditional`).
    ajv: { customOptions: { removeAdditional: false } },
    ...(options.https === undefined ? {} : { https: { key: options.https.key, cert: options.https.cert } }),
  }) as unknown as FastifyInstance;
  const acquirers = new Map<string, TokenAcquirer>();
  const acquirerFor = (tenantId: string) => {
    let acquirer = acquirers.get(tenantId);
    if (acquirer === undefined) {
      acquirer = createTokenAcquirer({
        authority: `${identityUrl}/${tenantId}`,
        clientId: scenario.todoApi.appId,
        clientSecret: scenario.todoApi.secret,
      });
      acquirers.set(tenantId, acquirer);
    }
    return acquirer;
  };
  const shown = new Set<string>();
  const showToken = (request: FastifyRequest) => {
    const claims = request.auth;
    if (claims?.uti === undefined || shown.has(claims.uti)) return;
    const token = bearerTokenOf(request.headers.authorization);
    shown.add(claims.uti);
    if (shown.size > SHOWN_TOKENS) shown.delete(shown.values().next().value ?? '');
    const appOnly = claims.idtyp === 'app';
    flows.record({
      flow: 'api',
      outcome: 'ok',
      title: appOnly
        ? `Todo API accepted an app-only token of the Report Daemon (tenant ${claims.tid})`
        : `Todo API accepted ${nameOf(claims)}’s access token`,
      explanation: appOnly
        ? `A client credentials token: idtyp=app, roles=${JSON.stringify(claims.roles ?? [])}, no scp. ` +
          'The route requires the application permission, not a user scope.'
        : `A delegated token for the Todo API: aud is its appId, scp=${claims.scp ?? ''}. ` +
          'The API validated signature (cached JWKS), issuer of an allowed tenant, audience, lifetime and scope.',
      rules: [
        'Validation refuses alg=none, HS* algorithm confusion, unknown kid, wrong typ, issuer, audience, expired tokens and id_tokens.',
        appOnly
          ? 'A user’s roles never satisfy an application permission, nor an app token a user scope.'
          : 'The SPA attaches this token only to the Todo API’s origin (the origins it is configured for).',
      ],
      token,
    });
  };

  const hub = await createHubServer({
    path: TEAM_HUB_PATH,
    hub: teamHub(todos, flows),
    authentication: { validator },
    allowedOrigins: [options.webOrigin],
  });
  // First: the hub answers its own path, CORS preflights of its origins included (the official client sends
  // headers the API's CORS does not allow), and authenticates negotiate and every transport request itself.
  fastifyHubs(app, [hub]);
  await app.register(cors, {
    origin: [options.webOrigin],
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type'],
    exposedHeaders: ['www-authenticate'],
    maxAge: 600,
  });
  await app.register(tesseraAuth, {
    validator,
    realm: 'todo-api',
    defaultRequirement: { scopes: [ACCESS_AS_USER] },
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const challenge = reply.getHeader('www-authenticate');
    if (reply.statusCode === 401 || reply.statusCode === 403) {
      const claimsChallenge = typeof challenge === 'string' && challenge.includes('insufficient_claims');
      flows.record({
        flow: claimsChallenge ? 'step_up' : 'api',
        outcome: 'refused',
        title: `Todo API refused ${request.method} ${request.url.split('?')[0] ?? ''} (${reply.statusCode})`,
        explanation: claimsChallenge
          ? 'The export needs authentication context c1 (MFA). The API answers a claims challenge; the SPA sends ' +
            'its claims to /authorize, the user completes the second factor, and the new token carries acrs ["c1"].'
          : `WWW-Authenticate: ${typeof challenge === 'string' ? challenge : '(none)'}`,
        rules: [
          'Refusals carry an RFC 6750 challenge and a safe description: no exception detail, no stack.',
        ],
      });
    }
    return payload;
  });
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error.validation !== undefined || error.statusCode === 400 || error.statusCode === 415) {
      return reply.code(400).send({
        error: 'invalid_request',
        error_description: error.validation === undefined ? 'The request body is not valid.' : error.message,
      } satisfies ErrorBody);
    }
    if (error.statusCode === 413) {
      return reply.code(413).send({
        error: 'invalid_request',
        error_description: 'The request body is too large.',
      } satisfies ErrorBody);
    }
    return reply.code(500).send({
      error: 'server_error',
      error_description: 'The Todo API failed; nothing was changed.',
    } satisfies ErrorBody);
  });
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error: 'not_found', error_description: 'No such route.' } satisfies ErrorBody),
  );

  app.get('/health', { config: { auth: false } }, () => ({ status: 'ok' }));

  app.get('/todos', async (request) => {
    showToken(request);
    const { tenantId, userId } = owner(request.auth);
    return { value: await todos.list(tenantId, userId) };
  });

  app.post<{ Body: { title: string } }>(
    '/todos',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['title'],
          properties: { title: { type: 'string', minLength: 1, maxLength: MAX_TITLE_CHARS } },
        },
      },
    },
    async (request, reply) => {
      showToken(request);
      const { tenantId, userId } = owner(request.auth);
      const title = request.body.title.trim();
      if (title === '') {
        return reply
          .code(400)
          .send({ error: 'invalid_request', error_description: 'A todo needs a title.' } satisfies ErrorBody);
      }
      const todo = await todos.add(tenantId, userId, title);
      if (todo === undefined) {
        return reply.code(409).send({
          error: 'too_many_todos',
          error_description: 'Delete some todos first.',
        } satisfies ErrorBody);
      }
      return reply.code(201).send(todo);
    },
  );

  const idParams = {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', format: 'uuid' } },
  } as const;

  app.patch<{ Params: { id: string }; Body: { done: boolean } }>(
    '/todos/:id',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['done'],
          properties: { done: { type: 'boolean' } },
        },
      },
    },
    async (request, reply) => {
      const { tenantId, userId } = owner(request.auth);
      const todo = await todos.setDone(tenantId, userId, request.params.id, request.body.done);
      if (todo === undefined) {
        return reply
          .code(404)
          .send({ error: 'not_found', error_description: 'No such todo.' } satisfies ErrorBody);
      }
      return todo;
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/todos/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const { tenantId, userId } = owner(request.auth);
      if (!(await todos.remove(tenantId, userId, request.params.id))) {
        return reply
          .code(404)
          .send({ error: 'not_found', error_description: 'No such todo.' } satisfies ErrorBody);
      }
      return reply.code(204).send();
    },
  );

  app.post(
    '/todos/export',
    { config: { auth: { scopes: [ACCESS_AS_USER], authenticationContext: EXPORT_AUTHENTICATION_CONTEXT } } },
    async (request, reply) => {
      const { tenantId, userId } = owner(request.auth);
      const list = await todos.list(tenantId, userId);
      flows.record({
        flow: 'step_up',
        outcome: 'ok',
        title: `${request.auth === null ? userId : nameOf(request.auth)} exported their todos after a step-up`,
        explanation:
          'The token carries acrs ["c1"]: the user completed the second factor the policy requires.',
        rules: [
          'A sensitive action checks the authentication context in the token, not a flag the client sends.',
        ],
      });
      return reply
        .header('content-disposition', 'attachment; filename="todos.json"')
        .send({ exportedAt: new Date().toISOString(), value: list });
    },
  );

  app.get('/me/profile', async (request, reply) => {
    const claims = request.auth;
    if (claims === null) throw new Error('route reached without a token');
    const incoming = bearerTokenOf(request.headers.authorization);
    showToken(request);
    let downstream: string;
    try {
      const acquired = await acquirerFor(claims.tid).acquireTokenOnBehalfOf(incoming, [
        `https://graph.microsoft.com/${USER_READ}`,
      ]);
      downstream = acquired.accessToken;
      if (!acquired.fromCache) {
        flows.record({
          flow: 'on_behalf_of',
          outcome: 'ok',
          title: `Todo API got a directory token On-Behalf-Of ${nameOf(claims)}`,
          explanation:
            'grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, requested_token_use=on_behalf_of: the Todo API ' +
            'sent the user’s token as the assertion with its own client secret, and got a token for the directory ' +
            'API (aud https://graph.microsoft.com, scp User.Read) for the same user (same oid).',
          rules: [
            'Only an access token addressed to the Todo API is accepted as the assertion: app-only tokens and id_tokens are refused.',
            'The downstream scope must be consented for the Todo API (here by the contoso administrator), else consent_required (65001).',
            'The SPA never sees the downstream token: it stays in the middle tier.',
          ],
          token: downstream,
        });
      }
    } catch (error) {
      if (!(error instanceof TokenAcquisitionError)) throw error;
      const challenge = error.toClaimsChallenge();
      if (challenge !== undefined) {
        const answer = bearerErrorResponse(challenge, { realm: 'todo-api' });
        return reply.code(answer.status).headers(answer.headers).send(answer.body);
      }
      flows.record({
        flow: 'on_behalf_of',
        outcome: 'refused',
        title: `On-Behalf-Of refused: ${error.error} ${JSON.stringify(error.errorCodes)}`,
        explanation:
          'The identity server refused the exchange; the Todo API passes the reason on without detail.',
        rules: ['No exception detail reaches the client.'],
      });
      const consent = error.suberror === 'consent_required' || error.errorCodes.includes(65001);
      return reply.code(consent ? 403 : 502).send({
        error: consent ? 'consent_required' : 'downstream_unavailable',
        error_description: consent
          ? 'The Todo API may not read your profile: consent is missing.'
          : 'The directory could not be reached on your behalf.',
      } satisfies ErrorBody);
    }
    const response = await fetch(`${identityUrl}/v1.0/me`, {
      headers: { authorization: `Bearer ${downstream}` },
    });
    if (!response.ok) {
      return reply.code(502).send({
        error: 'downstream_unavailable',
        error_description: `The directory answered ${response.status}.`,
      } satisfies ErrorBody);
    }
    return { profile: await response.json(), source: `${identityUrl}/v1.0/me` };
  });

  app.get('/reports/todos', { config: { auth: { roles: [TODOS_READ_ALL] } } }, async (request) => {
    showToken(request);
    const claims = request.auth;
    if (claims === null) throw new Error('route reached without a token');
    return { tenantId: claims.tid, ...(await todos.tenantSummary(claims.tid)) };
  });

  return {
    app,
    hub,
    async close() {
      // SIGTERM: hub clients get a Close with allowReconnect (their automatic reconnect comes back after a restart).
      await hub.drain(HUB_DRAIN_GRACE_MS);
      await app.close();
    },
  };
}
