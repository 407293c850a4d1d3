import { createServer } from 'node:net';

/**
 * A TCP port nothing listens on right now: bound on `host` (default `127.0.0.1`), read, and released. Another
 * process may take it before the caller binds it; tests that start servers on it accept that small race.
 *
 * @throws Error when no port can be bound.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      probe.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port);
        else reject(new Error('no free port'));
      });
    });
  });
}
