import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { keyRetentionSeconds, type TesseraConfig } from './config/config.js';
import type { ServerContext } from './context.js';
import { Directory } from './directory/directory.js';
import { DirectoryCache, DirectoryWatcher, type DirectoryChanges } from './directory/directory-cache.js';
import { buildHttpApp, createLogger } from './app.js';
import { deriveKeys } from './keys/derived-keys.js';
import { KeyRing, ensureSigningKeys } from './keys/key-ring.js';
import { loadMasterKey } from './keys/master-key.js';
import type { DirectoryStore } from './store/directory-store.js';
import { databaseTarget, openStore } from './store/open-store.js';
import type { Database } from './store/schema.js';
import { SignInStore } from './store/sign-in-store.js';
import { RevocationList } from './tokens/revocations.js';
import { AuthenticationMethods } from './users/authentication-methods.js';
import { PasswordSignIn } from './users/password-sign-in.js';
import { DatabaseSignInThrottle, RedisSignInThrottle } from './users/sign-in-throttle.js';
import { authenticationMethodKey } from './users/totp-secrets.js';
import { SoftwareOathMethodRepository } from './store/repositories/software-oath-methods.js';
import { ensureDevTls } from './tls/dev-tls.js';
import { countSignInFailures, timeRedisCommands } from './operations/instrument.js';
import { ServerMetrics } from './operations/metrics.js';
import { RequestTracing } from './operations/tracing.js';

/** A running (or ready to run) Tessera server. */
export interface TesseraServer {
  readonly config: TesseraConfig;
  readonly app: FastifyInstance;
  /** Directory writes (tenants, apps, credentials, grants, users). */
  readonly directory: Directory;
  readonly store: DirectoryStore;
  readonly logger: Logger;
  /** The development CA file when `tls` is `dev`. */
  readonly devCaFile: string | undefined;
  /**
   * Starts listening.
   *
   * @returns the public base URL (with the bound port when `port` was 0).
   */
  listen(): Promise<string>;
  /** Public base URL; valid after {@link TesseraServer.listen}. */
  baseUrl(): string;
  /**
   * Reloads caches and keys, and reads new revocations, now instead of at the next poll (tests, after
   * out-of-process writes).
   */
  refresh(): Promise<void>;
  /**
   * True once {@link TesseraServer.drain} or {@link TesseraServer.close} began: the node is shutting down and
   * should be reported not ready.
   */
  readonly draining: boolean;
  /**
   * Graceful shutdown: marks the node draining, keeps accepting for a 250 ms settle (so requests already sent are
   * read), then stops accepting connections, answers 503 (`Connection: close`) to new requests on open
   * keep-alive connections and closes idle ones, lets requests in flight finish for up to `graceMs` milliseconds,
   * then closes whatever connections remain, and finally {@link TesseraServer.close}s the rest.
   */
  drain(graceMs: number): Promise<void>;
  /** Closes the HTTP server (waiting for requests in flight), stops the pollers, closes the database and Redis. */
  close(): Promise<void>;
}

/** How long a draining node keeps accepting before it closes its listener, in milliseconds. */
const DRAIN_SETTLE_MS = 250;

/**
 * The composition root: opens and migrates the store, loads (or creates) the master key and signing keys,
 * prepares TLS, wires caches and the change watcher, and builds the HTTP app. Configuration is read here once.
 *
 * @throws Error for an unusable database, master key or TLS files.
 */
export async function createTesseraServer(
  config: TesseraConfig,
  options: { logger?: Logger } = {},
): Promise<TesseraServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = config.metricsEnabled ? new ServerMetrics() : undefined;
  // While PostgreSQL is down (restarting with the cluster), wait for it rather than crash-loop.
  const { db, store } = await openStore(config, {
    log: logger,
    retryWhileUnavailable: true,
    ...(metrics === undefined ? {} : { onQuery: metrics.queryRan.bind(metrics) }),
  });
  try {
    return await assembleServer(config, logger, db, store, metrics);
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

async function assembleServer(
  config: TesseraConfig,
  logger: Logger,
  db: Kysely<Database>,
  store: DirectoryStore,
  metrics: ServerMetrics | undefined,
): Promise<TesseraServer> {
  const masterKey = loadMasterKey(config.masterKey, config.dataDir, databaseTarget(config).dialect);
  if (masterKey.source === 'generated') {
    logger.warn(
      `\n!!! No TESSERA_MASTER_KEY set: generated a master key at ${masterKey.file ?? ''}.\n` +
        '!!! It encrypts the token signing keys. Back it up, keep it secret, and set TESSERA_MASTER_KEY in production.\n',
    );
  }
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  const generated = await ensureSigningKeys(store, masterKey.key, nowSeconds());
  if (generated.length > 0) logger.info({ algorithms: generated }, 'generated token signing keys');
  const retention = keyRetentionSeconds(config);
  // Read before anything is loaded, so a write that lands meanwhile is seen by the watcher's first poll.
  const baselineVersion = await store.version();
  let keyRing = await KeyRing.load(store, masterKey.key, retention, nowSeconds());

  const cache = new DirectoryCache(store);
  const directory = new Directory(store, undefined, {
    auditRetentionDays: config.auditRetentionDays,
    onLogError: (error) => {
      logger.error({ err: error }, 'could not record a directory audit or sign-in');
    },
  });
  let baseUrl = config.publicUrl?.replace(/\/+$/, '');
  const lockoutMs = config.signInLockoutSeconds * 1000;
  // Every node shares the attempt counts: through Redis when configured, else through the database.
  const redis =
    config.redisUrl === undefined
      ? undefined
      : new Redis(config.redisUrl, {
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          lazyConnect: false,
          // A stalled Redis delays a sign-in by at most this; the throttle then counts in the database.
          commandTimeout: config.redisCommandTimeoutMs,
          connectTimeout: config.redisCommandTimeoutMs * 4,
        });
  redis?.on('error', (error: unknown) => {
    logger.warn({ err: error }, 'Redis connection error');
  });
  if (redis !== undefined && metrics !== undefined) timeRedisCommands(redis, metrics);
  const signIn = new SignInStore(db);
  const throttle =
    redis === undefined
      ? new DatabaseSignInThrottle(signIn.signInAttempts, lockoutMs)
      : new RedisSignInThrottle(
          redis,
          lockoutMs,
          (error) => {
            logger.warn({ err: error }, 'sign-in throttle: Redis unavailable; counting in the database');
          },
          {
            throttle: new DatabaseSignInThrottle(signIn.signInAttempts, lockoutMs),
            onRecovered: () => {
              logger.warn('sign-in throttle: Redis answers again; counting in Redis');
            },
          },
        );
  // A revocation is kept until every access token it covers has expired (the signing key retention).
  const revocations = new RevocationList(signIn.revocations, retention, nowSeconds, (error) => {
    logger.error({ err: error }, 'revocation poll failed');
  });
  const passwords = new PasswordSignIn(store, throttle, {
    maxFailuresPerAccount: config.signInMaxFailuresPerAccount,
    maxFailuresPerIp: config.signInMaxFailuresPerIp,
  });
  const authenticationMethods = new AuthenticationMethods({
    methods: new SoftwareOathMethodRepository(db),
    key: authenticationMethodKey(masterKey.key),
    throttle,
    maxFailures: config.signInMaxFailuresPerAccount,
  });
  if (metrics !== undefined) {
    const verifyPassword = passwords.verify.bind(passwords);
    passwords.verify = (input) => countSignInFailures(metrics, verifyPassword(input));
    const verifyCode = authenticationMethods.verifyCode.bind(authenticationMethods);
    authenticationMethods.verifyCode = (...args) => countSignInFailures(metrics, verifyCode(...args));
  }
  const context: ServerContext = {
    config,
    store,
    signIn,
    revocations,
    cache,
    directory,
    keys: deriveKeys(masterKey.key),
    passwords,
    authenticationMethods,
    keyRing: () => keyRing,
    baseUrl: () => {
      if (baseUrl === undefined) throw new Error('The server is not listening yet');
      return baseUrl;
    },
    now: nowSeconds,
  };
  // Evicts what changed; a signing key change (or an unknown one) reloads the key ring on every node.
  const reload = async (changes: DirectoryChanges = 'all') => {
    cache.evict(changes);
    if (changes === 'all' || changes.some((change) => change.entityType === 'signingKey')) {
      keyRing = await KeyRing.load(store, masterKey.key, retention, nowSeconds());
    }
  };
  const watcher = new DirectoryWatcher(
    store,
    reload,
    (error) => {
      logger.error({ err: error }, 'directory poll failed');
    },
    baselineVersion,
  );

  let https: { key: Buffer; cert: Buffer } | undefined;
  let devCaFile: string | undefined;
  if (config.tls === 'dev') {
    const files = await ensureDevTls(join(config.dataDir, 'tls'));
    devCaFile = files.caFile;
    https = { key: readFileSync(files.keyFile), cert: readFileSync(files.certFile) };
    if (files.createdCa) {
      logger.warn(
        `Created a development certificate authority at ${files.caFile} (development only).\n` +
          `  Trust it in Node.js clients with: NODE_EXTRA_CA_CERTS=${files.caFile}`,
      );
    }
  } else if (config.tls === 'files') {
    https = { key: readFileSync(config.tlsKeyFile ?? ''), cert: readFileSync(config.tlsCertFile ?? '') };
  }
  const tracing =
    config.otelTracesEndpoint === undefined ? undefined : new RequestTracing(config.otelTracesEndpoint);
  const app = buildHttpApp(context, {
    logger,
    ...(https === undefined ? {} : { https }),
    operations: {
      metrics,
      metricsBearerToken: config.metricsBearerToken,
      tracing,
      readiness: [
        { name: 'store', check: () => store.version().then(() => undefined) },
        ...(redis === undefined ? [] : [{ name: 'redis', check: () => redis.ping().then(() => undefined) }]),
        // Throws while the key ring holds no active signing key.
        { name: 'keys', check: () => Promise.resolve(keyRing.signingKey('RS256')).then(() => undefined) },
      ],
      draining: () => draining,
    },
  });
  const purge = new SignInStatePurge(context, logger);
  let draining = false;
  const close = async () => {
    draining = true;
    watcher.stop();
    revocations.stop();
    purge.stop();
    await app.close();
    await directory.signIns.close();
    await db.destroy();
    redis?.disconnect();
    await tracing?.shutdown();
  };

  return {
    config,
    app,
    directory,
    store,
    logger,
    devCaFile,
    async listen() {
      await watcher.start(config.directoryPollIntervalMs);
      await revocations.start(config.directoryPollIntervalMs);
      purge.start(config.signInStatePurgeIntervalSeconds * 1000);
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : config.port;
      baseUrl ??= `${https === undefined ? 'http' : 'https'}://localhost:${port}`;
      return baseUrl;
    },
    baseUrl: () => context.baseUrl(),
    async refresh() {
      await reload();
      await revocations.poll();
    },
    get draining() {
      return draining;
    },
    async drain(graceMs) {
      draining = true;
      // Requests already received but not yet read from their sockets would count as idle connections and be
      // cut by the close; a short settle lets the event loop read them (and a balancer see the node not ready).
      await new Promise((resolve) => setTimeout(resolve, Math.min(DRAIN_SETTLE_MS, graceMs)));
      // Requests still running when the grace period ends lose their connection; the close then completes.
      logger.info('draining: no longer accepting connections');
      const deadline = setTimeout(() => {
        logger.warn({ graceMs }, 'shutdown grace period over; closing the remaining connections');
        app.server.closeAllConnections();
      }, graceMs);
      deadline.unref();
      try {
        await close();
      } finally {
        clearTimeout(deadline);
      }
    },
    close,
  };
}

/**
 * Deletes expired sign-in state (codes, ended or idle SSO sessions, expired refresh token families) every
 * `signInStatePurgeIntervalSeconds` on an unref'd timer, so it never keeps the process alive. A failed purge is
 * logged (without row contents) and retried at the next tick; runs never overlap.
 */
class SignInStatePurge {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly context: ServerContext,
    private readonly logger: Logger,
  ) {}

  /** Starts the timer; `intervalMs` in milliseconds. */
  start(intervalMs: number): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.runOnce(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async runOnce(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const now = this.context.now();
      const deleted = await this.context.signIn.purgeExpired(
        now,
        this.context.config.sessionIdleTimeoutSeconds,
      );
      const interactionSteps = await this.context.signIn.interactionSteps.purge(now);
      const signInAttempts = await this.context.signIn.signInAttempts.purge(
        (now - this.context.config.signInLockoutSeconds) * 1000,
      );
      const revocations = await this.context.revocations.purge();
      this.logger.debug(
        { ...deleted, revocations, interactionSteps, signInAttempts },
        'purged expired sign-in state',
      );
    } catch (error) {
      this.logger.error({ err: error }, 'purging expired sign-in state failed');
    } finally {
      this.running = false;
    }
  }
}
