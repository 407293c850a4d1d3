import { createHash } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import type { Backplane, ConnectionDirectory } from '../backplane/backplane.js';
import { TunnelEndpoint, TunnelSocket } from '../backplane/tunnel.js';
import type { HubLogger } from '../logging.js';
import { refuse, type ResponseHeaders } from './responses.js';

/** How long a directory entry lives without a refresh, in ms (a node that died stops refreshing its entries). */
export const DIRECTORY_TTL_MS = 60_000;
/** How often a node refreshes the entries of its live connections and forgets those that ended, in ms. */
const DIRECTORY_REFRESH_MS = 20_000;
/** Entries refreshed per Redis pipeline. */
const DIRECTORY_BATCH = 1000;
/** How long a directory read or write may take before the node goes on without it, in ms. */
const DIRECTORY_TIMEOUT_MS = 2000;
/** How long a relayed request waits for the connection's node to accept it, in ms; then 404 (that node is gone). */
export const RELAY_ACCEPT_TIMEOUT_MS = 5000;

/** Headers of one hop only (RFC 9110 §7.6.1), never relayed on an HTTP exchange. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

/** What the node's own hub answers with: the relayed requests are served exactly as if they had come here. */
export interface RelayedRequestHandlers {
  handleRequest(request: IncomingMessage, response: ServerResponse): Promise<boolean>;
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<boolean>;
}

/** What a relay needs. */
export interface ConnectionRelaySettings {
  readonly backplane: Backplane;
  readonly directory: ConnectionDirectory;
  /** The hub's backplane channel; the node's own channel is `{channel}:node:{nodeId}`. */
  readonly channel: string;
  readonly nodeId: string;
  /** Whether the connection of `connectionToken` lives on this node. */
  readonly isLocal: (connectionToken: string) => boolean;
  readonly logger: HubLogger;
}

/**
 * No sticky sessions: any node serves any request of a negotiated connection. Negotiate records the connection's
 * node in the shared directory under a hash of its connection token (the token itself is not stored); a node that
 * gets a request (poll, Server-Sent Events, send, DELETE, WebSocket upgrade or stateful re-attach) for a token it
 * does not hold looks up the owner and relays the whole HTTP exchange, bytes unchanged, through a tunnel on the
 * backplane. The owner serves it with its own dispatcher as if the client had come to it: origin, token
 * validation, the connection's user binding, policy and every refusal run where the connection lives, on the
 * client's own headers. A relayed request is never relayed again.
 *
 * @see docs/hub.md "Scale-out"
 */
export class ConnectionRelay {
  private readonly tunnels: TunnelEndpoint;
  /** Serves the tunnels other nodes open; it listens on no port. */
  private readonly server: Server;
  /** Connection tokens this node recorded in the directory. */
  private readonly registered = new Set<string>();
  private refresh: NodeJS.Timeout | undefined;
  private handlers: RelayedRequestHandlers | undefined;

  constructor(private readonly settings: ConnectionRelaySettings) {
    const { logger } = settings;
    this.server = createServer({ requestTimeout: 0, headersTimeout: 0, keepAliveTimeout: 0 }, (req, res) => {
      void this.handlers?.handleRequest(req, res).then((handled) => {
        if (!handled) res.writeHead(404, { 'content-length': '0' }).end();
      });
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.handlers?.handleUpgrade(req, socket, head).then((handled) => {
        if (!handled) socket.destroy();
      });
    });
    this.server.on('clientError', (_error, socket: Duplex) => {
      socket.destroy();
    });
    this.tunnels = new TunnelEndpoint(settings.backplane, settings.channel, settings.nodeId, (socket) => {
      logger.debug('hub request relayed from another node', { node: socket.peer });
      this.server.emit('connection', socket);
    });
  }

  /** Sets what serves relayed requests (the hub's own request and upgrade handlers). */
  serve(handlers: RelayedRequestHandlers): void {
    this.handlers = handlers;
  }

  /** Subscribes to the node's channel and starts refreshing the directory. */
  async start(): Promise<void> {
    await this.tunnels.start();
    this.refresh = setInterval(() => {
      void this.refreshDirectory();
    }, DIRECTORY_REFRESH_MS);
    this.refresh.unref();
  }

  /** Ends the tunnels, leaves the channel and forgets this node's directory entries. */
  async stop(): Promise<void> {
    clearInterval(this.refresh);
    await this.tunnels.stop();
    const keys = [...this.registered].map(hashOf);
    this.registered.clear();
    await bounded(this.settings.directory.delete(keys)).catch(() => undefined);
  }

  /**
   * Records that a connection just negotiated lives on this node. Resolves once the directory has it (or could not
   * be written: the connection then works only for requests that reach this node, and a warning is logged).
   */
  async register(connectionToken: string): Promise<void> {
    this.registered.add(connectionToken);
    try {
      await bounded(
        this.settings.directory.set([hashOf(connectionToken)], this.settings.nodeId, DIRECTORY_TTL_MS),
      );
    } catch (error) {
      this.settings.logger.warn('hub connection directory not written', {
        reason: error instanceof Error ? error.message : 'unknown',
      });
    }
  }

  /**
   * Relays a GET, POST or DELETE on `{path}?id=` to the node of its connection when that is another node, and
   * streams the answer back (a Server-Sent Events stream as it goes).
   *
   * @returns false when the request is to be served here (a local or unknown token, or a relayed request).
   */
  async forwardRequest(
    request: IncomingMessage,
    response: ServerResponse,
    connectionToken: string,
    cors: ResponseHeaders,
  ): Promise<boolean> {
    const peer = await this.ownerOf(connectionToken, request.socket);
    if (peer === undefined) return false;
    const tunnel = this.open(peer);
    const outgoing = httpRequest({
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      headers: { ...relayedHeaders(request.rawHeaders), connection: 'close' },
      createConnection: () => tunnel,
    });
    outgoing.on('response', (incoming) => {
      response.writeHead(incoming.statusCode ?? 502, relayedHeaders(incoming.rawHeaders));
      response.flushHeaders();
      response.socket?.setNoDelay(true);
      incoming.on('error', () => response.destroy());
      incoming.on('aborted', () => response.destroy());
      incoming.pipe(response);
    });
    outgoing.on('error', () => {
      if (!response.headersSent) refuse(response, 'connectionNotFound', cors);
      else response.destroy();
    });
    response.on('close', () => {
      outgoing.destroy();
    });
    request.pipe(outgoing);
    return true;
  }

  /**
   * Relays a WebSocket upgrade (a first connect or a stateful re-attach) to the node of its connection when that
   * is another node; the socket's bytes then flow through the tunnel both ways until either end closes.
   *
   * @returns false when the upgrade is to be served here.
   */
  async forwardUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    connectionToken: string,
  ): Promise<boolean> {
    const peer = await this.ownerOf(connectionToken, socket);
    if (peer === undefined) return false;
    const tunnel = this.open(peer);
    let accepted = false;
    tunnel.once('accepted', () => {
      accepted = true;
    });
    tunnel.on('error', () => undefined);
    tunnel.on('close', () => {
      if (!accepted && !socket.destroyed) refuse(socket, 'connectionNotFound', {});
      else socket.destroy();
    });
    socket.on('close', () => {
      tunnel.destroy();
    });
    const lines = [`${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/1.1`];
    for (let index = 0; index + 1 < request.rawHeaders.length; index += 2) {
      lines.push(`${request.rawHeaders[index] ?? ''}: ${request.rawHeaders[index + 1] ?? ''}`);
    }
    tunnel.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) tunnel.write(head);
    tunnel.pipe(socket);
    socket.pipe(tunnel);
    return true;
  }

  /** A tunnel to `peer`, destroyed when the peer does not accept it in time. */
  private open(peer: string): TunnelSocket {
    const tunnel = this.tunnels.open(peer);
    const timer = setTimeout(() => {
      this.settings.logger.warn('hub relay: the connection node did not answer', { node: peer });
      tunnel.destroy(new Error('the connection node did not answer'));
    }, RELAY_ACCEPT_TIMEOUT_MS);
    tunnel.once('accepted', () => {
      clearTimeout(timer);
    });
    tunnel.once('close', () => {
      clearTimeout(timer);
    });
    return tunnel;
  }

  /** The node holding `connectionToken` when it is another node and the request did not come through a tunnel. */
  private async ownerOf(connectionToken: string, via: Duplex | null): Promise<string | undefined> {
    if (via instanceof TunnelSocket || this.settings.isLocal(connectionToken)) return undefined;
    let node: string | undefined;
    try {
      node = await bounded(this.settings.directory.get(hashOf(connectionToken)));
    } catch (error) {
      this.settings.logger.warn('hub connection directory not read', {
        reason: error instanceof Error ? error.message : 'unknown',
      });
      return undefined;
    }
    return node === undefined || node === this.settings.nodeId ? undefined : node;
  }

  /** Refreshes the entries of live connections and forgets the ended ones. */
  private async refreshDirectory(): Promise<void> {
    const live: string[] = [];
    const ended: string[] = [];
    for (const token of this.registered) {
      if (this.settings.isLocal(token)) live.push(hashOf(token));
      else {
        this.registered.delete(token);
        ended.push(hashOf(token));
      }
    }
    const { directory, nodeId, logger } = this.settings;
    try {
      for (let index = 0; index < live.length; index += DIRECTORY_BATCH) {
        await bounded(directory.set(live.slice(index, index + DIRECTORY_BATCH), nodeId, DIRECTORY_TTL_MS));
      }
      for (let index = 0; index < ended.length; index += DIRECTORY_BATCH) {
        await bounded(directory.delete(ended.slice(index, index + DIRECTORY_BATCH)));
      }
    } catch (error) {
      logger.warn('hub connection directory not refreshed', {
        reason: error instanceof Error ? error.message : 'unknown',
      });
    }
  }
}

/** The directory key of a connection token: SHA-256, base64url (a directory dump yields no usable token). */
function hashOf(connectionToken: string): string {
  return createHash('sha256').update(connectionToken).digest('base64url');
}

/** The end-to-end headers of a raw header list, as one object (repeated names joined, set-cookie kept apart). */
function relayedHeaders(raw: readonly string[]): OutgoingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = (raw[index] ?? '').toLowerCase();
    const value = raw[index + 1] ?? '';
    if (HOP_BY_HOP.has(name)) continue;
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else headers[name] = name === 'set-cookie' ? [previous, value] : `${previous}, ${value}`;
  }
  return headers;
}

/** `promise`, or a rejection once {@link DIRECTORY_TIMEOUT_MS} has passed (a stalled Redis must not hang requests). */
function bounded<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error('the connection directory did not answer in time'));
    }, DIRECTORY_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}
