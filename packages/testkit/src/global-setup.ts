import { join } from 'node:path';
import { ensureDevTls } from '@tessera/server';

/**
 * Vitest global setup: one development CA and `localhost` certificate for every test server, trusted by test
 * processes through `NODE_EXTRA_CA_CERTS` (read by Node at start, so it is set here, before workers fork).
 */
export async function setup(): Promise<void> {
  const dir = join(process.cwd(), '.tmp', 'test-tls');
  const files = await ensureDevTls(dir);
  process.env.TESSERA_TEST_TLS_DIR = dir;
  process.env.NODE_EXTRA_CA_CERTS = files.caFile;
}
