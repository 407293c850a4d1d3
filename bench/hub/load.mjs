// Load generator for the hub benchmark: `node load.mjs <kind> <port> <clients>`; prints one JSON line of results.
//
// Every client is the same minimal WebSocket client over `node:net` for all three servers: an HTTP/1.1 upgrade,
// then a frame scanner that only reads frame headers and counts data frames (no per-message allocation, no
// UTF-8 or JSON decoding). What differs is only what each protocol requires on top of WebSockets:
//   - tessera: POST {path}/negotiate?negotiateVersion=1, upgrade with `id=<connectionToken>`, send
//     `{"protocol":"json","version":1}\x1e`, wait for `{}\x1e`; a Ping (`{"type":6}\x1e`) every 10 s;
//   - socketio: upgrade `/socket.io/?EIO=4&transport=websocket`, read the engine.io open packet `0{...}`, send the
//     socket.io connect `40`, wait for `40{...}`; answer engine.io pings `2` with `3`;
//   - ws: the upgrade only.
// Data frames of at least 16 bytes are deliveries (pings, handshake and connect frames are shorter or happen
// before counting starts). One client in `BENCH_SAMPLE_EVERY` (default 20) keeps its frames' bytes and reads the
// server's send timestamp (`"t":<ms>`) for latency; the others never look at the payload.
/* global fetch, Buffer, setInterval, clearInterval */
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

const [kind, port, clientCount] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const sampleEvery = Number(process.env.BENCH_SAMPLE_EVERY ?? '20');
const base = `http://127.0.0.1:${port}`;
const now = () => performance.timeOrigin + performance.now();
const DELIVERY_MIN_BYTES = 16;

let delivered = 0;
let latencies = [];
let lastReceiveAt = 0;

/** A client → server text frame (masked with a zero key, as RFC 6455 allows: the payload is unchanged). */
function clientFrame(text) {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error('control frames only');
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}
const SIGNALR_HANDSHAKE = clientFrame('{"protocol":"json","version":1}\u001e');
const SIGNALR_PING = clientFrame('{"type":6}\u001e');
const SOCKETIO_CONNECT = clientFrame('40');
const SOCKETIO_PONG = clientFrame('3');

class Client {
  constructor(path, sampled, onOpen, onFail) {
    this.sampled = sampled;
    this.onOpen = onOpen;
    this.onFail = onFail;
    this.open = false; // protocol handshake done: counting mode
    this.upgraded = false;
    this.head = Buffer.alloc(0);
    this.partial = undefined; // an incomplete frame header
    this.left = 0; // payload bytes of the current frame still to come
    this.length = 0;
    this.parts = undefined; // collected payload chunks (small frames, handshake phase, sampled clients)
    this.socket = connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('error', (error) => this.onFail(error));
    this.socket.on('data', (chunk) => this.data(chunk));
    this.socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  }

  data(chunk) {
    if (!this.upgraded) {
      this.head = Buffer.concat([this.head, chunk]);
      const end = this.head.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!this.head.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) {
        this.onFail(new Error(`upgrade refused: ${this.head.subarray(0, end).toString()}`));
        return;
      }
      this.upgraded = true;
      chunk = this.head.subarray(end + 4);
      this.head = undefined;
      if (kind === 'ws') this.ready();
    }
    if (this.partial !== undefined) {
      chunk = Buffer.concat([this.partial, chunk]);
      this.partial = undefined;
    }
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.left > 0) {
        const take = Math.min(this.left, n - i);
        if (this.parts !== undefined) this.parts.push(chunk.subarray(i, i + take));
        this.left -= take;
        i += take;
        if (this.left === 0) this.frameEnd();
        continue;
      }
      if (n - i < 2) {
        this.partial = chunk.subarray(i);
        return;
      }
      const short = chunk[i + 1] & 0x7f;
      let header = 2;
      let length = short;
      if (short === 126) {
        header = 4;
        if (n - i < 4) {
          this.partial = chunk.subarray(i);
          return;
        }
        length = chunk.readUInt16BE(i + 2);
      } else if (short === 127) {
        header = 10;
        if (n - i < 10) {
          this.partial = chunk.subarray(i);
          return;
        }
        length = chunk.readUInt32BE(i + 6);
      }
      i += header;
      this.length = length;
      this.left = length;
      this.parts = !this.open || this.sampled || length < DELIVERY_MIN_BYTES ? [] : undefined;
      if (length === 0) this.frameEnd();
    }
  }

  frameEnd() {
    const parts = this.parts;
    this.parts = undefined;
    if (this.open && this.length >= DELIVERY_MIN_BYTES) {
      const at = now();
      delivered++;
      lastReceiveAt = at;
      if (parts !== undefined) {
        const text = Buffer.concat(parts).toString('latin1');
        const index = text.indexOf('"t":');
        if (index !== -1) latencies.push(at - parseFloat(text.slice(index + 4, index + 30)));
      }
      return;
    }
    const text = parts === undefined ? '' : Buffer.concat(parts).toString();
    if (kind === 'tessera') {
      if (!this.open && text.startsWith('{}\u001e')) this.ready();
      else if (!this.open && text.startsWith('{"error"')) this.onFail(new Error(text));
    } else if (kind === 'socketio') {
      if (text === '2') this.socket.write(SOCKETIO_PONG);
      else if (text.startsWith('0{')) this.socket.write(SOCKETIO_CONNECT);
      else if (text.startsWith('40')) this.ready();
      else if (text.startsWith('44')) this.onFail(new Error(text));
    }
  }

  ready() {
    if (this.open) return;
    this.open = true;
    this.onOpen(this);
  }
}

async function connectOne(index) {
  let path = '/';
  if (kind === 'socketio') path = '/socket.io/?EIO=4&transport=websocket';
  else if (kind === 'tessera') {
    const response = await fetch(`${base}/hubs/bench/negotiate?negotiateVersion=1`, { method: 'POST' });
    const negotiated = await response.json();
    path = `/hubs/bench?id=${encodeURIComponent(negotiated.connectionToken)}`;
  }
  return new Promise((resolve, reject) => {
    const client = new Client(path, index % sampleEvery === 0, resolve, reject);
    if (kind === 'tessera') client.socket.once('connect', () => client.socket.write(SIGNALR_HANDSHAKE));
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

const cpuPercent = (before, wallMs) => {
  const used = process.cpuUsage(before);
  return Math.round((used.user + used.system) / 10 / wallMs);
};

const idle = await control('/control/memory');
const clients = [];
for (let index = 0; index < clientCount; index += 50) {
  const batch = Array.from({ length: Math.min(50, clientCount - index) }, (_, k) => connectOne(index + k));
  clients.push(...(await Promise.all(batch)));
}
const pinger =
  kind === 'tessera'
    ? setInterval(() => {
        for (const client of clients) client.socket.write(SIGNALR_PING);
      }, 10_000)
    : undefined;
await new Promise((resolve) => setTimeout(resolve, 500));
const loaded = await control('/control/memory');
if (loaded.connections !== clientCount) throw new Error(`server sees ${loaded.connections} connections`);
const memory = {
  rssBytesPerConnection: Math.round((loaded.rss - idle.rss) / clientCount),
  heapBytesPerConnection: Math.round((loaded.heapUsed - idle.heapUsed) / clientCount),
};

const size = Number(process.env.BENCH_PAYLOAD ?? '64');
// Warm-up, then the bursts: the server broadcasts as fast as it can.
await control(`/control/burst?count=50&size=${size}`);
await waitFor(50 * clientCount, 10_000);
const burstCount = Number(process.env.BENCH_BURST ?? '400');
const bursts = [];
for (let round = 0; round < Number(process.env.BENCH_BURSTS ?? '3'); round++) {
  delivered = 0;
  latencies = [];
  const cpu = process.cpuUsage();
  const sent = await control(`/control/burst?count=${burstCount}&size=${size}`);
  await waitFor(burstCount * clientCount, 30_000);
  const wallMs = lastReceiveAt - sent.startedAt;
  latencies.sort((a, b) => a - b);
  bursts.push({
    deliveries: delivered,
    deliveriesPerSecond: Math.round(delivered / (wallMs / 1000)),
    // Contention-robust: deliveries per second of server CPU (what one whole core would sustain).
    deliveriesPerServerCpuSecond: Math.round(delivered / (sent.cpuMs / 1000)),
    serverSendMs: Math.round(sent.endedAt - sent.startedAt),
    serverCpuPercent: sent.cpuPercent,
    clientCpuPercent: cpuPercent(cpu, wallMs),
    p50Ms: +percentile(latencies, 50).toFixed(1),
    p99Ms: +percentile(latencies, 99).toFixed(1),
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
}
const burst = [...bursts].sort((a, b) => a.deliveriesPerSecond - b.deliveriesPerSecond)[
  Math.floor(bursts.length / 2)
];

// Offered load: 70 broadcasts/s to 1,000 clients = 70k deliveries/s.
delivered = 0;
latencies = [];
const perSecond = Number(process.env.BENCH_RATE ?? '70');
const seconds = Number(process.env.BENCH_SECONDS ?? '4');
const rateCpu = process.cpuUsage();
const rateStart = now();
const offered = await control(`/control/rate?perSecond=${perSecond}&seconds=${seconds}&size=${size}`);
await waitFor(perSecond * seconds * clientCount, 10_000);
latencies.sort((a, b) => a - b);
const rate = {
  offeredDeliveriesPerSecond: perSecond * clientCount,
  deliveries: delivered,
  serverCpuPercent: offered.cpuPercent,
  clientCpuPercent: cpuPercent(rateCpu, now() - rateStart),
  p50Ms: +percentile(latencies, 50).toFixed(1),
  p99Ms: +percentile(latencies, 99).toFixed(1),
  maxMs: +(latencies.at(-1) ?? 0).toFixed(1),
};

clearInterval(pinger);
for (const client of clients) client.socket.destroy();
console.log(
  JSON.stringify({ kind, clients: clientCount, frameBytes: idle.frameBytes, memory, burst, bursts, rate }),
);
process.exit(0);
