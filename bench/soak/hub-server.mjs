// The soak's hub: `node hub-server.mjs` with SOAK_HUB_CONFIG = {"port", "authority", "audience"} (JSON). One hub
// at /hubs/soak whose `send(text)` broadcasts `message` to every connection; connections authenticate with a
// Tessera access token (app-only, validated by @tessera/resource against the authority's JWKS). Prints
// `ready <port>`. GET /control/memory answers process.memoryUsage() as JSON.
import { createServer } from 'node:http';
import { attachHubs, createHubServer, defineHub } from '@tessera/hub';
import { createTokenValidator } from '@tessera/resource';

const config = JSON.parse(process.env.SOAK_HUB_CONFIG ?? '{}');
const hub = await createHubServer({
  path: '/hubs/soak',
  hub: defineHub({
    methods: {
      async send(context, text) {
        await context.clients.all.send('message', context.userIdentifier ?? '', text);
      },
    },
  }),
  authentication: {
    validator: createTokenValidator({ authority: config.authority, audience: config.audience }),
  },
});
const server = createServer();
const attached = attachHubs(server, [hub], { handleRequests: false });
server.on('request', (request, response) => {
  if (request.url === '/control/memory') {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ ...process.memoryUsage(), connections: hub.connectionCount }));
    return;
  }
  void attached.handle(request, response);
});
server.listen(config.port, '127.0.0.1', () => process.stdout.write(`ready ${config.port}\n`));
const stop = () => {
  void hub.close().finally(() => server.close(() => process.exit(0)));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
