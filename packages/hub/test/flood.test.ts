import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { HubConnection } from '@microsoft/signalr';
import { defineHub, type HubCallerContext } from '@tessera/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, sleep, startHub, until, type RunningHub } from './support/hub.js';
import { startIdentity, type IdentityFixture } from './support/identity.js';

// Acceptance point of issue 8 (items 15 and 16): the hub stays responsive — another client's round trip under
// 50 ms — while one client floods it from another process with the largest frames and the most stream ids it
// allows, and its memory returns to baseline once that client is dropped.

const FLOODER = fileURLToPath(new URL('./support/flooder.mjs', import.meta.url));
const MAX_MESSAGE_BYTES = 32_768; // the default
const MAX_FRAME_BYTES = 4 * MAX_MESSAGE_BYTES; // the default frame limit
const MB = 1024 * 1024;

// A full collection without a command-line flag (vitest's workers are not started with --expose-gc).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'major'; execution: 'sync' }) => void;

/** Heap and buffer memory after full collections, in bytes (buffers hold frames outside the JS heap). */
async function settledMemory(): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 4; round++) {
    await sleep(50);
    gc();
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    best = Math.min(best, heapUsed + arrayBuffers);
  }
  return best;
}

const hub = defineHub({
  methods: {
    add: (_context: HubCallerContext, a: number, b: number) => a + b,
    async sum(_context: HubCallerContext, numbers: AsyncIterable<number>) {
      let total = 0;
      for await (const value of numbers) total += value;
      return total;
    },
    adminOnly: () => 'secret',
  },
  methodOptions: { adminOnly: { policy: { appRoles: ['Data.Write.All'] } } },
});

let identity: IdentityFixture;
let running: RunningHub;
let alice: string;
let bob: string;
let bystander: HubConnection;

beforeAll(async () => {
  identity = await startIdentity();
  [alice, bob] = await Promise.all([identity.token(identity.alice), identity.token(identity.bob)]);
  running = await startHub({ path: '/hubs/flood', hub, authentication: { validator: identity.validator() } });
  bystander = await connect(running.url, { transport: 'WebSockets', token: () => bob });
});

afterAll(async () => {
  await bystander.stop();
  await running.close();
  await identity.close();
});

interface Flooder {
  readonly child: ChildProcess;
  /** Latest `{ sent, received }` it printed. */
  stats(): { sent: number; received: number };
  drop(): Promise<void>;
}

async function startFlooder(): Promise<Flooder> {
  const child = spawn(process.execPath, [FLOODER], {
    env: {
      ...process.env,
      HUB_URL: running.url.replace(/^http/, 'ws'),
      TOKEN: alice,
      FRAME_BYTES: String(MAX_FRAME_BYTES),
      MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let latest = { sent: 0, received: 0 };
  let flooding = false;
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'flooding') flooding = true;
      else if (line.startsWith('{')) latest = JSON.parse(line) as typeof latest;
    }
  });
  await until(() => flooding, 10_000);
  return {
    child,
    stats: () => latest,
    async drop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      await until(() => running.hub.connectionCount === 1, 10_000);
    },
  };
}

/**
 * Round trips of the bystander's `add` over the official client, in ms: rounds of `perRound` calls (one every
 * `intervalMs`) for `durationMs`.
 */
async function roundTrips(durationMs: number, perRound: number, intervalMs: number): Promise<number[][]> {
  const rounds: number[][] = [];
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    const round: number[] = [];
    for (let index = 0; index < perRound; index++) {
      const started = performance.now();
      expect(await bystander.invoke('add', 1, 2)).toBe(3);
      round.push(performance.now() - started);
      await sleep(intervalMs);
    }
    rounds.push(round);
  }
  return rounds;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

describe('a flooding client', () => {
  it('leaves another client’s round trip under 50 ms, and the memory at baseline once dropped', async () => {
    // Warm-up: the same flood once, so that code compiled and caches filled for it are in the baseline.
    const warmUp = await startFlooder();
    await roundTrips(1500, 8, 10);
    await warmUp.drop();
    const baseline = await settledMemory();
    // The same measure without a flood, for the report: on a shared machine the scheduler adds its own delays.
    const quiet = (await roundTrips(1000, 8, 10)).flat();

    const flooder = await startFlooder();
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    const rounds = await roundTrips(5000, 8, 10);
    loopDelay.disable();
    const during = flooder.stats();
    const samples = rounds.flat();
    // Each round's slowest call; their median is robust to a few descheduled moments of a loaded machine, yet
    // fails whenever the hub holds its event loop for long again and again (as one big frame parsed at once did).
    const roundMax = rounds.map((round) => Math.max(...round));

    // Memory while the flooder is still connected, once it stops sending and what it sent is read.
    flooder.child.kill('SIGSTOP');
    await sleep(500);
    const connected = await settledMemory();
    flooder.child.kill('SIGCONT');
    await flooder.drop();
    const dropped = await settledMemory();

    const report = {
      quietP95Ms: percentile(quiet, 95).toFixed(1),
      samples: samples.length,
      medianRoundMaxMs: percentile(roundMax, 50).toFixed(1),
      p50Ms: percentile(samples, 50).toFixed(1),
      p95Ms: percentile(samples, 95).toFixed(1),
      maxMs: Math.max(...samples).toFixed(1),
      loopDelayMaxMs: (loopDelay.max / 1e6).toFixed(1),
      framesSent: during.sent,
      recordsAnswered: during.received,
      baselineMB: (baseline / MB).toFixed(1),
      connectedMB: (connected / MB).toFixed(1),
      droppedMB: (dropped / MB).toFixed(1),
    };
    console.log(`flood: ${JSON.stringify(report)}`);

    // The flood was real: megabytes of frames reached the hub and it answered them.
    expect(during.sent * MAX_FRAME_BYTES).toBeGreaterThan(8 * MB);
    expect(during.received).toBeGreaterThan(100);
    // Responsive: in most rounds of 8 calls, every call under 50 ms; half of all calls well under it.
    expect(percentile(roundMax, 50)).toBeLessThan(50);
    expect(percentile(samples, 50)).toBeLessThan(25);
    // Bounded while connected (no per-connection growth with what it sent), back to baseline once dropped.
    expect(connected - baseline).toBeLessThan(16 * MB);
    expect(dropped - baseline).toBeLessThan(3 * MB);
  }, 60_000);
});
