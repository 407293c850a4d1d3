import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { HubServer } from '../hub-server.js';
import { attachHubs } from './node-http.js';

/** An Express-compatible middleware (`(req, res, next)`), typed structurally so Express stays optional. */
export type HubMiddleware = (
  request: IncomingMessage,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * Express: returns a middleware serving the hubs' HTTP requests (mount it before body parsers) and hooks WebSocket
 * upgrades on `server` (the value `app.listen()` returns, or your `http.createServer(app)`).
 *
 * @example app.use(expressHubs(server, [chat]))
 */
export function expressHubs(server: Server, hubs: readonly HubServer[]): HubMiddleware {
  const attached = attachHubs(server, hubs, { handleRequests: false });
  return (request, response, next) => {
    attached.handle(request, response).then(
      (handled) => {
        if (!handled) next();
      },
      (error: unknown) => {
        next(error);
      },
    );
  };
}
