import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import {
  createServer as createHttpServer,
  Agent,
  request as httpRequest,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import { connect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliEnvironment, TESSERA_CLI } from './cli.js';
import { freePort } from './ports.js';
import { TEST_MASTER_KEY } from './test-server.js';

/**
 * A TCP relay on `127.0.0.1`: every connection it accepts is piped to `target`. {@link TcpRelay.cut} drops every
 * relayed connection and refuses new ones (what a node sees while PostgreSQL restarts or the network is
 * partitioned); {@link TcpRelay.open} accepts again on the same port.
 */
export class TcpRelay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** The relay's port; 0 until first opened. */
  port = 0;

  constructor(private readonly target: { readonly host: string; readonly port: number }) {}

  /** Starts accepting (on a free port the first time, then on the same port). */
  async open(): Promise<void> {
    if (this.server !== undefined) return;
    const server = createTcpServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    const address = server.address();
    if (typeof address === 'object' && address !== null) this.port = address.port;
    this.server = server;
  }

  /** Destroys every relayed connection and stops accepting until {@link TcpRelay.open}. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server !== undefined)
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
  }

  /** `url` (same database, options and credentials) with its host and port replaced by this relay's. */
  urlOf(url: string): string {
    const relayed = new URL(url);
    relayed.hostname = '127.0.0.1';
    relayed.port = String(this.port);
    return relayed.toString();
  }
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** How many `tessera serve` processes; default 3. */
  readonly nodes?: number;
  /** PostgreSQL URL every node uses (through {@link Cluster.database}), e.g. a `createPostgresSchema` URL. */
  readonly databaseUrl: string;
  /** `REDIS_URL` of every node; default none (sign-in throttling kept in the database). */
  readonly redisUrl?: string;
  /** More environment variables of every node (e.g. `TESSERA_STRICT_ASSERTION_JTI`). */
  readonly env?: Readonly<Record<string, string>>;
  /** How long one node may take to answer after it is spawned; default 30 000 ms. */
  readonly startTimeoutMs?: number;
}

/** N `tessera serve` processes on one database, behind a round-robin front. */
export interface Cluster {
  /**
   * Base URL of the front, `http://127.0.0.1:{port}`: every request goes to the next running node in turn (per
   * request, whatever the client's keep-alive), and its answer carries `x-cluster-node: {index}`. Every node's
   * `publicUrl` is this URL, so issuers and endpoints are the same whichever node answers.
   */
  readonly url: string;
  /** Each node's own base URL (`http://127.0.0.1:{port}`, TLS off), by index. */
  readonly nodeUrls: readonly string[];
  /** The master key (base64) every node has: {@link TEST_MASTER_KEY}. */
  readonly masterKey: string;
  /** The relay between the nodes and PostgreSQL: `cut()` imitates a database restart, `open()` ends it. */
  readonly database: TcpRelay;
  /** The URL the nodes connect to PostgreSQL with (through {@link Cluster.database}). */
  readonly nodeDatabaseUrl: string;
  /** Whether node `index`'s process is running. */
  running(index: number): boolean;
  /** Everything node `index` wrote to stdout and stderr. */
  output(index: number): string;
  /** Sends `signal` (default `SIGTERM`) to node `index`; resolves once it exited. The front skips it. */
  kill(index: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts node `index` again (after {@link Cluster.kill}) on its port; resolves once it answers. */
  restart(index: number): Promise<void>;
  /** Stops every node (SIGTERM, then SIGKILL after 5 s), the front and the relay; removes the data directories. */
  close(): Promise<void>;
}

interface Node {
  readonly port: number;
  readonly dataDir: string;
  process: ChildProcess | undefined;
  output: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a cluster: a TCP relay to the PostgreSQL of `databaseUrl`, a round-robin front, and `nodes` child
 * processes `node {TESSERA_CLI} serve` (the built CLI) with TLS off, the front's URL as `TESSERA_PUBLIC_URL`, the
 * shared {@link TEST_MASTER_KEY}, `REDIS_URL` when given, a 100 ms directory poll and `env`. Node 0 starts
 * first (it migrates the schema and creates the signing keys), the others then together. Seed the directory
 * in-process on the same `databaseUrl` (e.g. `startTestServer({ databaseUrl })`); the nodes see it within their
 * directory poll.
 *
 * @throws Error when a node exits or does not answer within `startTimeoutMs` (its output in the message).
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const count = options.nodes ?? 3;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const target = new URL(options.databaseUrl);
  const database = new TcpRelay({ host: target.hostname, port: Number(target.port || 5432) });
  await database.open();
  const nodeDatabaseUrl = database.urlOf(options.databaseUrl);

  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) {
    nodes.push({
      port: await freePort(),
      dataDir: mkdtempSync(join(tmpdir(), `tessera-node-${i}-`)),
      process: undefined,
      output: '',
    });
  }
  const nodeUrls = nodes.map((node) => `http://127.0.0.1:${node.port}`);
  const running = (index: number) => {
    const child = nodes[index]?.process;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  };

  // The front: per request to the next running node, over kept-alive connections to the nodes.
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let next = 0;
  const front: HttpServer = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    let index = -1;
    for (let tries = 0; tries < count; tries++) {
      const candidate = next++ % count;
      if (running(candidate)) {
        index = candidate;
        break;
      }
    }
    if (index < 0) {
      res.writeHead(502).end('no node running');
      return;
    }
    const upstream = httpRequest(
      {
        host: '127.0.0.1',
        port: nodes[index]!.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-cluster-node': String(index) });
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'x-cluster-node': String(index) });
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const frontAddress = front.address();
  if (typeof frontAddress !== 'object' || frontAddress === null) throw new Error('the front has no port');
  const url = `http://127.0.0.1:${frontAddress.port}`;

  const environment = cliEnvironment({
    DATABASE_URL: nodeDatabaseUrl,
    TESSERA_MASTER_KEY: TEST_MASTER_KEY,
    TESSERA_TLS: 'off',
    TESSERA_HOST: '127.0.0.1',
    TESSERA_PUBLIC_URL: url,
    TESSERA_LOG_LEVEL: 'warn',
    TESSERA_DIRECTORY_POLL_INTERVAL_MS: '100',
    ...(options.redisUrl === undefined ? {} : { REDIS_URL: options.redisUrl }),
    ...options.env,
  });

  async function start(index: number): Promise<void> {
    const node = nodes[index]!;
    node.output = '';
    const child = spawn(
      process.execPath,
      [TESSERA_CLI, 'serve', '--data', node.dataDir, '--port', String(node.port)],
      { env: environment, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    node.process = child;
    child.stdout.on('data', (chunk: Buffer) => (node.output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (node.output += chunk.toString()));
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (!running(index)) throw new Error(`node ${index} exited at start:\n${node.output}`);
      try {
        const answer = await fetch(`${nodeUrls[index]}/common/v2.0/.well-known/openid-configuration`, {
          signal: AbortSignal.timeout(1000),
        });
        await answer.arrayBuffer();
        if (answer.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`node ${index} did not answer within ${startTimeoutMs} ms:\n${node.output}`);
      await sleep(100);
    }
  }

  async function kill(index: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = nodes[index]?.process;
    if (child === undefined || !running(index)) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  async function close(): Promise<void> {
    await Promise.all(nodes.map((_, index) => kill(index)));
    const frontClosed = new Promise<void>((resolve) =>
      front.close(() => {
        resolve();
      }),
    );
    front.closeAllConnections();
    await frontClosed;
    agent.destroy();
    await database.cut();
    for (const node of nodes) rmSync(node.dataDir, { recursive: true, force: true });
  }

  try {
    await start(0);
    await Promise.all(nodes.slice(1).map((_, i) => start(i + 1)));
  } catch (error) {
    await close();
    throw error;
  }

  return {
    url,
    nodeUrls,
    masterKey: TEST_MASTER_KEY,
    database,
    nodeDatabaseUrl,
    running,
    output: (index) => nodes[index]?.output ?? '',
    kill,
    async restart(index) {
      await kill(index);
      await start(index);
    },
    close,
  };
}
