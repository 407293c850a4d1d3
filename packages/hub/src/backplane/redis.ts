import { decode, encode } from '@msgpack/msgpack';
import { Redis, type RedisOptions } from 'ioredis';
import type { Backplane, BackplaneEnvelope } from './backplane.js';
import { createInMemoryBackplane } from './in-memory.js';

/** Options of {@link createRedisBackplane}. */
export interface RedisBackplaneOptions {
  /** `redis://[:password@]host:port[/db]`. */
  readonly url: string;
  /** Prefix of every channel name (default `tessera:hub:`); lets several applications share one Redis. */
  readonly channelPrefix?: string;
  /** Extra ioredis options (TLS, …). */
  readonly redis?: RedisOptions;
}

/**
 * A Redis pub/sub backplane: one publishing and one subscribing ioredis connection per process; envelopes are
 * MessagePack-encoded (binary arguments survive). Redis pub/sub is at-most-once: a node that is disconnected
 * from Redis misses what was published meanwhile (as with ASP.NET's Redis backplane).
 */
export function createRedisBackplane(options: RedisBackplaneOptions): Backplane {
  const prefix = options.channelPrefix ?? 'tessera:hub:';
  const publisher = new Redis(options.url, { lazyConnect: true, ...options.redis });
  const subscriber = new Redis(options.url, { lazyConnect: true, ...options.redis });
  const handlers = new Map<string, Set<(envelope: BackplaneEnvelope) => void>>();
  let connected: Promise<void> | undefined;
  const connect = (): Promise<void> =>
    (connected ??= Promise.all([publisher.connect(), subscriber.connect()]).then(() => undefined));

  subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
    const subscribed = handlers.get(channel.toString('utf8'));
    if (subscribed === undefined) return;
    let envelope: BackplaneEnvelope;
    try {
      envelope = decode(message) as BackplaneEnvelope;
    } catch {
      return;
    }
    for (const handler of subscribed) handler(envelope);
  });
  // ioredis reconnects on its own; errors are reported through its events and must not crash the process.
  publisher.on('error', () => undefined);
  subscriber.on('error', () => undefined);

  return {
    async subscribe(channel, handler) {
      await connect();
      const name = prefix + channel;
      let subscribed = handlers.get(name);
      if (subscribed === undefined) {
        subscribed = new Set();
        handlers.set(name, subscribed);
        await subscriber.subscribe(name);
      }
      subscribed.add(handler);
      const set = subscribed;
      return async () => {
        set.delete(handler);
        if (set.size === 0) {
          handlers.delete(name);
          await subscriber.unsubscribe(name);
        }
      };
    },
    async publish(channel, envelope) {
      await connect();
      await publisher.publish(prefix + channel, Buffer.from(encode(envelope)));
    },
    async close() {
      handlers.clear();
      if (connected !== undefined) {
        await Promise.allSettled([publisher.quit(), subscriber.quit()]);
      } else {
        publisher.disconnect();
        subscriber.disconnect();
      }
    },
  };
}

/**
 * The backplane the environment asks for: Redis when `REDIS_URL` is set, else the in-memory default.
 */
export function backplaneFromEnvironment(env: NodeJS.ProcessEnv = process.env): Backplane {
  const url = env.REDIS_URL;
  return url !== undefined && url !== '' ? createRedisBackplane({ url }) : createInMemoryBackplane();
}
