import { decode, encode } from '@msgpack/msgpack';
import { Redis, type RedisOptions } from 'ioredis';
import type { Backplane, BackplaneEnvelope } from './backplane.js';

/** What every Redis backplane takes. */
interface RedisBackplaneCommonOptions {
  /** Prefix of every channel name (default `tessera:hub:`); lets several applications share one Redis. */
  readonly channelPrefix?: string;
}

/**
 * A backplane on a Redis client the application made (and configured: TLS, credentials, retries) at its
 * composition root. The backplane publishes through `redis` and subscribes through one duplicate of it
 * (`redis.duplicate()`: a subscribed connection can do nothing else); `close()` ends the duplicate and leaves
 * `redis` to its owner.
 */
export interface RedisClientBackplaneOptions extends RedisBackplaneCommonOptions {
  readonly redis: Redis;
  readonly url?: never;
}

/** A backplane that opens and owns its two connections to the Redis at `url`. */
export interface RedisUrlBackplaneOptions extends RedisBackplaneCommonOptions {
  /** `redis://[:password@]host:port[/db]` (`rediss://` for TLS). */
  readonly url: string;
  /** Extra ioredis options (TLS, …) of both connections. */
  readonly redisOptions?: RedisOptions;
  readonly redis?: never;
}

/** Options of {@link createRedisBackplane}: a client the application owns, or a URL. */
export type RedisBackplaneOptions = RedisClientBackplaneOptions | RedisUrlBackplaneOptions;

/**
 * A Redis pub/sub backplane: one publishing and one subscribing connection per process; envelopes are
 * MessagePack-encoded (binary arguments survive). Redis pub/sub is at-most-once: a node that is disconnected
 * from Redis misses what was published meanwhile (as with ASP.NET's Redis backplane): once the publishing
 * connection has been ready, `publish` rejects at once while it is reconnecting (nothing is queued), and ioredis
 * renews the subscription when it is back. Nothing is read from the environment: the application passes its
 * client or URL (docs/hub.md "Scale-out"). Its connection directory keeps
 * `{channelPrefix}connection:{hash}` keys (a node id, with a time to live) on the publishing connection.
 *
 * @example createRedisBackplane({ redis: new Redis(config.redisUrl) })
 */
export function createRedisBackplane(options: RedisBackplaneOptions): Backplane {
  const prefix = options.channelPrefix ?? 'tessera:hub:';
  const { publisher, subscriber, ownsPublisher } = connectionsOf(options);
  const handlers = new Map<string, Set<(envelope: BackplaneEnvelope) => void>>();
  let connected: Promise<void> | undefined;
  // Before its first `ready` (an application's client still connecting), commands wait in ioredis' queue.
  let publisherWasReady = publisher.status === 'ready';
  publisher.once('ready', () => {
    publisherWasReady = true;
  });
  const connect = (): Promise<void> =>
    (connected ??= Promise.all([connectIfIdle(publisher), connectIfIdle(subscriber)]).then(() => undefined));

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
  // ioredis reconnects on its own; errors are reported through its events and must not crash the process. The
  // application's own client reports to the application's listeners.
  if (ownsPublisher) publisher.on('error', () => undefined);
  subscriber.on('error', () => undefined);

  const keyOf = (key: string): string => `${prefix}connection:${key}`;
  return {
    directory: {
      async set(keys, nodeId, ttlMs) {
        if (keys.length === 0) return;
        await connect();
        const pipeline = publisher.pipeline();
        for (const key of keys) pipeline.set(keyOf(key), nodeId, 'PX', ttlMs);
        await pipeline.exec();
      },
      async get(key) {
        await connect();
        return (await publisher.get(keyOf(key))) ?? undefined;
      },
      async delete(keys) {
        if (keys.length === 0) return;
        await connect();
        await publisher.del(...keys.map(keyOf));
      },
    },
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
      // At-most-once: while the publishing connection is down (ioredis reconnecting), fail at once instead of
      // queueing, so a send neither waits for the retries nor reaches other nodes late after Redis returns.
      if (publisherWasReady && publisher.status !== 'ready') {
        throw new Error(`Redis is not connected (${publisher.status}).`);
      }
      await publisher.publish(prefix + channel, Buffer.from(encode(envelope)));
    },
    async close() {
      handlers.clear();
      const owned = ownsPublisher ? [publisher, subscriber] : [subscriber];
      if (connected !== undefined) {
        await Promise.allSettled(owned.map((client) => client.quit()));
      } else {
        for (const client of owned) client.disconnect();
      }
    },
  };
}

/** The publishing and the subscribing connection, both lazy when the backplane makes them. */
function connectionsOf(options: RedisBackplaneOptions): {
  readonly publisher: Redis;
  readonly subscriber: Redis;
  readonly ownsPublisher: boolean;
} {
  if (options.redis !== undefined) {
    return {
      publisher: options.redis,
      subscriber: options.redis.duplicate({ lazyConnect: true }),
      ownsPublisher: false,
    };
  }
  const connection = (): Redis => new Redis(options.url, { lazyConnect: true, ...options.redisOptions });
  return { publisher: connection(), subscriber: connection(), ownsPublisher: true };
}

/** Connects a lazily created client; one the application already connected (or is connecting) is left alone. */
function connectIfIdle(client: Redis): Promise<void> {
  return client.status === 'wait' ? client.connect() : Promise.resolve();
}
