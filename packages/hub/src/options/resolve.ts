import type { Backplane } from '../backplane/backplane.js';
import type { ConnectionLimits } from '../connection/http-connection.js';
import { resolveHub, type ResolvedHub } from '../hub/definition.js';
import type { InvocationLimits } from '../hub/invocation-dispatcher.js';
import { silentLogger, type HubLogger } from '../logging.js';
import { MAX_HANDSHAKE_BYTES } from '../protocol/handshake.js';
import type { HubProtocol } from '../protocol/hub-protocol.js';
import { jsonHubProtocol } from '../protocol/json-protocol.js';
import { messagePackHubProtocol } from '../protocol/messagepack-protocol.js';
import type { HubAuthenticationOptions } from '../security/authentication.js';
import { OriginPolicy } from '../security/origin.js';
import type { TransportKind } from '../transports/transport.js';
import { hubServerDefaults as defaults, DEFAULT_MAX_FRAME_MESSAGES } from './defaults.js';
import type { HubServerOptions } from './hub-server-options.js';

/** Bytes a frame needs beyond one message: the handshake request, which may share its frame, and framing. */
export const FRAME_OVERHEAD_BYTES = MAX_HANDSHAKE_BYTES + 8;

/**
 * Longest interval between two stateful reconnect Acks, in ms; shorter when `keepAliveIntervalMs` is.
 *
 * @see HubProtocol.md "Ack Message Encoding"
 */
const MAX_ACK_INTERVAL_MS = 1000;

/** {@link HubServerOptions} with every default filled in and every value checked: what the hub's parts read. */
export interface ResolvedHubServerOptions {
  readonly path: string;
  readonly hub: ResolvedHub;
  readonly authentication: HubAuthenticationOptions | undefined;
  readonly origins: OriginPolicy;
  readonly transports: ReadonlySet<TransportKind>;
  /** The accepted protocols by handshake name. */
  readonly protocols: ReadonlyMap<string, HubProtocol>;
  readonly allowStatefulReconnects: boolean;
  readonly connectionLimits: ConnectionLimits;
  readonly invocationLimits: InvocationLimits;
  readonly longPollTimeoutMs: number;
  readonly backplane: Backplane | undefined;
  readonly backplaneChannel: string;
  readonly groupOperationTimeoutMs: number;
  readonly maxGroupsPerClient: number;
  readonly logger: HubLogger;
}

/**
 * Fills in the defaults of `docs/hub.md` ({@link hubServerDefaults}) and checks the configuration.
 *
 * @throws TypeError for an invalid configuration: a path without a leading `/` or with a trailing one, an invalid
 *   hub definition or origin, no authentication on a hub that does not allow anonymous callers, cookie
 *   authentication without an origin allow-list, a limit that is not an integer (or not positive where a zero
 *   makes no sense), `maxFrameBytes` below `maxMessageBytes` + {@link FRAME_OVERHEAD_BYTES}.
 * @see docs/hub.md "Options"
 */
export function resolveHubServerOptions(options: HubServerOptions): ResolvedHubServerOptions {
  if (!options.path.startsWith('/') || options.path.endsWith('/')) {
    throw new TypeError('"path" must start with "/" and not end with "/".');
  }
  const hub = resolveHub(options.hub);
  const origins = new OriginPolicy(options.allowedOrigins ?? defaults.allowedOrigins);
  if (options.authentication === undefined && !hub.anonymousConnect) {
    throw new TypeError('The hub requires authentication: give "authentication" or set "allowAnonymous".');
  }
  if (options.authentication?.cookie !== undefined && !origins.hasAllowList) {
    throw new TypeError('Cookie authentication requires a non-empty "allowedOrigins" list.');
  }
  const protocols = new Map(
    (options.protocols ?? defaults.protocols).map(
      (name) => [name, name === 'json' ? jsonHubProtocol : messagePackHubProtocol] as const,
    ),
  );
  const maxMessageBytes = positiveInteger(
    options.maxMessageBytes,
    defaults.maxMessageBytes,
    'maxMessageBytes',
  );
  const maxFrameBytes = positiveInteger(
    options.maxFrameBytes,
    DEFAULT_MAX_FRAME_MESSAGES * maxMessageBytes,
    'maxFrameBytes',
  );
  if (maxFrameBytes < maxMessageBytes + FRAME_OVERHEAD_BYTES) {
    throw new TypeError(
      `"maxFrameBytes" must be at least "maxMessageBytes" + ${FRAME_OVERHEAD_BYTES} (the handshake and framing).`,
    );
  }
  const keepAliveIntervalMs = options.keepAliveIntervalMs ?? defaults.keepAliveIntervalMs;
  const connectionLimits: ConnectionLimits = {
    keepAliveIntervalMs,
    clientTimeoutMs: options.clientTimeoutMs ?? defaults.clientTimeoutMs,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? defaults.handshakeTimeoutMs,
    disconnectTimeoutMs: options.disconnectTimeoutMs ?? defaults.disconnectTimeoutMs,
    maxMessageBytes,
    maxFrameBytes,
    maxSendBufferBytes: options.maxSendBufferBytes ?? defaults.maxSendBufferBytes,
    ackIntervalMs: Math.min(MAX_ACK_INTERVAL_MS, keepAliveIntervalMs),
  };
  const invocationLimits: InvocationLimits = {
    maxParallelInvocations:
      options.maxParallelInvocationsPerClient ?? defaults.maxParallelInvocationsPerClient,
    maxQueuedInvocations: options.maxQueuedInvocationsPerClient ?? defaults.maxQueuedInvocationsPerClient,
    rateLimit: options.invocationRateLimit ?? defaults.invocationRateLimit,
    streamBufferCapacity: options.streamBufferCapacity ?? defaults.streamBufferCapacity,
    clientResultTimeoutMs: options.clientResultTimeoutMs ?? defaults.clientResultTimeoutMs,
    maxStreamIdsPerInvocation: nonNegativeInteger(
      options.maxStreamIdsPerInvocation,
      defaults.maxStreamIdsPerInvocation,
      'maxStreamIdsPerInvocation',
    ),
    maxStreamsPerClient: nonNegativeInteger(
      options.maxStreamsPerClient,
      defaults.maxStreamsPerClient,
      'maxStreamsPerClient',
    ),
  };
  return {
    path: options.path,
    hub,
    authentication: options.authentication,
    origins,
    transports: new Set(options.transports ?? defaults.transports),
    protocols,
    allowStatefulReconnects: options.allowStatefulReconnects ?? defaults.allowStatefulReconnects,
    connectionLimits,
    invocationLimits,
    longPollTimeoutMs: options.longPollTimeoutMs ?? defaults.longPollTimeoutMs,
    backplane: options.backplane,
    backplaneChannel: options.backplaneChannel ?? options.path,
    groupOperationTimeoutMs: options.groupOperationTimeoutMs ?? defaults.groupOperationTimeoutMs,
    maxGroupsPerClient: nonNegativeInteger(
      options.maxGroupsPerClient,
      defaults.maxGroupsPerClient,
      'maxGroupsPerClient',
    ),
    logger: options.logger ?? silentLogger,
  };
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
