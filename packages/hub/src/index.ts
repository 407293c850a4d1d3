/**
 * @tessera/hub: a real-time hub speaking the ASP.NET Core SignalR protocol (negotiate v1, WebSockets, Server-Sent
 * Events, Long Polling; JSON and MessagePack hub protocols v1 and v2 with stateful reconnect), with SignalR's
 * security model enforced more strictly, and a Redis backplane.
 *
 * @see docs/hub.md, docs/hub-protocol.md
 */
export { createHubServer, type HubServer } from './hub-server.js';
export type { HubServerOptions } from './options/hub-server-options.js';
export * from './options/defaults.js';
export {
  hubRefusals,
  IDENTITY_CHANGED,
  refusalText,
  type ChallengeRefusal,
  type HubRefusalName,
  type NegotiateErrorRefusal,
  type RefusalDefinition,
  type RefusalParameters,
  type TextRefusal,
} from './http/refusals.js';
export type { AvailableTransport, NegotiationResponse } from './http/negotiate.js';
export {
  defineHub,
  type HubCallerContext,
  type HubDefinition,
  type HubMethod,
  type HubMethodOptions,
} from './hub/definition.js';
export type {
  ClientProxy,
  GroupManager,
  HubCallerClients,
  HubClients,
  SingleClientProxy,
} from './hub/clients.js';
export { HubError, unauthorizedMessage, unexpectedErrorMessage } from './hub/errors.js';
export type { HubAuthenticationOptions } from './security/authentication.js';
export type { HubPolicy, HubUser } from './security/policy.js';
export type { RateLimit } from './security/rate-limit.js';
export type { Backplane, BackplaneEnvelope, ConnectionDirectory } from './backplane/backplane.js';
export { createInMemoryBackplane } from './backplane/in-memory.js';
export {
  createRedisBackplane,
  type RedisBackplaneOptions,
  type RedisClientBackplaneOptions,
  type RedisUrlBackplaneOptions,
} from './backplane/redis.js';
export { attachHubs, type AttachedHubs } from './adapters/node-http.js';
export { expressHubs, type HubMiddleware } from './adapters/express.js';
export { fastifyHubs, type FastifyLike } from './adapters/fastify.js';
export { redactUrl, silentLogger, type HubLogger } from './logging.js';
export type { TransportKind } from './transports/transport.js';
export type { HubProtocol, TransferFormat } from './protocol/hub-protocol.js';
export { jsonHubProtocol } from './protocol/json-protocol.js';
export { messagePackHubProtocol } from './protocol/messagepack-protocol.js';
export { MessageType, type HubMessage } from './protocol/messages.js';
