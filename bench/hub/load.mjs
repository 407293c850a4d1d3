// Load generator for the hub benchmark: `node load.mjs <kind> <port> <clients>`; prints one JSON line of results.
// Clients: raw `ws` speaking the SignalR JSON hub protocol (tessera), `socket.io-client` (socketio), raw `ws` (ws).
/* global fetch */
import { performance } from 'node:perf_hooks';
import { io } from 'socket.io-client';
import WebSocket from 'ws';

const [kind, port, clientCount] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const base = `http://127.0.0.1:${port}`;
const now = () => performance.timeOrigin + performance.now();
const RS = '\u001e';

let delivered = 0;
let latencies = [];
let lastReceiveAt = 0;
const onPayload = (payload) => {
  const at = now();
  delivered++;
  lastReceiveAt = at;
  latencies.push(at - payload.t);
};

function connectOne() {
  return new Promise((resolve, reject) => {
    if (kind === 'socketio') {
      const socket = io(base, { transports: ['websocket'], reconnection: false, forceNew: true });
      socket.on('m', onPayload);
      socket.on('connect', () => resolve(socket));
      socket.on('connect_error', reject);
      return;
    }
    const url = kind === 'tessera' ? `ws://127.0.0.1:${port}/hubs/bench` : `ws://127.0.0.1:${port}`;
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.on('error', reject);
    if (kind === 'ws') {
      socket.on('open', () => resolve(socket));
      socket.on('message', (data) => onPayload(JSON.parse(data.toString())));
      return;
    }
    let handshaken = false;
    socket.on('open', () => socket.send(`{"protocol":"json","version":1}${RS}`));
    socket.on('message', (data) => {
      for (const record of data.toString().split(RS)) {
        if (record === '') continue;
        const message = JSON.parse(record);
        if (!handshaken) {
          handshaken = true;
          resolve(socket);
        } else if (message.type === 1) onPayload(message.arguments[0]);
      }
    });
  });
}

async function control(path) {
  const response = await fetch(`${base}${path}`);
  return response.json();
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function waitFor(expected, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (delivered < expected && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 5));
}

const idle = await control('/control/memory');
const sockets = [];
for (let index = 0; index < clientCount; index += 50) {
  sockets.push(...(await Promise.all(Array.from({ length: Math.min(50, clientCount - index) }, connectOne))));
}
await new Promise((resolve) => setTimeout(resolve, 500));
const loaded = await control('/control/memory');
const memory = {
  rssBytesPerConnection: Math.round((loaded.rss - idle.rss) / clientCount),
  heapBytesPerConnection: Math.round((loaded.heapUsed - idle.heapUsed) / clientCount),
};

// Warm-up, then the burst: as fast as the server can send.
await control('/control/burst?count=50&size=64');
await waitFor(50 * clientCount, 10_000);
delivered = 0;
latencies = [];
const burstCount = 300;
const start = now();
await control(`/control/burst?count=${burstCount}&size=64`);
await waitFor(burstCount * clientCount, 30_000);
const burst = {
  deliveries: delivered,
  deliveriesPerSecond: Math.round(delivered / ((lastReceiveAt - start) / 1000)),
};
latencies.sort((a, b) => a - b);
burst.p50Ms = +percentile(latencies, 50).toFixed(1);
burst.p99Ms = +percentile(latencies, 99).toFixed(1);

// Offered load: 70 broadcasts/s to 1,000 clients = 70k deliveries/s.
delivered = 0;
latencies = [];
const perSecond = Number(process.env.BENCH_RATE ?? '70');
const seconds = 3;
await control(`/control/rate?perSecond=${perSecond}&seconds=${seconds}&size=64`);
await waitFor(perSecond * seconds * clientCount, 10_000);
latencies.sort((a, b) => a - b);
const rate = {
  offeredDeliveriesPerSecond: perSecond * clientCount,
  deliveries: delivered,
  p50Ms: +percentile(latencies, 50).toFixed(1),
  p99Ms: +percentile(latencies, 99).toFixed(1),
};

for (const socket of sockets) {
  if (kind === 'socketio') socket.disconnect();
  else socket.terminate();
}
console.log(JSON.stringify({ kind, clients: clientCount, memory, burst, rate }));
process.exit(0);
