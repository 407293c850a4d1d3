// Idle clients for the hub memory benchmark: `node clients.mjs <kind> <port> <count>`. Opens `count` WebSocket
// connections (kind `tessera`: negotiate + JSON handshake; `ws-signalr`: the JSON handshake; `ws`: the upgrade only), spread over the source addresses
// 127.0.0.1 to 127.0.0.BENCH_SOURCE_ADDRESSES (default 8; each address has its own ephemeral ports), prints
// `open <count>` once every one is open, then keeps them idle (a SignalR Ping every 10 s but for `ws`, so the server's
// 30 s client timeout never fires) until stdin closes. The client is the same minimal one for both servers: an
// HTTP/1.1 upgrade over `node:net`, then it only looks for the handshake response; nothing else is parsed.
/* global fetch, Buffer, setInterval */
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';

const [kind, port, count] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const sources = Math.max(1, Math.min(254, Number(process.env.BENCH_SOURCE_ADDRESSES ?? '8')));
const base = `http://127.0.0.1:${port}`;

/** A client → server text frame, masked with a zero key (RFC 6455 §5.3 allows any key: the payload is unchanged). */
function clientFrame(text) {
  const payload = Buffer.from(text);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}
const HANDSHAKE = clientFrame('{"protocol":"json","version":1}\u001e');
const PING = clientFrame('{"type":6}\u001e');

function open(index, path) {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${1 + (index % sources)}` });
    let head = '';
    const fail = (error) => reject(error);
    socket.on('error', fail);
    socket.on('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    const onData = (chunk) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!head.startsWith('HTTP/1.1 101')) return fail(new Error(`upgrade refused: ${head.slice(0, end)}`));
      if (kind === 'ws') return done();
      // tessera and ws-signalr: the SignalR JSON handshake.
      if (head.length === end + 4) socket.write(HANDSHAKE);
      // The handshake response `{}\x1e` in a 5-byte text frame.
      if (head.includes('{}\u001e', end)) done();
      else if (head.includes('"error"', end)) fail(new Error(head.slice(end + 4)));
    };
    const done = () => {
      socket.off('data', onData);
      socket.off('error', fail);
      // Idle from now on: what the server sends (pings) is read and dropped.
      socket.on('data', () => {});
      socket.on('error', () => {});
      head = '';
      resolve(socket);
    };
    socket.on('data', onData);
  });
}

async function openOne(index) {
  if (kind !== 'tessera') return open(index, '/');
  const response = await fetch(`${base}/hubs/bench/negotiate?negotiateVersion=1`, { method: 'POST' });
  if (response.status !== 200) throw new Error(`negotiate answered ${response.status}`);
  const { connectionToken } = await response.json();
  return open(index, `/hubs/bench?id=${encodeURIComponent(connectionToken)}`);
}

const sockets = [];
// Pings from the start: opening tens of thousands takes longer than the server's client timeout.
if (kind !== 'ws') {
  setInterval(() => {
    for (const socket of sockets) socket.write(PING);
  }, 10_000);
}
const BATCH = 100;
for (let index = 0; index < count; index += BATCH) {
  const batch = Array.from({ length: Math.min(BATCH, count - index) }, (_, k) => openOne(index + k));
  sockets.push(...(await Promise.all(batch)));
}
console.log(`open ${sockets.length}`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
