// Hub broadcast benchmark: `npm run bench:hub`.
//
// Method: for each server — Tessera hub (SignalR JSON protocol over WebSockets), socket.io 4 (websocket transport)
// and a raw `ws` broadcast (serialize once, send the same bytes to every socket: the limit) — start it alone on
// CPU core 0 (`taskset -c 0`), connect 1,000 clients from one process on core 1 (`taskset -c 1`), all on
// 127.0.0.1, then:
//   1. memory per idle connection: (RSS and heap after gc with 1,000 connections − before) / 1,000;
//   2. burst: 300 broadcasts of the same 64-byte payload as fast as the server sends them (yielding to I/O every 4
//      broadcasts); deliveries/s = deliveries / (last receive − start), with p50/p99 latency (send → receive);
//   3. offered load: 70 broadcasts/s for 3 s (70k deliveries/s), p50/p99 latency.
// Every loop is bounded (counts and timeouts). The Tessera hub serializes each broadcast once per protocol.
//
// Figures measured in this checkout are printed at the end and recorded in the final report of issue 5.
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const clients = Number(process.env.BENCH_CLIENTS ?? '1000');
let taskset = false;
try {
  execFileSync('taskset', ['-c', '0', 'true']);
  execFileSync('taskset', ['-c', '1', 'true']);
  taskset = true;
} catch {
  console.warn('taskset or a second core unavailable: running unpinned.');
}
const pinned = (core, args) =>
  taskset ? ['taskset', ['-c', String(core), process.execPath, ...args]] : [process.execPath, args];

function run(command, args, onLine) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let buffer = '';
  child.stdout.on('data', (chunk) => {
    buffer += chunk.toString();
    let newline;
    while ((newline = buffer.indexOf('\n')) !== -1) {
      onLine(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  });
  return child;
}

async function measure(kind) {
  let server;
  const port = await new Promise((resolve, reject) => {
    server = run(...pinned(0, ['--expose-gc', here('./servers.mjs'), kind]), (line) => {
      const match = /^ready (\d+)/.exec(line);
      if (match) resolve(match[1]);
    });
    server.on('exit', (code) => reject(new Error(`${kind} server exited ${code}`)));
  });
  const result = await new Promise((resolve, reject) => {
    const load = run(...pinned(1, [here('./load.mjs'), kind, port, String(clients)]), (line) => {
      if (line.startsWith('{')) resolve(JSON.parse(line));
    });
    load.on('exit', (code) => code !== 0 && reject(new Error(`${kind} load exited ${code}`)));
  });
  server.kill();
  return result;
}

const results = {};
for (const kind of ['ws', 'socketio', 'tessera']) {
  results[kind] = await measure(kind);
  console.log(`${kind.padEnd(8)} ${JSON.stringify(results[kind])}`);
}
const { ws, socketio, tessera } = results;
const row = (name, r) =>
  `| ${name.padEnd(22)} | ${String(r.burst.deliveriesPerSecond).padStart(9)} | ${String(r.burst.p99Ms).padStart(8)} | ${String(r.rate.p50Ms).padStart(8)} | ${String(r.rate.p99Ms).padStart(8)} | ${String(r.memory.rssBytesPerConnection).padStart(9)} | ${String(r.memory.heapBytesPerConnection).padStart(9)} |`;
console.log(
  `\n${clients} clients, 64-byte payload, server on core 0, clients on core 1${taskset ? '' : ' (unpinned)'}`,
);
console.log(
  '| server                 | burst d/s | burst p99 | 70k/s p50 | 70k/s p99 | RSS B/conn | heap B/conn |',
);
console.log(
  '| ---------------------- | --------: | --------: | --------: | --------: | ---------: | ----------: |',
);
console.log(row('raw ws (limit)', ws));
console.log(row('socket.io 4', socketio));
console.log(row('Tessera hub (JSON)', tessera));
console.log(
  `\nTessera / socket.io deliveries/s: ${(tessera.burst.deliveriesPerSecond / socketio.burst.deliveriesPerSecond).toFixed(2)}× (target ≥ 1.4×)`,
);
console.log(
  `Tessera / raw ws deliveries/s: ${((100 * tessera.burst.deliveriesPerSecond) / ws.burst.deliveriesPerSecond).toFixed(0)}% (target ≥ 80%)`,
);
console.log(
  `Tessera p99 / raw ws p99 at 70k/s: ${(tessera.rate.p99Ms / ws.rate.p99Ms).toFixed(2)}× (target ≤ 1.3×)`,
);
