import type { ConnectionHandler, HttpConnection } from '../connection/http-connection.js';
import type { HubLogger } from '../logging.js';
import type { HubMetrics } from '../metrics.js';
import { defaultUserIdentifier, type HubAuthenticationOptions } from '../security/authentication.js';
import type { HubClients } from './clients.js';
import type { ResolvedHub } from './definition.js';
import { InvocationDispatcher, type InvocationLimits } from './invocation-dispatcher.js';
import type { HubRuntime } from './runtime.js';

/**
 * The hub's side of its connections: once a connection's handshake is done it gets an invocation dispatcher,
 * which receives its messages until the connection closes.
 *
 * @see aspnetcore `SignalR/server/Core/src/HubConnectionHandler.cs` for the shape
 */
export class HubConnectionHandler implements ConnectionHandler {
  private readonly dispatchers = new Map<HttpConnection, InvocationDispatcher>();

  constructor(
    private readonly hub: ResolvedHub,
    private readonly runtime: HubRuntime,
    private readonly clients: HubClients,
    private readonly authentication: HubAuthenticationOptions | undefined,
    private readonly invocationLimits: InvocationLimits,
    private readonly logger: HubLogger,
    /** The hub's counts, when it reports metrics. */
    private readonly metrics?: HubMetrics,
  ) {}

  onHandshake(connection: HttpConnection): void {
    const claims = connection.user.claims;
    const userIdentifier =
      claims === undefined
        ? undefined
        : (this.authentication?.userIdentifier ?? defaultUserIdentifier)(claims);
    const dispatcher = new InvocationDispatcher(
      connection,
      this.hub,
      this.runtime,
      this.clients,
      userIdentifier,
      this.invocationLimits,
      this.logger,
      this.metrics,
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
  }
}
