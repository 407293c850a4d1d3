import type { HubLogger } from '../logging.js';
import type { HubMetrics } from '../metrics.js';
import type { HubProtocol } from '../protocol/hub-protocol.js';
import {
  HttpConnection,
  type ConnectionHandler,
  type ConnectionLimits,
  type ConnectionUser,
} from './http-connection.js';

/**
 * How long the token of a closed Long Polling connection keeps answering polls with 204, in ms, so that the client
 * sees the end cleanly; then the token is unknown (404).
 *
 * @see TransportProtocols.md "Long Polling"
 */
export const CLOSED_LONG_POLL_GRACE_MS = 5000;

/** Shortest and longest interval of the heartbeat that runs the connections' timers, in ms. */
const MIN_TICK_MS = 20;
const MAX_TICK_MS = 1000;

/** What the connections of one hub share. */
export interface ConnectionManagerOptions {
  readonly limits: ConnectionLimits;
  /** The accepted hub protocols by handshake name. */
  readonly protocols: ReadonlyMap<string, HubProtocol>;
  readonly logger: HubLogger;
  /** The hub's counts, when it reports metrics. */
  readonly metrics?: HubMetrics;
}

/**
 * The live connections of one hub on this node, by connection token: creates them, finds them for the
 * connection dispatcher, runs their keep-alive, handshake, client and disconnect timers on one heartbeat, and
 * forgets a token as soon as its connection closes (a Long Polling one after {@link CLOSED_LONG_POLL_GRACE_MS}).
 * What a connection carries goes to `handler`, the hub's side.
 *
 * @see aspnetcore `Http.Connections/src/Internal/HttpConnectionManager.cs` for the shape
 */
export class HttpConnectionManager implements ConnectionHandler {
  private readonly byToken = new Map<string, HttpConnection>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly options: ConnectionManagerOptions,
    private readonly handler: ConnectionHandler,
  ) {
    const { keepAliveIntervalMs, handshakeTimeoutMs, clientTimeoutMs } = options.limits;
    const tickMs = Math.max(
      MIN_TICK_MS,
      Math.min(MAX_TICK_MS, keepAliveIntervalMs / 2, handshakeTimeoutMs / 2, clientTimeoutMs / 4),
    );
    this.heartbeat = setInterval(() => {
      this.tick();
    }, tickMs);
    this.heartbeat.unref();
  }

  /**
   * A new connection bound to `user`, findable by its token from now on.
   *
   * @param stateful the negotiate asked for stateful reconnect and the hub allows it
   */
  create(user: ConnectionUser, stateful: boolean): HttpConnection {
    const { protocols, limits, logger, metrics } = this.options;
    const connection = new HttpConnection(user, stateful, protocols, limits, this, logger, metrics);
    this.byToken.set(connection.connectionToken, connection);
    return connection;
  }

  /** The connection whose token is `connectionToken` (the `id` of a request), if it is live. */
  get(connectionToken: string): HttpConnection | undefined {
    return this.byToken.get(connectionToken);
  }

  onHandshake(connection: HttpConnection): void {
    const { metrics } = this.options;
    if (metrics !== undefined && connection.transportKind !== undefined)
      metrics.connections[connection.transportKind]++;
    this.handler.onHandshake(connection);
  }

  onMessage(
    connection: HttpConnection,
    message: Parameters<ConnectionHandler['onMessage']>[1],
  ): Promise<void> | undefined {
    return this.handler.onMessage(connection, message);
  }

  onClosed(connection: HttpConnection, reason: string | undefined): void {
    const { metrics } = this.options;
    // A protocol is chosen by a successful handshake only: the connections counted by onHandshake.
    if (metrics !== undefined && connection.protocol !== undefined && connection.transportKind !== undefined)
      metrics.connections[connection.transportKind]--;
    this.handler.onClosed(connection, reason);
    if (connection.transportKind === 'LongPolling') {
      setTimeout(() => {
        if (this.byToken.get(connection.connectionToken) === connection)
          this.byToken.delete(connection.connectionToken);
      }, CLOSED_LONG_POLL_GRACE_MS).unref();
    } else {
      this.byToken.delete(connection.connectionToken);
    }
    this.options.logger.debug('hub connection ended', { connectionId: connection.connectionId, reason });
  }

  /** Stops the heartbeat and closes every connection (Close message without reconnect); tokens die at once. */
  close(): void {
    clearInterval(this.heartbeat);
    for (const connection of [...this.byToken.values()]) connection.close(undefined, false);
    this.byToken.clear();
  }

  /**
   * Ends every connection for a graceful shutdown: an open one gets a Close message with `allowReconnect: true`
   * (its transport then closes: the WebSocket closing handshake, the last poll or the event stream), a negotiated
   * one without a transport yet is ended at once. Tokens die at once, but those of Long Polling connections,
   * which keep answering until {@link close} so that their clients read the Close and end cleanly.
   *
   * @returns how many Long Polling connections were closed
   * @see HubProtocol.md "Close Message"
   */
  closeAllowingReconnect(): number {
    let longPolling = 0;
    for (const connection of [...this.byToken.values()]) {
      if (connection.open) {
        if (connection.transportKind === 'LongPolling') longPolling++;
        connection.close(undefined, true);
      } else connection.abort('the hub is shutting down');
    }
    return longPolling;
  }

  private tick(): void {
    const now = Date.now();
    for (const connection of this.byToken.values()) connection.tick(now);
  }
}
