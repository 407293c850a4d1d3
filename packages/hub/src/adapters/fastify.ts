import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { HubServer } from '../hub-server.js';
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
 * Fastify: an `onRequest` hook hands hub paths to the hubs before Fastify parses anything (`reply.hijack()`), and
 * WebSocket upgrades are hooked on `fastify.server`. Call before `listen()`.
 */
export function fastifyHubs(fastify: FastifyLike, hubs: readonly HubServer[]): void {
  const attached = attachHubs(fastify.server, hubs, { handleRequests: false });
  const paths = new Set(hubs.flatMap((hub) => [hub.path, `${hub.path}/negotiate`]));
  fastify.addHook('onRequest', async (request, reply) => {
    const url = request.raw.url ?? '/';
    const query = url.indexOf('?');
    if (!paths.has(query === -1 ? url : url.slice(0, query))) return;
    reply.hijack();
    await attached.handle(request.raw, reply.raw);
  });
}
