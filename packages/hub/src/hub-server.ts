import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpConnectionManager } from './connection/connection-manager.js';
import { createGroupManager, createHubClients, type GroupManager, type HubClients } from './hub/clients.js';
import { HubConnectionHandler } from './hub/hub-connection-handler.js';
import { HubRuntime } from './hub/runtime.js';
import { RequestAdmission } from './http/admission.js';
import { HttpConnectionDispatcher } from './http/connection-dispatcher.js';
import { NegotiateEndpoint } from './http/negotiate.js';
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
}

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
  const runtime = new HubRuntime(
    hub,
    resolved.backplane,
    resolved.backplaneChannel,
    resolved.groupOperationTimeoutMs,
    resolved.maxGroupsPerClient,
    logger,
  );
  const clients = createHubClients(runtime);
  const connections = new HttpConnectionManager(
    { limits: resolved.connectionLimits, protocols: resolved.protocols, logger },
    new HubConnectionHandler(
      hub,
      runtime,
      clients,
      resolved.authentication,
      resolved.invocationLimits,
      logger,
    ),
  );
  const admission = new RequestAdmission(hub, resolved.authentication, logger);
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
    new NegotiateEndpoint(resolved, admission, connections),
    connections,
  );
  await runtime.start();
  return {
    path: resolved.path,
    clients,
    groups: createGroupManager(runtime),
    get connectionCount() {
      return runtime.connections.size;
    },
    handleRequest: (request, response) => dispatcher.handleRequest(request, response),
    handleUpgrade: (request, socket, head) => dispatcher.handleUpgrade(request, socket, head),
    async close() {
      connections.close();
      await runtime.stop();
      dispatcher.close();
    },
  };
}
