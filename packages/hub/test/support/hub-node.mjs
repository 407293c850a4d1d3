// One hub node in its own process, for the scale-out test: `node hub-node.mjs` with REDIS_URL, AUTHORITY,
// AUDIENCE and CHANNEL_PREFIX, and BACKPLANE=client to hand the backplane a Redis client of its own (else the
// URL); prints `listening <port>` once ready. Uses the built package (npx tsc -b). This file is the node's
// composition root: it reads the environment, the hub does not.
import { createServer } from 'node:http';
import { attachHubs, createHubServer, createRedisBackplane, defineHub } from '@tessera/hub';
import { createTokenValidator } from '@tessera/resource';
import { Redis } from 'ioredis';

const hub = defineHub({
  methods: {
    whoAmI: (context) => ({ connectionId: context.connectionId, node: process.pid }),
    broadcast: (context, message) => context.clients.all.send('message', message, process.pid),
    join: (context, group) => context.groups.add(context.connectionId, group),
    addToGroup: (context, connectionId, group) => context.groups.add(connectionId, group),
    sendToGroup: (context, group, message) =>
      context.clients.group(group).send('groupMessage', group, message),
    sendToUser: (context, userId, message) => context.clients.user(userId).send('direct', message),
    sendToConnection: (context, connectionId, message) =>
      context.clients.client(connectionId).send('direct', message),
  },
  authorizeGroup: (user, group) =>
    !group.startsWith('admin') || (user.claims?.roles ?? []).includes('Data.Write.All'),
});

const hubServer = await createHubServer({
  path: '/hubs/chat',
  hub,
  authentication: {
    validator: createTokenValidator({ authority: process.env.AUTHORITY, audience: process.env.AUDIENCE }),
  },
  backplane:
    process.env.BACKPLANE === 'client'
      ? createRedisBackplane({
          redis: new Redis(process.env.REDIS_URL),
          channelPrefix: process.env.CHANNEL_PREFIX,
        })
      : createRedisBackplane({ url: process.env.REDIS_URL, channelPrefix: process.env.CHANNEL_PREFIX }),
});
const server = createServer();
attachHubs(server, [hubServer]);
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => {
  void hubServer.close().then(() => process.exit(0));
});
