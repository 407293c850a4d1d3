import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpConnectionManager } from './connection/connection-manager.js';
import { hubEndpointOf, requestTargetOf } from './hub-path.js';
import { createGroupManager, createHubClients, type GroupManager, type HubClients } from './hub/clients.js';
import { HubConnectionHandler } from './hub/hub-connection-handler.js';
import { HubRuntime } from './hub/runtime.js';
import { RequestAdmission } from './http/admission.js';
import { HttpConnectionDispatcher } from './http/connection-dispatcher.js';
import { ConnectionRelay } from './http/connection-relay.js';
import { NegotiateEndpoint } from './http/negotiate.js';
import { refusalOf, reply } from './http/responses.js';
import { createHubMetrics, releaseHubMetrics } from './metrics.js';
import type { HubServerOptions } from './options/hub-server-options.js';
import { resolveHubServerOptions } from './options/resolve.js';

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
  /**
   * Graceful shutdown: from now on negotiate and upgrade requests are answered 503 with `Retry-After: 0` (a
   * balancer sends the client to another node), every open connection gets a Close message with
   * `allowReconnect: true` (a `@microsoft/signalr` client with `withAutomaticReconnect()` reconnects, through the
   * balancer, to another node), and once the WebSockets have ended, or after `graceMs`, the hub closes as
   * {@link close} does. With Long Polling connections it waits the whole `graceMs`: their tokens keep answering
   * so that the clients read the Close from a poll and end cleanly.
   *
   * @param graceMs how long to wait for the clients to close their transports, in ms (default 5000)
   * @see HubProtocol.md "Close Message"
   */
  drain(graceMs?: number): Promise<void>;
}

/** How long {@link HubServer.drain} waits for clients to close their transports by default, in ms. */
export const DEFAULT_DRAIN_GRACE_MS = 5000;

/** The answer to a hub request while the hub drains. */
const SHUTTING_DOWN = 'The hub is shutting down.';

/**
 * Creates a hub server and subscribes it to its backplane.
 *
 * The parts, in request order: the connection dispatcher (origin, CORS, routing), the negotiate endpoint, the
 * request admission (authentication, policy), the connection manager (connection tokens, timers) and the hub's
 * connection handler (invocations). Options are resolved once, with the named defaults of `options/defaults.ts`.
 *
 * @throws TypeError for an invalid configuration: no authentication on a hub that does not allow anonymous
 *   callers, cookie authentication without an origin allow-list, an invalid origin, a path without a leading `/`,
 *   a limit that is not an integer (or not positive where a zero makes no sense), `maxFrameBytes` below
 *   `maxMessageBytes` plus the handshake and framing.
 * @see docs/hub.md
 */
export async function createHubServer(options: HubServerOptions): Promise<HubServer> {
  const resolved = resolveHubServerOptions(options);
  const { hub, logger } = resolved;
  const registry = options.metricsRegistry;
  const metrics = registry === undefined ? undefined : createHubMetrics(registry, resolved.path);
  const runtime = new HubRuntime(
    hub,
    resolved.backplane,
    resolved.backplaneChannel,
    resolved.groupOperationTimeoutMs,
    resolved.maxGroupsPerClient,
    logger,
    resolved.invocationLimits.clientResultTimeoutMs,
  );
  const clients = createHubClients(runtime);
  const connections = new HttpConnectionManager(
    { limits: resolved.connectionLimits, protocols: resolved.protocols, logger, metrics },
    new HubConnectionHandler(
      hub,
      runtime,
      clients,
      resolved.authentication,
      resolved.invocationLimits,
      logger,
      metrics,
    ),
  );
  const admission = new RequestAdmission(hub, resolved.authentication, logger);
  // No sticky sessions: with a connection directory on the backplane, any node serves any connection's requests.
  const directory = resolved.backplane?.directory;
  const relay =
    resolved.backplane === undefined || directory === undefined
      ? undefined
      : new ConnectionRelay({
          backplane: resolved.backplane,
          directory,
          channel: resolved.backplaneChannel,
          nodeId: runtime.nodeId,
          isLocal: (connectionToken) => connections.get(connectionToken) !== undefined,
          logger,
        });
  const dispatcher = new HttpConnectionDispatcher(
    {
      path: resolved.path,
      hub,
      origins: resolved.origins,
      transports: resolved.transports,
      maxFrameBytes: resolved.connectionLimits.maxFrameBytes,
      longPollTimeoutMs: resolved.longPollTimeoutMs,
      logger,
    },
    admission,
    new NegotiateEndpoint(resolved, admission, connections, relay),
    connections,
    relay,
  );
  await runtime.start();
  await relay?.start();
  let draining = false;
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      connections.close();
      await runtime.stop();
      await relay?.stop();
      dispatcher.close();
      if (registry !== undefined && metrics !== undefined) releaseHubMetrics(registry, metrics);
    })());
  /**
   * While draining, answers 503 to negotiate and to every upgrade (polls and sends of open connections go on: a
   * Long Polling client reads its Close from a poll); counts what the dispatcher refused.
   */
  const handled = async (
    request: IncomingMessage,
    answer: ServerResponse | Duplex,
    handle: () => Promise<boolean>,
  ): Promise<boolean> => {
    if (draining) {
      const target = requestTargetOf(request.url);
      const endpoint = target === undefined ? undefined : hubEndpointOf(target.pathname, resolved.path);
      if (endpoint === undefined) return false;
      if (endpoint !== 'negotiate' && 'writeHead' in answer) return handle();
      request.resume();
      metrics?.refusal('shuttingDown');
      reply(answer, 503, SHUTTING_DOWN, { 'retry-after': '0' });
      return true;
    }
    const result = await handle();
    if (metrics !== undefined) {
      const reason = refusalOf(answer);
      if (reason !== undefined) metrics.refusal(reason);
    }
    return result;
  };
  relay?.serve({
    handleRequest: (request, response) =>
      handled(request, response, () => dispatcher.handleRequest(request, response)),
    handleUpgrade: (request, socket, head) =>
      handled(request, socket, () => dispatcher.handleUpgrade(request, socket, head)),
  });
  return {
    path: resolved.path,
    clients,
    groups: createGroupManager(runtime),
    get connectionCount() {
      return runtime.connections.size;
    },
    handleRequest: (request, response) =>
      handled(request, response, () => dispatcher.handleRequest(request, response)),
    handleUpgrade: (request, socket, head) =>
      handled(request, socket, () => dispatcher.handleUpgrade(request, socket, head)),
    close,
    async drain(graceMs = DEFAULT_DRAIN_GRACE_MS) {
      if (closed !== undefined) return closed;
      draining = true;
      logger.info('hub draining', { path: resolved.path, connections: runtime.connections.size });
      const longPolling = connections.closeAllowingReconnect();
      // The WebSockets' closing handshakes (a client answers at once; the rest are cut by close()); Long Polling
      // clients read their Close from a poll, then DELETE: their tokens answer for the whole grace period.
      const deadline = Date.now() + graceMs;
      while ((longPolling > 0 || dispatcher.openSockets > 0) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      return close();
    },
  };
}
