import type { Backplane, BackplaneEnvelope } from './backplane.js';

/**
 * The default backplane: a bus inside one process (several hub servers created with the same instance see each
 * other's messages, which is how tests simulate nodes without Redis).
 */
export function createInMemoryBackplane(): Backplane {
  const channels = new Map<string, Set<(envelope: BackplaneEnvelope) => void>>();
  return {
    subscribe(channel, handler) {
      let handlers = channels.get(channel);
      if (handlers === undefined) {
        handlers = new Set();
        channels.set(channel, handlers);
      }
      handlers.add(handler);
      const subscribed = handlers;
      return Promise.resolve(() => {
        subscribed.delete(handler);
        return Promise.resolve();
      });
    },
    publish(channel, envelope) {
      const handlers = channels.get(channel);
      if (handlers !== undefined && handlers.size > 1) {
        for (const handler of handlers) {
          queueMicrotask(() => {
            handler(envelope);
          });
        }
      }
      return Promise.resolve();
    },
    close() {
      channels.clear();
      return Promise.resolve();
    },
  };
}
