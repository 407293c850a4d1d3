import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { HubServer } from '../hub-server.js';
import { hubEndpointOf, requestTargetOf } from '../hub-path.js';
import { attachHubs } from './node-http.js';

/** The part of a Fastify instance the adapter uses (structural, so Fastify stays optional). */
export interface FastifyLike {
  readonly server: Server;
  addHook(
    name: 'onRequest',
    hook: (
      request: { readonly raw: IncomingMessage },
      reply: { readonly raw: ServerResponse; hijack(): void },
    ) => Promise<void>,
  ): unknown;
}

/**
 * Fastify: an `onRequest` hook hands hub paths (matched as the hubs match them: case-insensitively, one trailing
 * slash ignored) to the hubs before Fastify parses anything (`reply.hijack()`), and WebSocket upgrades are hooked
 * on `fastify.server`. Call before `listen()`.
 */
export function fastifyHubs(fastify: FastifyLike, hubs: readonly HubServer[]): void {
  const attached = attachHubs(fastify.server, hubs, { handleRequests: false });
  fastify.addHook('onRequest', async (request, reply) => {
    const target = requestTargetOf(request.raw.url);
    if (target === undefined) return;
    if (!hubs.some((hub) => hubEndpointOf(target.pathname, hub.path) !== undefined)) return;
    reply.hijack();
    await attached.handle(request.raw, reply.raw);
  });
}
