import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  HttpTransportType,
  HubConnectionBuilder,
  LogLevel,
  type HubConnection,
  type IHttpConnectionOptions,
} from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { attachHubs, createHubServer, type HubServer, type HubServerOptions } from '@tessera/hub';

/** A hub on a plain HTTP server on 127.0.0.1. */
export interface RunningHub {
  readonly hub: HubServer;
  readonly server: Server;
  /** `http://127.0.0.1:{port}{path}` */
  readonly url: string;
  readonly origin: string;
  close(): Promise<void>;
}

export async function startHub(options: HubServerOptions): Promise<RunningHub> {
  const hub = await createHubServer(options);
  const server = createServer();
  attachHubs(server, [hub]);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    hub,
    server,
    url: `${origin}${options.path}`,
    origin,
    async close() {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}

/** How a test client connects; the transport is always forced (the client silently falls back otherwise). */
export interface ClientOptions {
  readonly transport: 'WebSockets' | 'ServerSentEvents' | 'LongPolling';
  readonly protocol?: 'json' | 'messagepack';
  readonly token?: () => string | Promise<string>;
  readonly skipNegotiation?: boolean;
  readonly stateful?: boolean;
  readonly automaticReconnect?: number[];
  /** Extra headers on every request and the WebSocket upgrade (Node only), e.g. `cookie` and `origin`. */
  readonly headers?: Record<string, string>;
}

export function buildClient(url: string, options: ClientOptions): HubConnection {
  const http: IHttpConnectionOptions = {
    transport: HttpTransportType[options.transport],
    ...(options.skipNegotiation === true ? { skipNegotiation: true } : {}),
    ...(options.token === undefined ? {} : { accessTokenFactory: options.token }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
  };
  let builder = new HubConnectionBuilder().withUrl(url, http).configureLogging(LogLevel.None);
  if (options.protocol === 'messagepack') builder = builder.withHubProtocol(new MessagePackHubProtocol());
  if (options.stateful === true) builder = builder.withStatefulReconnect();
  if (options.automaticReconnect !== undefined)
    builder = builder.withAutomaticReconnect(options.automaticReconnect);
  return builder.build();
}

export async function connect(url: string, options: ClientOptions): Promise<HubConnection> {
  const connection = buildClient(url, options);
  await connection.start();
  return connection;
}

/** Resolves with the arguments of the next call of `method` on the client. */
export function nextCall(connection: HubConnection, method: string, timeoutMs = 5000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      connection.off(method, handler);
      reject(new Error(`no '${method}' within ${timeoutMs} ms`));
    }, timeoutMs);
    const handler = (...args: unknown[]) => {
      clearTimeout(timer);
      connection.off(method, handler);
      resolve(args);
    };
    connection.on(method, handler);
  });
}

/** Waits until `predicate` holds (polling every 10 ms). */
export async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
