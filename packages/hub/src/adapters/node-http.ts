import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HubServer } from '../hub-server.js';

/** What {@link attachHubs} returns. */
export interface AttachedHubs {
  /** Request handler for the server's `request` event (or to call from your own): `false` when no hub matched. */
  handle(request: IncomingMessage, response: ServerResponse): Promise<boolean>;
  /** Removes the listeners this call added. */
  detach(): void;
}

/**
 * Mounts hubs on a `node:http` / `node:https` server: WebSocket upgrades through the server's `upgrade` event
 * (`ws` in `noServer` mode), other requests through `request` unless `handleRequests` is false (when another
 * framework owns the request listener; call `handle` from it). Upgrades for other paths are left to other
 * listeners, or refused with 404 when the hubs are the only `upgrade` listener.
 */
export function attachHubs(
  server: Server,
  hubs: readonly HubServer[],
  options: { readonly handleRequests?: boolean } = {},
): AttachedHubs {
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<boolean> => {
    for (const hub of hubs) if (await hub.handleRequest(request, response)) return true;
    return false;
  };
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    void (async () => {
      for (const hub of hubs) if (await hub.handleUpgrade(request, socket, head)) return;
      if (server.listenerCount('upgrade') === 1)
        socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    })();
  };
  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    void handle(request, response).then((handled) => {
      if (!handled && server.listenerCount('request') === 1) response.writeHead(404).end();
    });
  };
  server.on('upgrade', onUpgrade);
  if (options.handleRequests !== false) server.on('request', onRequest);
  return {
    handle,
    detach() {
      server.off('upgrade', onUpgrade);
      server.off('request', onRequest);
    },
  };
}
