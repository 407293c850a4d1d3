/**
 * CPU time from Linux `/proc` (proc(5)), sampled around each measured slice so a report can show that the server
 * core was saturated by the server alone and that the load generator was not the bottleneck.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime, in seconds, from a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` file. */
export function cpuSeconds(statFile) {
  const stat = readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ", field 0 is state; utime and stime are fields 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Busy seconds (all but idle and iowait) of one core, from `/proc/stat`. */
export function coreBusySeconds(core) {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${core} `));
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const [, , , idle, iowait] = ticks;
  return (ticks.reduce((a, b) => a + b, 0) - idle - iowait) / CLOCK_TICKS;
}

/**
 * CPU seconds used so far, all in seconds: the server process (`server`, all threads; `serverMain`, its main
 * thread), this process (`load`), and the whole server core (`serverCore`).
 */
export function cpuSnapshot(serverPid, serverCore) {
  const { user, system } = process.cpuUsage();
  return {
    server: cpuSeconds(`/proc/${serverPid}/stat`),
    serverMain: cpuSeconds(`/proc/${serverPid}/task/${serverPid}/stat`),
    load: (user + system) / 1e6,
    serverCore: coreBusySeconds(serverCore),
  };
}
