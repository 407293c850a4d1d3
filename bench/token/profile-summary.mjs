/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): where the main thread's time went, by category
 * (Tessera, Fastify, jose, Node's HTTP and crypto internals, GC, idle) and by function (self time), plus the
 * inclusive time of Tessera's own functions. The profiler samples the JavaScript thread only: work done on libuv
 * threadpool threads (WebCrypto `crypto.subtle.sign`) shows up as `(idle)` time of the main thread.
 *
 * Usage: node bench/token/profile-summary.mjs <file.cpuprofile>
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Category of a call frame, from its script URL. */
function category(frame) {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.includes('/packages/')) return 'Tessera';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg !== undefined) {
    if (
      ['fastify', 'find-my-way', 'avvio', 'light-my-request'].includes(pkg) ||
      pkg.startsWith('@fastify/')
    ) {
      return 'Fastify';
    }
    return pkg;
  }
  if (/crypto/.test(url)) return 'node: crypto';
  if (/_http_|node:net|internal\/(stream|streams|http)/.test(url)) return 'node: http/net/streams';
  return 'node: other';
}

function frameKey(frame) {
  const file = frame.url.replace(/^.*\/(node_modules|packages)\//, '$1/');
  return `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
}

/** Self time per node id, in microseconds. */
function selfTimes(profile) {
  const self = new Map();
  profile.samples.forEach((id, index) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  return self;
}

function addTo(map, key, value) {
  map.set(key, (map.get(key) ?? 0) + value);
}

/** Inclusive time per frame key, counting each call stack once even when a function recurses. */
function inclusiveTimes(profile, self) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const inclusive = new Map();
  const walk = (node, keysOnStack) => {
    const key = frameKey(node.callFrame);
    const fresh = !keysOnStack.has(key);
    if (fresh) keysOnStack.add(key);
    let total = self.get(node.id) ?? 0;
    for (const childId of node.children ?? []) total += walk(byId.get(childId), keysOnStack);
    if (fresh) {
      keysOnStack.delete(key);
      addTo(inclusive, key, total);
    }
    return total;
  };
  walk(profile.nodes[0], new Set());
  return inclusive;
}

function top(map, total, count, filter = () => true) {
  return [...map.entries()]
    .filter(([key]) => filter(key))
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(
      ([key, us]) =>
        `  ${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`,
    )
    .join('\n');
}

/** The printed summary of one profile. */
export function summariseProfile(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const self = selfTimes(profile);
  const byCategory = new Map();
  const byFunction = new Map();
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    addTo(byCategory, category(node.callFrame), us);
    addTo(byFunction, frameKey(node.callFrame), us);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const busy = total - (byCategory.get('(idle)') ?? 0);
  const notIdle = (key) => !key.startsWith('(idle)');
  return [
    `Sampled ${(total / 1e6).toFixed(1)} s of the main thread, ${(busy / 1e6).toFixed(1)} s not idle; ` +
      'shares below are of the not-idle time.',
    'Self time by category:',
    top(byCategory, busy, 20, notIdle),
    'Top functions by self time:',
    top(byFunction, busy, 25, notIdle),
    "Inclusive time of Tessera's functions (synchronous call stacks only):",
    top(inclusiveTimes(profile, self), busy, 15, (key) => key.includes(' packages/')),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: node bench/token/profile-summary.mjs <file.cpuprofile>');
  console.log(summariseProfile(file));
}
