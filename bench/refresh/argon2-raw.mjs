/**
 * The raw argon2id rate: `@node-rs/argon2` `verify` of a correct password against a hash made with Tessera's
 * parameters (`ARGON2ID_PARAMETERS`, m = 19456 KiB, t = 2, p = 1), with `concurrency` calls in flight (as many
 * as the sign-in load has connections), for `seconds`. Run by run.mjs pinned to the server core, so it gets the
 * same single core (and libuv threadpool) that Tessera's sign-ins get.
 *
 * Input: JSON `{ hash, password, concurrency, seconds }` in argv[2]. Output: one JSON line
 * `{ verifies, seconds, cpuSeconds }`.
 */
import { performance } from 'node:perf_hooks';
import { verify } from '@node-rs/argon2';

const job = JSON.parse(process.argv[2] ?? '{}');
const started = performance.now();
const cpuBefore = process.cpuUsage();
const deadline = started + job.seconds * 1000;
let verifies = 0;
await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    while (performance.now() < deadline) {
      if (!(await verify(job.hash, job.password))) throw new Error('argon2id verify returned false');
      verifies += 1;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
const { user, system } = process.cpuUsage(cpuBefore);
process.stdout.write(`${JSON.stringify({ verifies, seconds, cpuSeconds: (user + system) / 1e6 })}\n`);
