// The named default of every `HubServerOptions` value that has one. The option resolver reads them and the options
// table of docs/hub.md documents them (a test keeps the two equal); units are in the names.
import type { RateLimit } from '../security/rate-limit.js';
import { ALL_TRANSPORTS, type TransportKind } from '../transports/transport.js';

/** Cross origins allowed by default: none (only the page's own origin, and callers that send no `Origin`). */
export const DEFAULT_ALLOWED_ORIGINS: readonly string[] = Object.freeze([]);
/** Transports offered by default: all three, in the order negotiate lists them. */
export const DEFAULT_TRANSPORTS: readonly TransportKind[] = ALL_TRANSPORTS;
/** Hub protocols accepted by default. */
export const DEFAULT_PROTOCOLS: readonly ('json' | 'messagepack')[] = Object.freeze(['json', 'messagepack']);
/** Stateful reconnect is offered only when enabled (as in ASP.NET Core). */
export const DEFAULT_ALLOW_STATEFUL_RECONNECTS = false;
/** Ping interval when nothing else was sent, in ms (ASP.NET Core's `KeepAliveInterval`). */
export const DEFAULT_KEEP_ALIVE_INTERVAL_MS = 15_000;
/** Silence after which a client is closed, in ms (ASP.NET Core's `ClientTimeoutInterval`). */
export const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;
/** Time allowed between the transport start and the handshake request, in ms (ASP.NET Core's `HandshakeTimeout`). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 15_000;
/** Life of a connection without a transport, in ms (ASP.NET Core's `DisconnectTimeout`). */
export const DEFAULT_DISCONNECT_TIMEOUT_MS = 15_000;
/** How long a long poll waits for data, in ms (ASP.NET Core's `LongPolling.PollTimeout`). */
export const DEFAULT_LONG_POLL_TIMEOUT_MS = 90_000;
/** Largest hub message, in bytes (ASP.NET Core's `MaximumReceiveMessageSize`). */
export const DEFAULT_MAX_MESSAGE_BYTES = 32_768;
/**
 * Largest WebSocket frame or POST body, in messages of `maxMessageBytes`. Clients batch queued messages into one
 * frame or body (each record is still limited to `maxMessageBytes`), so this bounds a batch: a few messages, not
 * thousands (parsing a frame is work the event loop does for one client).
 */
export const DEFAULT_MAX_FRAME_MESSAGES = 4;
/** Invocations of one client that run at the same time, in invocations (ASP.NET Core's `MaximumParallelInvocationsPerClient`). */
export const DEFAULT_MAX_PARALLEL_INVOCATIONS_PER_CLIENT = 1;
/** Invocations waiting for a slot beyond which the connection is closed, in invocations. */
export const DEFAULT_MAX_QUEUED_INVOCATIONS_PER_CLIENT = 64;
/** Invocation rate of one connection, in invocations per second and burst size. */
export const DEFAULT_INVOCATION_RATE_LIMIT: RateLimit = Object.freeze({ perSecond: 100, burst: 200 });
/** Unsent (or unacknowledged) bytes beyond which a slow consumer is dropped, in bytes. */
export const DEFAULT_MAX_SEND_BUFFER_BYTES = 1_048_576;
/** Upload stream items buffered before the receive loop waits, in items (ASP.NET Core's `StreamBufferCapacity`). */
export const DEFAULT_STREAM_BUFFER_CAPACITY = 10;
/** Upload streams one invocation may carry, in streams. */
export const DEFAULT_MAX_STREAM_IDS_PER_INVOCATION = 8;
/** Upload and server streams open at once on one connection, in streams. */
export const DEFAULT_MAX_STREAMS_PER_CLIENT = 32;
/** Groups one connection may be in, in groups. */
export const DEFAULT_MAX_GROUPS_PER_CLIENT = 100;
/** How long `invoke` waits for a client result, in ms. */
export const DEFAULT_CLIENT_RESULT_TIMEOUT_MS = 30_000;
/** How long a group operation on another node waits for its answer, in ms. */
export const DEFAULT_GROUP_OPERATION_TIMEOUT_MS = 5000;

/**
 * Every named default keyed by its option, as `docs/hub.md` lists them. `maxFrameBytes` has none of its own: it
 * is {@link DEFAULT_MAX_FRAME_MESSAGES} × the resolved `maxMessageBytes`.
 */
export const hubServerDefaults = Object.freeze({
  allowedOrigins: DEFAULT_ALLOWED_ORIGINS,
  transports: DEFAULT_TRANSPORTS,
  protocols: DEFAULT_PROTOCOLS,
  allowStatefulReconnects: DEFAULT_ALLOW_STATEFUL_RECONNECTS,
  keepAliveIntervalMs: DEFAULT_KEEP_ALIVE_INTERVAL_MS,
  clientTimeoutMs: DEFAULT_CLIENT_TIMEOUT_MS,
  handshakeTimeoutMs: DEFAULT_HANDSHAKE_TIMEOUT_MS,
  disconnectTimeoutMs: DEFAULT_DISCONNECT_TIMEOUT_MS,
  longPollTimeoutMs: DEFAULT_LONG_POLL_TIMEOUT_MS,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  maxParallelInvocationsPerClient: DEFAULT_MAX_PARALLEL_INVOCATIONS_PER_CLIENT,
  maxQueuedInvocationsPerClient: DEFAULT_MAX_QUEUED_INVOCATIONS_PER_CLIENT,
  invocationRateLimit: DEFAULT_INVOCATION_RATE_LIMIT,
  maxSendBufferBytes: DEFAULT_MAX_SEND_BUFFER_BYTES,
  streamBufferCapacity: DEFAULT_STREAM_BUFFER_CAPACITY,
  maxStreamIdsPerInvocation: DEFAULT_MAX_STREAM_IDS_PER_INVOCATION,
  maxStreamsPerClient: DEFAULT_MAX_STREAMS_PER_CLIENT,
  maxGroupsPerClient: DEFAULT_MAX_GROUPS_PER_CLIENT,
  clientResultTimeoutMs: DEFAULT_CLIENT_RESULT_TIMEOUT_MS,
  groupOperationTimeoutMs: DEFAULT_GROUP_OPERATION_TIMEOUT_MS,
});
