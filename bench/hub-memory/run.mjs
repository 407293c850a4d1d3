// Hub memory per idle connection: `npm run bench:hub-memory`. The Tessera hub (SignalR JSON protocol over
// WebSockets, after negotiate) beside two raw `ws` servers, in one run: `ws` (the upgrade only) and `ws-signalr`
// (the limit the target is measured against: the same SignalR handshake and pings an idle hub connection
// exchanges, answered by raw `ws` with nothing kept per socket beyond what `ws` keeps). For each server in turn:
// start it alone (bench/hub/servers.mjs, the servers of `npm run bench:hub`, on CPU core 0 when `taskset` is
// there), read its RSS and heap after a full GC, open BENCH_CLIENTS (default 1,000) idle connections from one
// client process (clients.mjs, core 1) spread over several source addresses 127.0.0.x, wait a second, read RSS
// and heap after a GC again, and print (after − before) / connections. BENCH_CLIENTS=max opens the most the
// open-file limit allows (`ulimit -n` minus a margin: every connection is one descriptor in the server).
// BENCH_HEAP_SNAPSHOT=1 also writes two heap snapshots of each server, before and with its connections open (in
// the system's temporary directory; open them in Chrome DevTools → Memory). Results:
// bench/.results/hub-memory.json. Figures and what the snapshots showed: docs/benchmarks.md.
/* global fetch */
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const openFileLimit = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim());
const requested = process.env.BENCH_CLIENTS ?? '1000';
const clients =
  requested === 'max'
    ? Math.floor((openFileLimit - 200) / 100) * 100
    : Math.min(Number(requested), 1_000_000);
const kinds = (process.env.BENCH_SERVERS ?? 'ws,ws-signalr,tessera').split(',');
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

function run(command, args, onLine, stdin = 'ignore') {
  const child = spawn(command, args, { stdio: [stdin, 'pipe', 'inherit'] });
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

const control = async (port, path) => (await fetch(`http://127.0.0.1:${port}${path}`)).json();

async function measure(kind) {
  let server;
  const port = await new Promise((resolve, reject) => {
    server = run(...pinned(0, ['--expose-gc', here('../hub/servers.mjs'), kind]), (line) => {
      const match = /^ready (\d+)/.exec(line);
      if (match) resolve(match[1]);
    });
    server.on('exit', (code) => reject(new Error(`${kind} server exited ${code}`)));
  });
  try {
    // Warm the server's code paths (one connection opened and closed) before the baseline.
    await openClients(kind, port, 1).then(({ close }) => close());
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = await control(port, '/control/memory');
    const snapshots = [];
    if (process.env.BENCH_HEAP_SNAPSHOT === '1')
      snapshots.push((await control(port, '/control/snapshot')).path);
    const startedAt = Date.now();
    const { close } = await openClients(kind, port, clients);
    const openSeconds = (Date.now() - startedAt) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await control(port, '/control/memory');
    if (after.connections !== clients)
      throw new Error(`${kind} server sees ${after.connections} connections`);
    if (process.env.BENCH_HEAP_SNAPSHOT === '1')
      snapshots.push((await control(port, '/control/snapshot')).path);
    close();
    return {
      kind,
      clients,
      openSeconds: +openSeconds.toFixed(1),
      rssBytesBefore: before.rss,
      rssBytesAfter: after.rss,
      heapBytesBefore: before.heapUsed,
      heapBytesAfter: after.heapUsed,
      rssBytesPerConnection: Math.round((after.rss - before.rss) / clients),
      heapBytesPerConnection: Math.round((after.heapUsed - before.heapUsed) / clients),
      heapTotalBytesPerConnection: Math.round((after.heapTotal - before.heapTotal) / clients),
      externalBytesPerConnection: Math.round((after.external - before.external) / clients),
      ...(snapshots.length === 0 ? {} : { snapshots }),
    };
  } finally {
    server.kill();
  }
}

function openClients(kind, port, count) {
  return new Promise((resolve, reject) => {
    const child = run(
      ...pinned(1, [here('./clients.mjs'), kind, port, String(count)]),
      (line) => {
        if (line.startsWith('open ')) resolve({ close: () => child.stdin.end() });
      },
      'pipe',
    );
    child.on('exit', (code) => code !== 0 && reject(new Error(`${kind} clients exited ${code}`)));
  });
}

// RSS after a GC moves by a KB or two per connection from run to run (what the allocator keeps): each server is
// measured BENCH_ROUNDS times (default 3), in turn, and the round with the median RSS is kept.
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? '3'));
const all = new Map(kinds.map((kind) => [kind, []]));
for (let round = 0; round < rounds; round++) {
  for (const kind of kinds) {
    const result = await measure(kind);
    all.get(kind).push(result);
    console.log(`${kind.padEnd(10)} ${JSON.stringify(result)}`);
  }
}
const results = kinds.map((kind) => {
  const sorted = [...all.get(kind)].sort((x, y) => x.rssBytesPerConnection - y.rssBytesPerConnection);
  return { ...sorted[Math.floor(sorted.length / 2)], rounds: sorted.map((r) => r.rssBytesPerConnection) };
});
const ws =
  results.find((result) => result.kind === 'ws-signalr') ?? results.find((result) => result.kind === 'ws');
const tessera = results.find((result) => result.kind === 'tessera');
console.log(`\n${clients} idle connections (open-file limit ${openFileLimit}), median of ${rounds} rounds`);
console.log('| server               | RSS B/conn | heap B/conn | RSS after (MB) |');
for (const result of results) {
  console.log(
    `| ${result.kind.padEnd(20)} | ${String(result.rssBytesPerConnection).padStart(10)} | ${String(result.heapBytesPerConnection).padStart(11)} | ${(result.rssBytesAfter / 1048576).toFixed(1).padStart(14)} |`,
  );
}
const ratio =
  ws && tessera ? +(tessera.rssBytesPerConnection / ws.rssBytesPerConnection).toFixed(2) : undefined;
if (ratio !== undefined)
  console.log(`Tessera / raw ws (${ws?.kind}) RSS per connection: ${ratio}× (target ≤ 1.3×)`);
const out = here('../.results/hub-memory.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ clients, openFileLimit, results, ratio }, null, 2));
process.exit(0);
