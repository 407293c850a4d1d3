import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { bearerErrorResponse, BearerTokenError } from '@tessera/resource';
import { WebSocketServer } from 'ws';
import type { ConnectionHandler, ConnectionLimits, ConnectionUser } from './connection/http-connection.js';
import { HttpConnection } from './connection/http-connection.js';
import { createHubClients, createGroupManager, type GroupManager, type HubClients } from './hub/clients.js';
import { resolveHub, type ResolvedHub } from './hub/definition.js';
import { InvocationDispatcher, type InvocationLimits } from './hub/invocation-dispatcher.js';
import { hubEndpointOf, requestTargetOf } from './hub-path.js';
import { HubRuntime } from './hub/runtime.js';
import { redactUrl, silentLogger, type HubLogger } from './logging.js';
import type { HubServerOptions } from './options.js';
import { MAX_HANDSHAKE_BYTES } from './protocol/handshake.js';
import type { HubProtocol } from './protocol/hub-protocol.js';
import { jsonHubProtocol } from './protocol/json-protocol.js';
import { messagePackHubProtocol } from './protocol/messagepack-protocol.js';
import {
  authenticateRequest,
  bindingKeyOf,
  defaultUserIdentifier,
  type RequestIdentity,
} from './security/authentication.js';
import { OriginPolicy, type OriginDecision } from './security/origin.js';
import { satisfiesPolicy } from './security/policy.js';
import { LongPollingTransport } from './transports/long-polling.js';
import { ServerSentEventsTransport } from './transports/server-sent-events.js';
import { ALL_TRANSPORTS, type TransportKind } from './transports/transport.js';
import { WebSocketTransport } from './transports/websockets.js';

/** The message of the 403 a request gets when its user is not the one the connection token is bound to. */
export const IDENTITY_CHANGED = 'The user identity cannot change during an active connection.';

/**
 * Default largest WebSocket frame or POST body, in messages of `maxMessageBytes`. Clients batch queued messages
 * into one frame or body (each record is still limited to `maxMessageBytes`), so this bounds a batch: a few
 * messages, not thousands (parsing a frame is work the event loop does for one client).
 */
const DEFAULT_FRAME_MESSAGES = 4;
/** Bytes a frame needs beyond one message: the handshake request, which may share its frame, and framing. */
const FRAME_OVERHEAD_BYTES = MAX_HANDSHAKE_BYTES + 8;
const CLOSED_LONG_POLL_GRACE_MS = 5000;

/** A running hub: plug it into an HTTP server with an adapter, send to clients from anywhere. */
export interface HubServer {
  readonly path: string;
  /** Server → client calls from outside hub methods. */
  readonly clients: HubClients;
  readonly groups: GroupManager;
  /** Connections open on this node. */
  readonly connectionCount: number;
  /** Handles a request if its path is the hub's; resolves `false` (and leaves the response alone) otherwise. */
  handleRequest(request: IncomingMessage, response: ServerResponse): Promise<boolean>;
  /** Handles an `upgrade` if its path is the hub's; resolves `false` (socket untouched) otherwise. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<boolean>;
  /** Closes every connection (Close message without reconnect), stops timers and leaves the backplane. */
  close(): Promise<void>;
}

/**
 * Creates a hub server and subscribes it to its backplane.
 *
 * @throws TypeError for an invalid configuration: no authentication on a hub that does not allow anonymous
 *   callers, cookie authentication without an origin allow-list, an invalid origin, a path without a leading `/`,
 *   a limit that is not an integer (or not positive where a zero makes no sense), `maxFrameBytes` below
 *   `maxMessageBytes` plus the handshake and framing.
 * @see docs/hub.md
 */
export async function createHubServer(options: HubServerOptions): Promise<HubServer> {
  const server = new HubServerImpl(options);
  await server.runtime.start();
  return server;
}

class HubServerImpl implements HubServer, ConnectionHandler {
  readonly path: string;
  readonly runtime: HubRuntime;
  readonly clients: HubClients;
  readonly groups: GroupManager;
  private readonly hub: ResolvedHub;
  private readonly logger: HubLogger;
  private readonly origins: OriginPolicy;
  private readonly transports: ReadonlySet<TransportKind>;
  private readonly protocols: ReadonlyMap<string, HubProtocol>;
  private readonly limits: ConnectionLimits;
  private readonly invocationLimits: InvocationLimits;
  private readonly longPollTimeoutMs: number;
  private readonly byToken = new Map<string, HttpConnection>();
  private readonly dispatchers = new Map<HttpConnection, InvocationDispatcher>();
  private readonly wss: WebSocketServer;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly options: HubServerOptions) {
    if (!options.path.startsWith('/') || options.path.endsWith('/')) {
      throw new TypeError('"path" must start with "/" and not end with "/".');
    }
    this.path = options.path;
    this.hub = resolveHub(options.hub);
    this.logger = options.logger ?? silentLogger;
    this.origins = new OriginPolicy(options.allowedOrigins ?? []);
    if (options.authentication === undefined && !this.hub.anonymousConnect) {
      throw new TypeError('The hub requires authentication: give "authentication" or set "allowAnonymous".');
    }
    if (options.authentication?.cookie !== undefined && !this.origins.hasAllowList) {
      throw new TypeError('Cookie authentication requires a non-empty "allowedOrigins" list.');
    }
    this.transports = new Set(options.transports ?? ALL_TRANSPORTS);
    const protocols = options.protocols ?? ['json', 'messagepack'];
    this.protocols = new Map(
      protocols.map((name) => [name, name === 'json' ? jsonHubProtocol : messagePackHubProtocol] as const),
    );
    const maxMessageBytes = positiveInteger(options.maxMessageBytes, 32_768, 'maxMessageBytes');
    const maxFrameBytes = positiveInteger(
      options.maxFrameBytes,
      DEFAULT_FRAME_MESSAGES * maxMessageBytes,
      'maxFrameBytes',
    );
    if (maxFrameBytes < maxMessageBytes + FRAME_OVERHEAD_BYTES) {
      throw new TypeError(
        `"maxFrameBytes" must be at least "maxMessageBytes" + ${FRAME_OVERHEAD_BYTES} (the handshake and framing).`,
      );
    }
    this.limits = {
      keepAliveIntervalMs: options.keepAliveIntervalMs ?? 15_000,
      clientTimeoutMs: options.clientTimeoutMs ?? 30_000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 15_000,
      disconnectTimeoutMs: options.disconnectTimeoutMs ?? 15_000,
      maxMessageBytes,
      maxFrameBytes,
      maxSendBufferBytes: options.maxSendBufferBytes ?? 1_048_576,
      ackIntervalMs: Math.min(1000, options.keepAliveIntervalMs ?? 1000),
    };
    this.invocationLimits = {
      maxParallelInvocations: options.maxParallelInvocationsPerClient ?? 1,
      maxQueuedInvocations: options.maxQueuedInvocationsPerClient ?? 64,
      rateLimit: options.invocationRateLimit ?? { perSecond: 100, burst: 200 },
      streamBufferCapacity: options.streamBufferCapacity ?? 10,
      clientResultTimeoutMs: options.clientResultTimeoutMs ?? 30_000,
      maxStreamIdsPerInvocation: nonNegativeInteger(
        options.maxStreamIdsPerInvocation,
        8,
        'maxStreamIdsPerInvocation',
      ),
      maxStreamsPerClient: nonNegativeInteger(options.maxStreamsPerClient, 32, 'maxStreamsPerClient'),
    };
    this.wss = new WebSocketServer({ noServer: true, maxPayload: maxFrameBytes, perMessageDeflate: false });
    this.longPollTimeoutMs = options.longPollTimeoutMs ?? 90_000;
    this.runtime = new HubRuntime(
      this.hub,
      options.backplane,
      options.backplaneChannel ?? options.path,
      options.groupOperationTimeoutMs ?? 5000,
      nonNegativeInteger(options.maxGroupsPerClient, 100, 'maxGroupsPerClient'),
      this.logger,
    );
    this.clients = createHubClients(this.runtime);
    this.groups = createGroupManager(this.runtime);
    const tickMs = Math.max(
      20,
      Math.min(
        1000,
        this.limits.keepAliveIntervalMs / 2,
        this.limits.handshakeTimeoutMs / 2,
        this.limits.clientTimeoutMs / 4,
      ),
    );
    this.heartbeat = setInterval(() => {
      this.tick();
    }, tickMs);
    this.heartbeat.unref();
  }

  get connectionCount(): number {
    return this.runtime.connections.size;
  }

  // ---- ConnectionHandler -------------------------------------------------------------------------------------

  onHandshake(connection: HttpConnection): void {
    const claims = connection.user.claims;
    const userIdentifier =
      claims === undefined
        ? undefined
        : (this.options.authentication?.userIdentifier ?? defaultUserIdentifier)(claims);
    const dispatcher = new InvocationDispatcher(
      connection,
      this.hub,
      this.runtime,
      this.clients,
      userIdentifier,
      this.invocationLimits,
      this.logger,
    );
    this.dispatchers.set(connection, dispatcher);
    this.logger.debug('hub connection started', {
      connectionId: connection.connectionId,
      transport: connection.transportKind,
      protocol: connection.protocol?.name,
    });
  }

  onMessage(
    connection: HttpConnection,
    message: Parameters<ConnectionHandler['onMessage']>[1],
  ): Promise<void> | undefined {
    return this.dispatchers.get(connection)?.receive(message);
  }

  onClosed(connection: HttpConnection, reason: string | undefined): void {
    const dispatcher = this.dispatchers.get(connection);
    this.dispatchers.delete(connection);
    dispatcher?.closed(reason);
    // A closed Long Polling connection answers polls with 204 for a moment, so the client sees the end cleanly.
    if (connection.transportKind === 'LongPolling') {
      setTimeout(() => {
        if (this.byToken.get(connection.connectionToken) === connection)
          this.byToken.delete(connection.connectionToken);
      }, CLOSED_LONG_POLL_GRACE_MS).unref();
    } else {
      this.byToken.delete(connection.connectionToken);
    }
    this.logger.debug('hub connection ended', { connectionId: connection.connectionId, reason });
  }

  // ---- HTTP ---------------------------------------------------------------------------------------------------

  async handleRequest(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const target = requestTargetOf(request.url);
    const endpoint = target === undefined ? undefined : hubEndpointOf(target.pathname, this.path);
    if (target === undefined || endpoint === undefined) return false;
    const query = target.query;
    const negotiate = endpoint === 'negotiate';
    this.logger.debug('hub request', { method: request.method, url: redactUrl(request.url) });
    const origin = this.origins.check(request);
    if (origin.kind === 'refused') {
      this.logger.info('hub request refused: origin not allowed', { origin: origin.origin });
      drain(request);
      respond(response, 403, '');
      return true;
    }
    const cors = OriginPolicy.corsHeaders(origin);
    try {
      if (request.method === 'OPTIONS') {
        this.preflight(request, response, cors);
      } else if (negotiate) {
        if (request.method === 'POST') await this.negotiate(request, response, query, cors, origin);
        else respond(response, 405, 'Method not allowed.', cors);
      } else {
        await this.connectionRequest(request, response, query, cors);
      }
    } catch (error) {
      this.logger.error('hub request failed', {
        url: redactUrl(request.url),
        error: error instanceof Error ? error.message : 'unknown',
      });
      if (!response.headersSent) respond(response, 500, 'Internal server error.', cors);
      else response.destroy();
    }
    return true;
  }

  private preflight(request: IncomingMessage, response: ServerResponse, cors: Record<string, string>): void {
    if (Object.keys(cors).length === 0) {
      respond(response, 204, '');
      return;
    }
    const requested = request.headers['access-control-request-headers'] ?? '';
    const allowedHeaders = requested
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter((name) =>
        ['authorization', 'content-type', 'x-requested-with', 'x-signalr-user-agent'].includes(name),
      );
    response
      .writeHead(204, {
        ...cors,
        'access-control-allow-methods': 'GET, POST, DELETE',
        'access-control-allow-headers': allowedHeaders.join(', '),
        'access-control-max-age': '600',
      })
      .end();
  }

  private async negotiate(
    request: IncomingMessage,
    response: ServerResponse,
    query: URLSearchParams,
    cors: Record<string, string>,
    origin: OriginDecision,
  ): Promise<void> {
    drain(request);
    // Authentication first, as ASP.NET Core's authorization runs before the negotiate endpoint: no query value
    // gets an unauthenticated caller another answer than the 401.
    const identity = await authenticateRequest(request, query, false, this.options.authentication);
    const user = await this.admit(request, identity, response, cors, origin);
    if (user === undefined) return;
    const version = Number(query.get('negotiateVersion') ?? '0');
    if (!Number.isInteger(version) || version < 1) {
      json(
        response,
        200,
        {
          error: `The client requested version '${query.get('negotiateVersion') ?? '0'}', but the server does not support this version.`,
        },
        cors,
      );
      return;
    }
    const stateful =
      this.options.allowStatefulReconnects === true && query.get('useStatefulReconnect') === 'true';
    const connection = this.createConnection(user, stateful);
    json(
      response,
      200,
      {
        negotiateVersion: 1,
        connectionId: connection.connectionId,
        connectionToken: connection.connectionToken,
        availableTransports: ALL_TRANSPORTS.filter((kind) => this.transports.has(kind)).map((transport) => ({
          transport,
          transferFormats: transport === 'ServerSentEvents' ? ['Text'] : ['Text', 'Binary'],
        })),
        ...(stateful ? { useStatefulReconnect: true } : {}),
      },
      { ...cors, 'cache-control': 'no-store' },
    );
  }

  /**
   * Turns an identity into the connection's user, or answers the refusal: 401 for a bad token or an anonymous
   * caller of a protected hub, 403 for a hub policy or a cookie session from a foreign page.
   */
  private async admit(
    request: IncomingMessage,
    identity: RequestIdentity,
    response: ServerResponse | Duplex,
    cors: Record<string, string>,
    origin: OriginDecision,
  ): Promise<ConnectionUser | undefined> {
    if (identity.kind === 'refused') {
      this.refuse(response, identity.error, cors);
      return undefined;
    }
    const expired = this.expired(identity);
    if (expired !== undefined) {
      this.refuse(response, expired, cors);
      return undefined;
    }
    if (identity.kind === 'anonymous') {
      if (!this.hub.anonymousConnect) {
        this.refuse(response, new BearerTokenError('token_missing'), cors);
        return undefined;
      }
      return { claims: undefined, bindingKey: undefined, expiresAtMs: undefined };
    }
    const { claims } = identity;
    if (
      identity.via === 'cookie' &&
      origin.kind !== 'allowed' &&
      !(origin.kind === 'same' && request.headers.origin !== undefined)
    ) {
      this.logger.info('hub request refused: cookie authentication without an allowed origin');
      reply(response, 403, '', cors);
      return undefined;
    }
    const userIdentifier = (this.options.authentication?.userIdentifier ?? defaultUserIdentifier)(claims);
    if (!(await satisfiesPolicy(this.hub.definition.policy, { connectionId: '', claims, userIdentifier }))) {
      reply(response, 403, '', cors);
      return undefined;
    }
    return { claims, bindingKey: bindingKeyOf(claims), expiresAtMs: claims.exp * 1000 };
  }

  /**
   * Answers an authentication refusal: the status and `WWW-Authenticate` challenge (RFC 6750 §3, which carries
   * `error` and `error_description`) and an empty body, as ASP.NET's authentication does: the official client puts
   * any body into its error message.
   */
  private refuse(
    target: ServerResponse | Duplex,
    error: BearerTokenError,
    cors: Record<string, string>,
  ): void {
    this.logger.info('hub request refused: authentication', { code: error.code });
    const { status, headers } = bearerErrorResponse(error);
    reply(target, status, '', { ...cors, ...headers });
  }

  /**
   * The identity's claims if its token is still alive by the hub's rule (`exp` exactly, the rule that closes
   * connections), else a refusal: a validator's clock skew must not admit a token the hub would drop at once.
   */
  private expired(identity: RequestIdentity): BearerTokenError | undefined {
    if (identity.kind !== 'user' || identity.claims.exp * 1000 > Date.now()) return undefined;
    return new BearerTokenError('token_expired', { detail: 'at or past exp (the hub allows no skew)' });
  }

  private createConnection(user: ConnectionUser, stateful: boolean): HttpConnection {
    const connection = new HttpConnection(user, stateful, this.protocols, this.limits, this, this.logger);
    this.byToken.set(connection.connectionToken, connection);
    return connection;
  }

  /**
   * Finds the connection of `?id=` for a user: 400 without id, 404 unknown, 403 another identity.
   */
  private async lookup(
    request: IncomingMessage,
    query: URLSearchParams,
    target: ServerResponse | Duplex,
    cors: Record<string, string>,
    allowQueryToken: boolean,
  ): Promise<{ connection: HttpConnection; user: ConnectionUser } | undefined> {
    const identity = await authenticateRequest(request, query, allowQueryToken, this.options.authentication);
    if (identity.kind === 'refused') {
      this.refuse(target, identity.error, cors);
      return undefined;
    }
    const expired = this.expired(identity);
    if (expired !== undefined) {
      this.refuse(target, expired, cors);
      return undefined;
    }
    const token = query.get('id');
    if (token === null || token === '') {
      reply(target, 400, 'Connection ID required', cors);
      return undefined;
    }
    const connection = this.byToken.get(token);
    if (connection === undefined) {
      reply(target, 404, 'No Connection with that ID', cors);
      return undefined;
    }
    const claims = identity.kind === 'user' ? identity.claims : undefined;
    const bindingKey = claims === undefined ? undefined : bindingKeyOf(claims);
    if (bindingKey !== connection.user.bindingKey) {
      this.logger.warn('hub request refused: identity differs from the connection user', {
        connectionId: connection.connectionId,
      });
      reply(target, 403, IDENTITY_CHANGED, cors);
      return undefined;
    }
    return {
      connection,
      user: { claims, bindingKey, expiresAtMs: claims === undefined ? undefined : claims.exp * 1000 },
    };
  }

  private async connectionRequest(
    request: IncomingMessage,
    response: ServerResponse,
    query: URLSearchParams,
    cors: Record<string, string>,
  ): Promise<void> {
    const method = request.method ?? 'GET';
    if (method !== 'GET' && method !== 'POST' && method !== 'DELETE') {
      drain(request);
      respond(response, 405, 'Method not allowed.', cors);
      return;
    }
    const sse = method === 'GET' && (request.headers.accept ?? '').includes('text/event-stream');
    if (method !== 'POST') drain(request);
    const found = await this.lookup(request, query, response, cors, sse);
    if (found === undefined) {
      if (method === 'POST') drain(request);
      return;
    }
    const { connection } = found;
    if (method === 'POST') {
      await this.post(request, response, connection, cors);
      return;
    }
    if (method === 'DELETE') {
      if (connection.transport instanceof LongPollingTransport) {
        respond(response, 202, '', cors);
        connection.transport.terminate();
      } else {
        respond(response, 400, 'Cannot terminate this connection using the DELETE endpoint.', cors);
      }
      return;
    }
    const kind: TransportKind = sse ? 'ServerSentEvents' : 'LongPolling';
    if (!this.transports.has(kind)) {
      respond(response, 404, 'Transport not supported.', cors);
      return;
    }
    if (connection.transportKind !== undefined && connection.transportKind !== kind) {
      respond(response, 400, 'Cannot change transports mid-connection.', cors);
      return;
    }
    if (kind === 'ServerSentEvents') {
      if (connection.state !== 'negotiated') {
        respond(response, 409, 'Another active request is already using this connection.', cors);
        return;
      }
      connection.attach(new ServerSentEventsTransport(response, connection, cors));
      return;
    }
    if (connection.transport instanceof LongPollingTransport) {
      connection.transport.addPoll(response, cors);
      return;
    }
    if (connection.state !== 'negotiated') {
      respond(response, 404, 'No Connection with that ID', cors);
      return;
    }
    connection.attach(new LongPollingTransport({ pollTimeoutMs: this.longPollTimeoutMs }, connection));
    // The first poll answers at once: the client's start() waits for it.
    respond(response, 200, '', cors);
  }

  private async post(
    request: IncomingMessage,
    response: ServerResponse,
    connection: HttpConnection,
    cors: Record<string, string>,
  ): Promise<void> {
    if (connection.transportKind === 'WebSockets') {
      drain(request);
      respond(response, 405, 'POST requests are not allowed for WebSocket connections.', cors);
      return;
    }
    if (connection.state === 'closed' || connection.transport === undefined) {
      drain(request);
      respond(response, 404, 'No Connection with that ID', cors);
      return;
    }
    if (connection.posting) {
      drain(request);
      respond(response, 409, 'Another message is already being sent on this connection.', cors);
      return;
    }
    connection.posting = true;
    try {
      const body = await readBody(request, this.limits.maxFrameBytes);
      if (body === undefined) {
        respond(response, 413, 'Payload too large.', cors);
        connection.abort('oversized POST');
        return;
      }
      // Answered once the body is handled: the client sends its next body after this answer (back-pressure).
      const pending = connection.onData(body);
      if (pending !== undefined) await pending;
      respond(response, 200, '', cors);
    } finally {
      connection.posting = false;
    }
  }

  // ---- WebSockets ---------------------------------------------------------------------------------------------

  async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<boolean> {
    const target = requestTargetOf(request.url);
    if (target === undefined || hubEndpointOf(target.pathname, this.path) !== 'connection') return false;
    const query = target.query;
    this.logger.debug('hub upgrade', { url: redactUrl(request.url) });
    socket.on('error', () => undefined);
    if (!this.transports.has('WebSockets')) {
      reply(socket, 404, 'Transport not supported.', {});
      return true;
    }
    const origin = this.origins.check(request);
    if (origin.kind === 'refused') {
      this.logger.info('hub upgrade refused: origin not allowed', { origin: origin.origin });
      reply(socket, 403, '', {});
      return true;
    }
    try {
      const token = query.get('id');
      if (token === null) {
        // skipNegotiation: the connection starts with the upgrade.
        const identity = await authenticateRequest(request, query, true, this.options.authentication);
        const user = await this.admit(request, identity, socket, {}, origin);
        if (user === undefined) return true;
        this.wss.handleUpgrade(request, socket, head, (ws) => {
          const connection = this.createConnection(user, false);
          connection.attach(new WebSocketTransport(ws, connection, socket));
        });
        return true;
      }
      const found = await this.lookup(request, query, socket, {}, true);
      if (found === undefined) return true;
      const { connection, user } = found;
      if (connection.transportKind !== undefined && connection.transportKind !== 'WebSockets') {
        reply(socket, 400, 'Cannot change transports mid-connection.', {});
        return true;
      }
      if (
        user.claims !== undefined &&
        !(await satisfiesPolicy(this.hub.definition.policy, {
          connectionId: connection.connectionId,
          claims: user.claims,
          userIdentifier: undefined,
        }))
      ) {
        reply(socket, 403, '', {});
        return true;
      }
      const reattach =
        connection.stateful !== undefined &&
        (connection.state === 'connected' || connection.state === 'detached');
      if (connection.state !== 'negotiated' && !reattach) {
        reply(
          socket,
          connection.state === 'closed' ? 404 : 409,
          connection.state === 'closed'
            ? 'No Connection with that ID'
            : 'Another active request is already using this connection.',
          {},
        );
        return true;
      }
      this.wss.handleUpgrade(request, socket, head, (ws) => {
        const transport = new WebSocketTransport(ws, connection, socket);
        if (reattach) connection.reattach(transport, user);
        else connection.attach(transport);
      });
    } catch (error) {
      this.logger.error('hub upgrade failed', { error: error instanceof Error ? error.message : 'unknown' });
      reply(socket, 500, 'Internal server error.', {});
    }
    return true;
  }

  // ---- lifetime -----------------------------------------------------------------------------------------------

  private tick(): void {
    const now = Date.now();
    for (const connection of this.byToken.values()) connection.tick(now);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const connection of [...this.byToken.values()]) connection.close(undefined, false);
    this.byToken.clear();
    await this.runtime.stop();
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }
}

/**
 * Answers a request: an empty body with `content-length: 0` and no content type, or a text body labelled
 * `text/plain` (the hub sends no other kind of body this way).
 */
function respond(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent) return;
  response
    .writeHead(status, {
      ...headers,
      ...(body === ''
        ? { 'content-length': '0' }
        : { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) }),
    })
    .end(body);
}

function json(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string>,
): void {
  response.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Answers on a response, or on the raw socket of a refused upgrade. */
function reply(
  target: ServerResponse | Duplex,
  status: number,
  body: string,
  headers: Record<string, string>,
): void {
  if ('writeHead' in target) {
    respond(target, status, body, headers);
    return;
  }
  const lines = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`];
  const all = {
    ...headers,
    ...(body === '' ? {} : { 'content-type': 'text/plain; charset=utf-8' }),
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
  };
  for (const [name, value] of Object.entries(all)) lines.push(`${name}: ${value}`);
  target.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

function drain(request: IncomingMessage): void {
  request.resume();
}

/**
 * Reads a request body of at most `maxBytes`; `undefined` as soon as it is larger (the rest is read and dropped,
 * never kept).
 */
function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      if (size > maxBytes) return;
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      chunks = [];
      resolve(undefined);
    });
    request.on('end', () => {
      if (size <= maxBytes) resolve(Buffer.concat(chunks));
    });
    request.on('error', reject);
  });
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 1)
    throw new TypeError(`"${name}" must be a positive integer.`);
  return resolved;
}

function nonNegativeInteger(value: number | undefined, fallback: number, name: string): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 0) {
    throw new TypeError(`"${name}" must be a non-negative integer.`);
  }
  return resolved;
}
