import type { FastifyInstance } from 'fastify';
import { STYLESHEET, STYLESHEET_ETAG } from '../ui/styles.js';

/** `GET /ui/tessera.css`: the sign-in UI's stylesheet (self-served so the CSP needs no inline styles). */
export function registerUiAssets(app: FastifyInstance): void {
  app.get('/ui/tessera.css', (_request, reply) =>
    reply
      .header('content-type', 'text/css; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .header('etag', STYLESHEET_ETAG)
      .send(STYLESHEET),
  );
}
