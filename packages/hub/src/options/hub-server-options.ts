import type { Backplane } from '../backplane/backplane.js';
import type { HubDefinition } from '../hub/definition.js';
import type { Registry } from 'prom-client';
import type { HubLogger } from '../logging.js';
import type { HubAuthenticationOptions } from '../security/authentication.js';
import type { RateLimit } from '../security/rate-limit.js';
import type { TransportKind } from '../transports/transport.js';

/**
 * Options of `createHubServer`. Every limit has a production default, named in `options/defaults.ts` and listed
 * in docs/hub.md "Options"; units are in the names.
 */
export interface HubServerOptions {
  /** URL path of the hub, e.g. `/hubs/chat` (negotiate is `{path}/negotiate`). */
  readonly path: string;
  readonly hub: HubDefinition;
  /**
   * Authentication. Without it every request is anonymous, which only a hub with `allowAnonymous` accepts (the
   * server refuses to start otherwise).
   */
  readonly authentication?: HubAuthenticationOptions;
  /** Cross origins allowed to negotiate and open WebSockets (exact `scheme://host[:port]`). Default none. */
  readonly allowedOrigins?: readonly string[];
  /** Transports offered (default all three). */
  readonly transports?: readonly TransportKind[];
  /** Protocols accepted (default `json` and `messagepack`). */
  readonly protocols?: readonly ('json' | 'messagepack')[];
  /** Offer stateful reconnect to clients that ask (`useStatefulReconnect=true`); default false, as ASP.NET. */
  readonly allowStatefulReconnects?: boolean;
  /** Ping interval when nothing else was sent, in ms (default 15000). */
  readonly keepAliveIntervalMs?: number;
  /** Close a connection that sent nothing for this long, in ms (default 30000; not Long Polling). */
  readonly clientTimeoutMs?: number;
  /** Time allowed between the transport start and the handshake request, in ms (default 15000). */
  readonly handshakeTimeoutMs?: number;
  /**
   * How long a connection survives without a transport: after negotiate, between two long polls, and the stateful
   * reconnect window, in ms (default 15000; ASP.NET's DisconnectTimeout).
   */
  readonly disconnectTimeoutMs?: number;
  /** How long a long poll waits for data, in ms (default 90000). */
  readonly longPollTimeoutMs?: number;
  /** Largest hub message accepted, in bytes (default 32768; ASP.NET's MaximumReceiveMessageSize). */
  readonly maxMessageBytes?: number;
  /**
   * Largest WebSocket frame or POST body, in bytes: clients may batch several messages into one. Default four
   * messages (`4 × maxMessageBytes`, 131072 with the default); at least `maxMessageBytes` plus the handshake
   * (1 KiB) and framing. A larger frame closes the socket (1009), a larger body answers 413 and ends the
   * connection.
   */
  readonly maxFrameBytes?: number;
  /** Invocations of one client that run at the same time (default 1; more wait in order). */
  readonly maxParallelInvocationsPerClient?: number;
  /** Invocations waiting for a slot beyond which the connection is closed (default 64). */
  readonly maxQueuedInvocationsPerClient?: number;
  /** Invocation rate per connection (default 100/s, burst 200); beyond it invocations fail with an error. */
  readonly invocationRateLimit?: RateLimit;
  /**
   * Unsent (or, with stateful reconnect, unacknowledged) bytes per connection beyond which the client is dropped as
   * a slow consumer, in bytes (default 1048576).
   */
  readonly maxSendBufferBytes?: number;
  /** Upload stream items buffered before the receive loop waits (default 10, ASP.NET's StreamBufferCapacity). */
  readonly streamBufferCapacity?: number;
  /**
   * Upload streams one invocation may carry (`streamIds`), in streams (default 8). More: the invocation fails with
   * `Failed to invoke 'X' because it carries more than N upload streams.` and no stream is opened.
   */
  readonly maxStreamIdsPerInvocation?: number;
  /**
   * Streams open at once on one connection, upload streams (from the invocation's arrival until it ends) and
   * server streams together, in streams (default 32). More: the invocation fails with
   * `Failed to invoke 'X' because the connection has too many open streams (N).`
   */
  readonly maxStreamsPerClient?: number;
  /**
   * Groups one connection may be in, in groups (default 100). `groups.add` beyond it throws a `HubError`
   * `Failed to join group 'X': a connection may be in at most N groups.`
   */
  readonly maxGroupsPerClient?: number;
  /** How long `invoke` waits for a client result, in ms (default 30000). */
  readonly clientResultTimeoutMs?: number;
  /**
   * Scale-out bus; default none (this process only). Built by the application, e.g.
   * `createRedisBackplane({ redis })` with its own Redis client.
   */
  readonly backplane?: Backplane;
  /** Channel name on the backplane (default the path). */
  readonly backplaneChannel?: string;
  /** How long a group operation on another node waits for its answer, in ms (default 5000). */
  readonly groupOperationTimeoutMs?: number;
  readonly logger?: HubLogger;
  /**
   * A prom-client `Registry` to report the hub's metrics on (`tessera_hub_*`, docs/hub.md "Metrics"); default
   * none: no metrics, nothing counted.
   */
  readonly metricsRegistry?: Registry;
}
