// One broadcast server for the hub benchmarks: `node servers.mjs tessera|socketio|ws|ws-signalr`. Prints `ready <port>`.
// Control (HTTP, same port): GET /control/memory, GET /control/snapshot (a heap snapshot in the temporary directory), GET /control/burst?count=&size=, GET /control/rate?perSecond=&seconds=&size=
// Every broadcast carries its send time (ms, performance.timeOrigin + performance.now()) for latency.
/* global Buffer, setImmediate, setInterval */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';

const kind = process.argv[2];
const now = () => performance.timeOrigin + performance.now();
const server = createServer();
let broadcast;
let connections;

if (kind === 'tessera') {
  const { attachHubs, createHubServer, defineHub } = await import('@tessera/hub');
  const hub = await createHubServer({
    path: '/hubs/bench',
    hub: defineHub({ methods: { ping: () => 'pong' }, allowAnonymous: true }),
    maxSendBufferBytes: 16 << 20,
  });
  const attached = attachHubs(server, [hub], { handleRequests: false });
  server.on('request', (request, response) => {
    if (!request.url.startsWith('/control')) void attached.handle(request, response);
  });
  broadcast = (payload) => void hub.clients.all.send('m', payload);
  connections = () => hub.connectionCount;
} else if (kind === 'socketio') {
  const { Server } = await import('socket.io');
  const io = new Server(server, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  broadcast = (payload) => io.emit('m', payload);
  connections = () => io.engine.clientsCount;
} else if (kind === 'ws-signalr') {
  // Raw `ws` doing what a SignalR server must do for an idle client (bench/hub-memory): answer the JSON handshake
  // with `{}\x1e`, read the client's pings, send a ping every 15 s (one timer for all sockets). No hub.
  const { WebSocketServer } = createRequire(new URL('../../packages/hub/package.json', import.meta.url))(
    'ws',
  );
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const handshakeResponse = Buffer.from('{}\u001e');
  const ping = Buffer.from('{"type":6}\u001e');
  const handshaken = new WeakSet();
  function onMessage() {
    if (handshaken.has(this)) return;
    handshaken.add(this);
    this.send(handshakeResponse, { binary: false });
  }
  wss.on('connection', (socket) => socket.on('message', onMessage));
  setInterval(() => {
    for (const client of wss.clients) client.send(ping, { binary: false });
  }, 15_000).unref();
  broadcast = (payload) => {
    const data = Buffer.from(JSON.stringify(payload));
    for (const client of wss.clients) client.send(data, { binary: false });
  };
  connections = () => wss.clients.size;
} else {
  // The `ws` the hub uses (v8), not the older copy the SignalR client brings to the root.
  const { WebSocketServer } = createRequire(new URL('../../packages/hub/package.json', import.meta.url))(
    'ws',
  );
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  // The limit: serialize once, send the same bytes to every socket.
  broadcast = (payload) => {
    const data = Buffer.from(JSON.stringify(payload));
    for (const client of wss.clients) client.send(data, { binary: false });
  };
  connections = () => wss.clients.size;
}

const cpuPercent = (before, wallMs) => {
  const used = process.cpuUsage(before);
  return Math.round((used.user + used.system) / 10 / wallMs);
};
// Bytes of one broadcast's WebSocket payload (same payload object, each protocol's envelope).
const frameBytes = (size) => {
  const payload = JSON.stringify({ t: now(), p: 'x'.repeat(size) });
  if (kind === 'tessera') return `{"type":1,"target":"m","arguments":[${payload}]}\u001e`.length;
  if (kind === 'socketio') return `42["m",${payload}]`.length;
  return payload.length;
};

// Broadcasts per event-loop turn in a burst (default 4; 1 = every broadcast in its own turn).
const yieldEvery = Math.max(1, Number(process.env.BENCH_YIELD_EVERY ?? '4'));
const yieldToIo = () => new Promise((resolve) => setImmediate(resolve));

server.on('request', async (request, response) => {
  const url = new URL(request.url, 'http://localhost');
  if (!url.pathname.startsWith('/control')) return;
  const size = Number(url.searchParams.get('size') ?? '64');
  const filler = 'x'.repeat(size);
  if (url.pathname === '/control/memory') {
    globalThis.gc?.();
    const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
    response.end(
      JSON.stringify({
        rss,
        heapUsed,
        heapTotal,
        external,
        connections: connections(),
        frameBytes: frameBytes(size),
      }),
    );
  } else if (url.pathname === '/control/snapshot') {
    const path = writeHeapSnapshot(join(tmpdir(), `hub-${kind}-${process.pid}-${Date.now()}.heapsnapshot`));
    response.end(JSON.stringify({ path }));
  } else if (url.pathname === '/control/burst') {
    const count = Math.min(Number(url.searchParams.get('count')), 10_000);
    const cpu = process.cpuUsage();
    const startedAt = now();
    for (let index = 0; index < count; index++) {
      broadcast({ t: now(), p: filler });
      if (index % yieldEvery === yieldEvery - 1) await yieldToIo();
    }
    const endedAt = now();
    // Let the sends queued during the loop drain before reading the CPU used.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const used = process.cpuUsage(cpu);
    response.end(
      JSON.stringify({
        startedAt,
        endedAt,
        cpuMs: (used.user + used.system) / 1000,
        cpuPercent: cpuPercent(cpu, now() - startedAt),
      }),
    );
  } else if (url.pathname === '/control/rate') {
    const perSecond = Math.min(Number(url.searchParams.get('perSecond')), 10_000);
    const seconds = Math.min(Number(url.searchParams.get('seconds')), 30);
    const total = Math.round(perSecond * seconds);
    const cpu = process.cpuUsage();
    const start = now();
    for (let index = 0; index < total; index++) {
      const due = start + (index * 1000) / perSecond;
      while (now() < due) await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - now() - 1)));
      broadcast({ t: now(), p: filler });
    }
    response.end(JSON.stringify({ cpuPercent: cpuPercent(cpu, now() - start) }));
  } else {
    response.writeHead(404).end();
  }
});

server.listen(0, '127.0.0.1', () => {
  console.log(`ready ${server.address().port}`);
});

// A clean exit on SIGINT/SIGTERM, so `node --cpu-prof servers.mjs …` writes its profile.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
