// A hostile hub client in its own process (so that its CPU is not the hub's): `node flooder.mjs` with HUB_URL
// (ws://…), TOKEN, FRAME_BYTES (the hub's frame limit) and MESSAGE_BYTES (its message limit). It completes the JSON
// handshake, prints `flooding`, then sends frames as large as the hub allows, as fast as the hub reads them, of:
// tiny fire-and-forget invocations of unknown methods; invocations of an unknown and of a forbidden method, each
// carrying as many upload stream ids as fit in one message; stream items, completions and cancels for those ids.
// Every 200 ms it prints `{"sent":frames,"received":records}`; it reads (and drops) what the hub answers. Frames are
// built before the flood starts (stream ids unique across 64 frames per kind), so that the flood costs this process
// little CPU: on a small machine it would otherwise take the hub's.
import { Buffer } from 'node:buffer';
import { setInterval } from 'node:timers';
import WebSocket from 'ws';

const RS = '\u001e';
const frameBytes = Number(process.env.FRAME_BYTES);
const messageBytes = Number(process.env.MESSAGE_BYTES);
const socket = new WebSocket(process.env.HUB_URL, {
  headers: { authorization: `Bearer ${process.env.TOKEN}` },
  perMessageDeflate: false,
});
let sent = 0;
let received = 0;
let nextId = 0;

/** Fills one frame with `record()` outputs until the next one would not fit. */
function frame(record) {
  const parts = [];
  let size = 0;
  for (;;) {
    const next = `${record()}${RS}`;
    if (size + next.length > frameBytes) break;
    parts.push(next);
    size += next.length;
  }
  return parts.join('');
}

/** An invocation carrying as many fresh stream ids as fit in one message. */
function withStreamIds(target) {
  const id = nextId++;
  const head = `{"type":1,"invocationId":"i${id}","target":"${target}","arguments":[],"streamIds":[`;
  const ids = [];
  let size = head.length + 2;
  for (let index = 0; ; index++) {
    const streamId = `"${id}.${index}"`;
    if (size + streamId.length + 1 > messageBytes) break;
    ids.push(streamId);
    size += streamId.length + 1;
  }
  return `${head}${ids.join(',')}]}`;
}

const frames = [];
for (let index = 0; index < 64; index++) {
  frames.push(
    Buffer.from(frame(() => '{"type":1,"target":"x","arguments":[]}')),
    Buffer.from(frame(() => withStreamIds('nope'))),
    Buffer.from(frame(() => withStreamIds('adminOnly'))),
    Buffer.from(
      frame(() => {
        const id = Math.floor(Math.random() * nextId);
        const pick = Math.random();
        if (pick < 0.6) return `{"type":2,"invocationId":"${id}.0","item":1}`;
        if (pick < 0.9) return `{"type":3,"invocationId":"${id}.1"}`;
        return `{"type":5,"invocationId":"i${id}"}`;
      }),
    ),
  );
}

function flood() {
  if (socket.readyState !== WebSocket.OPEN) return;
  // Keep the hub's receive side full: queue while the socket takes it.
  while (socket.bufferedAmount < 2 * frameBytes) {
    socket.send(frames[sent % frames.length], { binary: false });
    sent++;
  }
  setTimeout(flood, 2);
}

let handshaken = false;
socket.on('open', () => {
  socket.send(`{"protocol":"json","version":1}${RS}`);
});
socket.on('message', (data) => {
  if (!handshaken) {
    handshaken = true;
    console.log('flooding');
    flood();
    return;
  }
  for (let index = 0; index < data.length; index++) if (data[index] === 0x1e) received++;
});
socket.on('close', (code) => {
  console.log(JSON.stringify({ sent, received, closed: code }));
  process.exit(0);
});
socket.on('error', () => undefined);
setInterval(() => {
  console.log(JSON.stringify({ sent, received }));
}, 200);
