import { IdentityError } from '@tessera/protocol';
import type { Redis } from 'ioredis';
import type { ServerMetrics } from './metrics.js';

/**
 * Times every command the client sends into `tessera_redis_command_duration_seconds`, by command name and outcome.
 * A thin wrapper around `sendCommand` (which every ioredis command goes through): the command, its timeouts and
 * its errors are untouched, and the timing is in memory only.
 */
export function timeRedisCommands(redis: Redis, metrics: ServerMetrics): void {
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, stream) => {
    const end = metrics.redisCommandDuration.startTimer({ command: command.name.toLowerCase() });
    const result = send(command, stream);
    if (result instanceof Promise) {
      result.then(
        () => end({ outcome: 'ok' }),
        () => end({ outcome: 'error' }),
      );
    }
    return result;
  };
}

/**
 * Counts the refusals of `attempt` (a password or second-factor check) in `tessera_sign_in_failures_total` by the
 * catalogue code they throw, and passes its result or error through unchanged.
 */
export async function countSignInFailures<T>(metrics: ServerMetrics, attempt: Promise<T>): Promise<T> {
  try {
    return await attempt;
  } catch (error) {
    if (error instanceof IdentityError && error.status < 500) metrics.signInFailed(error.code);
    throw error;
  }
}
