import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLogger,
  createTesseraServer,
  loadConfig,
  type Directory,
  type TesseraConfig,
  type TesseraServer,
} from '@tessera/server';
import { createPostgresSchema, type PostgresSchema } from './services.js';

/** The master key (base64, 32 bytes) of test servers on PostgreSQL unless `config.masterKey` says otherwise. */
export const TEST_MASTER_KEY = Buffer.alloc(32, 0x5e).toString('base64');

/** Options of {@link startTestServer}. */
export interface TestServerOptions {
  /** Default `sqlite` (a file in a fresh data directory). */
  readonly database?: 'sqlite' | 'postgres';
  /** Configuration overrides (e.g. `strictAssertionJtiReplay`). */
  readonly config?: Partial<TesseraConfig>;
  /** Reuse a data directory (e.g. to restart on the same state); default a fresh temporary one. */
  readonly dataDir?: string;
  /** Reuse a PostgreSQL schema URL; default a fresh schema when `database` is `postgres`. */
  readonly databaseUrl?: string;
}

/** A real Tessera server on a free port over HTTPS, for tests. */
export interface TestServer {
  /** Public base URL, `https://localhost:{port}`. */
  readonly url: string;
  readonly port: number;
  readonly server: TesseraServer;
  readonly directory: Directory;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  close(): Promise<void>;
}

/**
 * Starts a real server (embedded SQLite or a fresh PostgreSQL schema) on a free port. TLS uses the shared test CA
 * prepared by the Vitest global setup (`TESSERA_TEST_TLS_DIR`, trusted via `NODE_EXTRA_CA_CERTS`), else a
 * development CA in the data directory.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tessera-test-'));
  let schema: PostgresSchema | undefined;
  let databaseUrl = options.databaseUrl;
  if (options.database === 'postgres' && databaseUrl === undefined) {
    schema = await createPostgresSchema();
    databaseUrl = schema.url;
  }
  const tlsDir = process.env.TESSERA_TEST_TLS_DIR;
  const config = loadConfig(
    {},
    {
      dataDir,
      port: 0,
      logLevel: 'silent',
      directoryPollIntervalMs: 100,
      // PostgreSQL needs a configured master key; every test server on one schema gets the same one.
      ...(databaseUrl === undefined ? {} : { databaseUrl, masterKey: TEST_MASTER_KEY }),
      ...(tlsDir === undefined
        ? { tls: 'dev' as const }
        : {
            tls: 'files' as const,
            tlsCertFile: join(tlsDir, 'server.pem'),
            tlsKeyFile: join(tlsDir, 'server-key.pem'),
          }),
      ...options.config,
    },
  );
  const server = await createTesseraServer(config, { logger: createLogger(config.logLevel) });
  const url = await server.listen();
  return {
    url,
    port: Number(new URL(url).port),
    server,
    directory: server.directory,
    dataDir,
    databaseUrl,
    async close() {
      await server.close();
      await schema?.drop();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
