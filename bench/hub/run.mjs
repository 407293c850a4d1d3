// Hub broadcast benchmark: `npm run bench:hub` (issue 5, last acceptance point).
//
// Method. For each server — the Tessera hub (SignalR JSON hub protocol over WebSockets, after negotiate),
// socket.io 4 (websocket transport, no per-message deflate) and a raw `ws` broadcast (serialize once, send the same
// Buffer to every socket: the limit) — start it alone on CPU core 0 (`taskset -c 0`) and connect 1,000 clients from
// one process on core 1 (`taskset -c 1`), all on 127.0.0.1 (servers.mjs, load.mjs). The clients are the same
// minimal WebSocket client over `node:net` for the three servers (HTTP upgrade, then a frame-header scanner that
// only counts data frames: no `ws`, no `socket.io-client`, no UTF-8/JSON decoding); on top of it each speaks only
// what its protocol requires: SignalR negotiate + `{"protocol":"json","version":1}\x1e` handshake + a Ping every
// 10 s; engine.io v4 / socket.io v5 `0{…}` open → `40` connect, pings `2` answered `3`; nothing for raw ws. One
// client in 20 keeps its frames' bytes and reads the server's send timestamp for latency (20k samples per burst).
// One client process is enough: at the servers' limit the clients use ~20% of core 1 (reads coalesce), printed
// as `cpu s/c` (server/client CPU over the burst, % of one core); more processes on the same core only add
// context switches. Every broadcast is the same object `{t: <send time, ms>, p: <64 × "x">}` (frame bytes printed
// per protocol). Per server:
//   1. memory per idle connection: (RSS and heap after gc with 1,000 connections − before) / 1,000;
//   2. burst: 400 broadcasts as fast as the server sends them (yielding to I/O every 4), 3 times after a 50-broadcast
//      warm-up; deliveries/s = deliveries counted at the clients / (last receive − first send), the median of 3,
//      with p50/p99 latency (send → receive, including the queueing a burst causes);
//   3. offered load: 70 broadcasts/s for 4 s (70k deliveries/s), p50/p99 latency.
// The three servers run in turn, `BENCH_ROUNDS` (default 2) times; each server's round with the fastest burst is
// kept (other work on a shared machine only slows a run down), and the run waits (≤ 30 s) for the machine to be
// ≤ 15% busy before each server. Every loop is bounded (counts and timeouts). Results: bench/.results/hub.json.
// Profile a server with `node --cpu-prof bench/hub/servers.mjs tessera` (it exits cleanly on SIGINT).
//
// Figures, 2026-11-22, this machine (2 vCPUs, Linux sandbox, shared with other benchmarks: the kept round ran at
// 2–4% outside load), Node v20.20.2, `npm run bench:hub` with BENCH_ROUNDS=2; 1,000 clients, 64-byte payload:
//
// | server             | frame B | burst d/s | burst p50/p99 ms | cpu srv/cli % | 70k/s p50/p99 ms | RSS/heap B per conn |
// | ------------------ | ------: | --------: | ---------------: | ------------: | ---------------: | ------------------: |
// | raw ws (limit)     |      95 |   145,294 |         4.5/9.5  |         92/97 |         3.8/9.3  |        10,314/2,754 |
// | socket.io 4        |     103 |   117,675 |         8.4/24.7 |         94/74 |         4.0/9.5  |       26,489/11,115 |
// | Tessera hub (JSON) |     133 |   328,794 |         6.3/14.9 |         85/60 |         4.8/10.3 |        25,731/8,718 |
//
// Tessera / socket.io 2.79× (target ≥ 1.4×), Tessera / raw ws 226% (≥ 80%), p99 at 70k/s 1.11× raw ws (≤ 1.3×).
// The hub corks each socket for a synchronous run of sends, so the 4 broadcasts of one turn leave in one `writev`
// per connection where raw `ws.send` makes 4 (a write costs ~8 µs here; see websockets.ts): the raw ws row is the
// limit of one write per send, not of the machine. With BENCH_YIELD_EVERY=1 (one broadcast per turn, nothing to
// coalesce) the hub does 148k/s against raw ws 164k/s (90%) and socket.io 116k/s (1.27×: the 1.4× target is then
// missed); there the clients use ~90–95% of core 1, so those figures are close to what one client core can count.
// Before this change a profile (`--cpu-prof`) of the hub in a burst showed 65% of its time in `writev` (~8 µs
// per call, one per delivery), ws framing and the fan-out loop next, plus a `Date.now()` per delivery (~0.4 µs
// each on this host; now read once per broadcast).
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
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

/** Share of both cores busy over `ms` (from /proc/stat), or undefined off Linux. */
async function machineBusy(ms = 1000) {
  const sample = () => {
    try {
      const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
      const values = fields.map(Number);
      return { idle: values[3] + values[4], total: values.reduce((a, b) => a + b, 0) };
    } catch {
      return undefined;
    }
  };
  const before = sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = sample();
  if (before === undefined || after === undefined) return undefined;
  return 1 - (after.idle - before.idle) / (after.total - before.total);
}

/** Waits (at most 30 s) until other work leaves the machine mostly idle. */
async function waitQuiet() {
  let busy = await machineBusy();
  for (let waited = 0; busy !== undefined && busy > 0.15 && waited < 30; waited += 3) {
    if (waited === 0) console.warn(`machine ${Math.round(busy * 100)}% busy: waiting for it to calm down…`);
    busy = await machineBusy(3000);
  }
  return busy === undefined ? undefined : Math.round(busy * 100);
}

const rounds = Number(process.env.BENCH_ROUNDS ?? '2');
const results = { ws: [], socketio: [], tessera: [] };
for (let round = 0; round < rounds; round++) {
  for (const kind of ['ws', 'socketio', 'tessera']) {
    const busyBeforePercent = await waitQuiet();
    const result = { ...(await measure(kind)), busyBeforePercent };
    results[kind].push(result);
    console.log(`${kind.padEnd(8)} ${JSON.stringify(result)}`);
  }
}
// Other work on a shared machine only slows a run down: keep each server's fastest burst round.
const best = (kind) =>
  results[kind].reduce((a, b) => (b.burst.deliveriesPerSecond > a.burst.deliveriesPerSecond ? b : a));
const ws = best('ws');
const socketio = best('socketio');
const tessera = best('tessera');
const row = (name, r) =>
  `| ${name.padEnd(20)} | ${String(r.frameBytes).padStart(5)} | ${String(r.burst.deliveriesPerSecond).padStart(9)} | ${String(r.burst.deliveriesPerServerCpuSecond).padStart(12)} | ${String(r.burst.p50Ms).padStart(9)} | ${String(r.burst.p99Ms).padStart(9)} | ${`${r.burst.serverCpuPercent}/${r.burst.clientCpuPercent}`.padStart(9)} | ${String(r.rate.p50Ms).padStart(9)} | ${String(r.rate.p99Ms).padStart(9)} | ${String(r.memory.rssBytesPerConnection).padStart(10)} | ${String(r.memory.heapBytesPerConnection).padStart(11)} |`;
const ratios = {
  tesseraOverSocketio: +(tessera.burst.deliveriesPerSecond / socketio.burst.deliveriesPerSecond).toFixed(2),
  tesseraOverRawWs: +(tessera.burst.deliveriesPerSecond / ws.burst.deliveriesPerSecond).toFixed(2),
  cpuTesseraOverSocketio: +(
    tessera.burst.deliveriesPerServerCpuSecond / socketio.burst.deliveriesPerServerCpuSecond
  ).toFixed(2),
  cpuTesseraOverRawWs: +(
    tessera.burst.deliveriesPerServerCpuSecond / ws.burst.deliveriesPerServerCpuSecond
  ).toFixed(2),
  tesseraP99OverRawWsP99: +(tessera.rate.p99Ms / ws.rate.p99Ms).toFixed(2),
};
const offered = ws.rate.offeredDeliveriesPerSecond;
console.log(
  `\n${clients} clients, ${process.env.BENCH_PAYLOAD ?? '64'}-byte payload, server on core 0, clients on core 1${taskset ? '' : ' (unpinned)'}, Node ${process.version}, best of ${rounds} rounds`,
);
console.log(
  `| server               | frame | burst d/s | d/s per core | burst p50 | burst p99 | cpu s/c % | ${`${offered / 1000}k/s p50`.padStart(9)} | ${`${offered / 1000}k/s p99`.padStart(9)} | RSS B/conn | heap B/conn |`,
);
console.log(
  '| -------------------- | ----: | --------: | -----------: | --------: | --------: | --------: | --------: | --------: | ---------: | ----------: |',
);
console.log(row('raw ws (limit)', ws));
console.log(row('socket.io 4', socketio));
console.log(row('Tessera hub (JSON)', tessera));
const verdict = (ok) => (ok ? 'met' : 'MISSED');
console.log(
  `\nTessera / socket.io deliveries/s: ${ratios.tesseraOverSocketio.toFixed(2)}× (target ≥ 1.4×: ${verdict(ratios.tesseraOverSocketio >= 1.4)})`,
);
console.log(
  `Tessera / raw ws deliveries/s: ${Math.round(ratios.tesseraOverRawWs * 100)}% (target ≥ 80%: ${verdict(ratios.tesseraOverRawWs >= 0.8)})`,
);
console.log(
  `Tessera p99 / raw ws p99 at ${offered / 1000}k/s: ${ratios.tesseraP99OverRawWsP99.toFixed(2)}× (target ≤ 1.3×: ${verdict(ratios.tesseraP99OverRawWsP99 <= 1.3)})`,
);
console.log(
  `Per second of server CPU (contention-robust): Tessera / socket.io ${ratios.cpuTesseraOverSocketio.toFixed(2)}×, Tessera / raw ws ${Math.round(ratios.cpuTesseraOverRawWs * 100)}%`,
);
const out = fileURLToPath(new URL('../.results/hub.json', import.meta.url));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      clients,
      pinned: taskset,
      rounds,
      best: { ws, socketio, tessera },
      ratios,
      all: results,
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwritten ${out}`);
