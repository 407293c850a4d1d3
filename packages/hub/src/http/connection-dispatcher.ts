import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { HttpConnectionManager } from '../connection/connection-manager.js';
import type { ConnectionUser, HttpConnection } from '../connection/http-connection.js';
import type { ResolvedHub } from '../hub/definition.js';
import { hubEndpointOf, requestTargetOf } from '../hub-path.js';
import { redactUrl, type HubLogger } from '../logging.js';
import { bindingKeyOf } from '../security/authentication.js';
import { OriginPolicy } from '../security/origin.js';
import { satisfiesPolicy } from '../security/policy.js';
import { LongPollingTransport } from '../transports/long-polling.js';
import { ServerSentEventsTransport } from '../transports/server-sent-events.js';
import type { TransportKind } from '../transports/transport.js';
import { WebSocketTransport } from '../transports/websockets.js';
import type { RequestAdmission } from './admission.js';
import type { ConnectionRelay } from './connection-relay.js';
import type { NegotiateEndpoint } from './negotiate.js';
import { drain, readBody, refuse, respond, type AnswerTarget, type ResponseHeaders } from './responses.js';

/** Request headers a cross-origin page may send (the official client's), answered in a CORS preflight. */
const PREFLIGHT_ALLOWED_HEADERS: readonly string[] = [
  'authorization',
  'content-type',
  'x-requested-with',
  'x-signalr-user-agent',
];
/** How long a browser may cache a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** What the dispatcher routes to and enforces. */
export interface ConnectionDispatcherSettings {
  /** The hub's URL path. */
  readonly path: string;
  readonly hub: ResolvedHub;
  readonly origins: OriginPolicy;
  readonly transports: ReadonlySet<TransportKind>;
  /** Largest WebSocket frame or POST body, in bytes. */
  readonly maxFrameBytes: number;
  /** How long a long poll waits for data, in ms. */
  readonly longPollTimeoutMs: number;
  readonly logger: HubLogger;
}

/**
 * The HTTP side of one hub: checks the origin, answers CORS preflights, hands `{path}/negotiate` to the
 * negotiate endpoint and routes every request on `{path}?id=` (WebSocket upgrade, Server-Sent Events GET, poll,
 * POST, DELETE) to the transport of its connection, after checking that its caller is the connection's user.
 * Refusals come from the catalogue (`docs/hub-protocol.md` "HTTP refusals").
 *
 * @see TransportProtocols.md; aspnetcore `Http.Connections/src/Internal/HttpConnectionDispatcher.cs` for the shape
 */
export class HttpConnectionDispatcher {
  private readonly wss: WebSocketServer;

  constructor(
    private readonly settings: ConnectionDispatcherSettings,
    private readonly admission: RequestAdmission,
    private readonly negotiate: NegotiateEndpoint,
    private readonly connections: HttpConnectionManager,
    /** Relays requests for connections of other nodes (a backplane with a connection directory). */
    private readonly relay?: ConnectionRelay,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: settings.maxFrameBytes,
      perMessageDeflate: false,
    });
  }

  /** Handles a request if its path is the hub's; resolves `false` (and leaves the response alone) otherwise. */
  async handleRequest(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const target = requestTargetOf(request.url);
    const endpoint = target === undefined ? undefined : hubEndpointOf(target.pathname, this.settings.path);
    if (target === undefined || endpoint === undefined) return false;
    const { logger } = this.settings;
    logger.debug('hub request', { method: request.method, url: redactUrl(request.url) });
    const origin = this.settings.origins.check(request);
    if (origin.kind === 'refused') {
      logger.info('hub request refused: origin not allowed', { origin: origin.origin });
      drain(request);
      refuse(response, 'originNotAllowed', {});
      return true;
    }
    const cors = OriginPolicy.corsHeaders(origin);
    try {
      if (request.method === 'OPTIONS') {
        preflight(request, response, cors);
      } else if (endpoint === 'negotiate') {
        if (request.method === 'POST')
          await this.negotiate.handle(request, response, target.query, origin, cors);
        else refuse(response, 'methodNotAllowed', cors);
      } else {
        await this.connectionRequest(request, response, target.query, cors);
      }
    } catch (error) {
      logger.error('hub request failed', {
        url: redactUrl(request.url),
        error: error instanceof Error ? error.message : 'unknown',
      });
      if (!response.headersSent) refuse(response, 'internalError', cors);
      else response.destroy();
    }
    return true;
  }

  /** Handles an `upgrade` if its path is the hub's; resolves `false` (socket untouched) otherwise. */
  async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<boolean> {
    const target = requestTargetOf(request.url);
    if (target === undefined || hubEndpointOf(target.pathname, this.settings.path) !== 'connection')
      return false;
    const { query } = target;
    const { logger } = this.settings;
    logger.debug('hub upgrade', { url: redactUrl(request.url) });
    socket.on('error', ignoreSocketError);
    if (!this.settings.transports.has('WebSockets')) {
      refuse(socket, 'transportNotSupported', {});
      return true;
    }
    const origin = this.settings.origins.check(request);
    if (origin.kind === 'refused') {
      logger.info('hub upgrade refused: origin not allowed', { origin: origin.origin });
      refuse(socket, 'originNotAllowed', {});
      return true;
    }
    try {
      if (query.get('id') === null) {
        // skipNegotiation: the connection starts with the upgrade.
        const user = await this.admission.admit(request, query, true, origin, socket, {});
        if (user === undefined) return true;
        this.wss.handleUpgrade(request, socket, head, (ws) => {
          const connection = this.connections.create(user, false);
          connection.attach(new WebSocketTransport(ws, connection, socket));
        });
        return true;
      }
      const token = query.get('id') ?? '';
      if (
        this.relay !== undefined &&
        token !== '' &&
        (await this.relay.forwardUpgrade(request, socket, head, token))
      )
        return true;
      await this.upgradeConnection(request, socket, head, query);
    } catch (error) {
      logger.error('hub upgrade failed', { error: error instanceof Error ? error.message : 'unknown' });
      refuse(socket, 'internalError', {});
    }
    return true;
  }

  /** WebSockets not yet closed (their closing handshake included). */
  get openSockets(): number {
    return this.wss.clients.size;
  }

  /** Ends every WebSocket at once and stops accepting upgrades. */
  close(): void {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }

  /** An upgrade for a negotiated connection, or a stateful reconnect of a connection whose socket dropped. */
  private async upgradeConnection(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    query: URLSearchParams,
  ): Promise<void> {
    const found = await this.lookup(request, query, socket, {}, true);
    if (found === undefined) return;
    const { connection, user } = found;
    if (connection.transportKind !== undefined && connection.transportKind !== 'WebSockets') {
      refuse(socket, 'transportChanged', {});
      return;
    }
    if (
      user.claims !== undefined &&
      !(await satisfiesPolicy(this.settings.hub.definition.policy, {
        connectionId: connection.connectionId,
        claims: user.claims,
        userIdentifier: undefined,
      }))
    ) {
      refuse(socket, 'policyNotSatisfied', {});
      return;
    }
    const reattach =
      connection.stateful !== undefined &&
      (connection.state === 'connected' || connection.state === 'detached');
    if (connection.state !== 'negotiated' && !reattach) {
      refuse(socket, connection.state === 'closed' ? 'connectionNotFound' : 'connectionInUse', {});
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      const transport = new WebSocketTransport(ws, connection, socket);
      if (reattach) connection.reattach(transport, user);
      else connection.attach(transport);
    });
  }

  /**
   * Finds the connection of `?id=` for its user, or answers the refusal: `authenticationFailed`,
   * `connectionIdRequired`, `connectionNotFound`, `identityChanged`.
   */
  private async lookup(
    request: IncomingMessage,
    query: URLSearchParams,
    target: AnswerTarget,
    cors: ResponseHeaders,
    allowQueryToken: boolean,
  ): Promise<{ connection: HttpConnection; user: ConnectionUser } | undefined> {
    const caller = await this.admission.authenticateConnectionRequest(
      request,
      query,
      allowQueryToken,
      target,
      cors,
    );
    if (caller === undefined) return undefined;
    const token = query.get('id');
    if (token === null || token === '') {
      refuse(target, 'connectionIdRequired', cors);
      return undefined;
    }
    const connection = this.connections.get(token);
    if (connection === undefined) {
      refuse(target, 'connectionNotFound', cors);
      return undefined;
    }
    const { claims } = caller;
    const bindingKey = claims === undefined ? undefined : bindingKeyOf(claims);
    if (bindingKey !== connection.user.bindingKey) {
      this.settings.logger.warn('hub request refused: identity differs from the connection user', {
        connectionId: connection.connectionId,
      });
      refuse(target, 'identityChanged', cors);
      return undefined;
    }
    return {
      connection,
      user: { claims, bindingKey, expiresAtMs: claims === undefined ? undefined : claims.exp * 1000 },
    };
  }

  /** GET (Server-Sent Events or a poll), POST or DELETE on `{path}?id=`. */
  private async connectionRequest(
    request: IncomingMessage,
    response: ServerResponse,
    query: URLSearchParams,
    cors: ResponseHeaders,
  ): Promise<void> {
    const method = request.method ?? 'GET';
    if (method !== 'GET' && method !== 'POST' && method !== 'DELETE') {
      drain(request);
      refuse(response, 'methodNotAllowed', cors);
      return;
    }
    const token = query.get('id') ?? '';
    if (
      this.relay !== undefined &&
      token !== '' &&
      (await this.relay.forwardRequest(request, response, token, cors))
    )
      return;
    const sse = method === 'GET' && (request.headers.accept ?? '').includes('text/event-stream');
    if (method !== 'POST') drain(request);
    const found = await this.lookup(request, query, response, cors, sse);
    if (found === undefined) {
      if (method === 'POST') drain(request);
      return;
    }
    const { connection } = found;
    if (method === 'POST') await this.send(request, response, connection, cors);
    else if (method === 'DELETE') terminate(response, connection, cors);
    else this.receive(response, connection, sse ? 'ServerSentEvents' : 'LongPolling', cors);
  }

  /** A GET: the Server-Sent Events stream, the first poll (answered at once) or a later poll. */
  private receive(
    response: ServerResponse,
    connection: HttpConnection,
    kind: 'ServerSentEvents' | 'LongPolling',
    cors: ResponseHeaders,
  ): void {
    if (!this.settings.transports.has(kind)) {
      refuse(response, 'transportNotSupported', cors);
      return;
    }
    if (connection.transportKind !== undefined && connection.transportKind !== kind) {
      refuse(response, 'transportChanged', cors);
      return;
    }
    if (kind === 'ServerSentEvents') {
      if (connection.state !== 'negotiated') {
        refuse(response, 'connectionInUse', cors);
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
      refuse(response, 'connectionNotFound', cors);
      return;
    }
    connection.attach(
      new LongPollingTransport({ pollTimeoutMs: this.settings.longPollTimeoutMs }, connection),
    );
    // The first poll answers at once: the client's start() waits for it.
    respond(response, 200, '', cors);
  }

  /** A POST: client → server data on Server-Sent Events and Long Polling. */
  private async send(
    request: IncomingMessage,
    response: ServerResponse,
    connection: HttpConnection,
    cors: ResponseHeaders,
  ): Promise<void> {
    if (connection.transportKind === 'WebSockets') {
      drain(request);
      refuse(response, 'postOnWebSocket', cors);
      return;
    }
    if (connection.state === 'closed' || connection.transport === undefined) {
      drain(request);
      refuse(response, 'connectionNotFound', cors);
      return;
    }
    if (connection.posting) {
      drain(request);
      refuse(response, 'sendInProgress', cors);
      return;
    }
    connection.posting = true;
    try {
      const body = await readBody(request, this.settings.maxFrameBytes);
      if (body === undefined) {
        refuse(response, 'payloadTooLarge', cors);
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
}

/** A DELETE: ends a Long Polling connection (202, its pending poll 204); other transports cannot be ended so. */
function terminate(response: ServerResponse, connection: HttpConnection, cors: ResponseHeaders): void {
  if (connection.transport instanceof LongPollingTransport) {
    respond(response, 202, '', cors);
    connection.transport.terminate();
  } else {
    refuse(response, 'deleteNotSupported', cors);
  }
}

/** Answers a CORS preflight: the methods and the requested headers the hub accepts, for allowed origins only. */
function preflight(request: IncomingMessage, response: ServerResponse, cors: ResponseHeaders): void {
  if (Object.keys(cors).length === 0) {
    respond(response, 204, '');
    return;
  }
  const requested = request.headers['access-control-request-headers'] ?? '';
  const allowedHeaders = requested
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => PREFLIGHT_ALLOWED_HEADERS.includes(name));
  response
    .writeHead(204, {
      ...cors,
      'access-control-allow-methods': 'GET, POST, DELETE',
      'access-control-allow-headers': allowedHeaders.join(', '),
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
    })
    .end();
}

/** The one 'error' listener of every upgraded socket: no closure per connection (the transport reports the end). */
function ignoreSocketError(): void {
  // 'close' follows.
}
