import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';

/** `true`/`false`/`1`/`0` (any case) or a boolean; anything else is refused rather than read as false. */
const booleanFromText = z.union([
  z.boolean(),
  z
    .string()
    .regex(/^(true|false|1|0)$/i, 'must be true, false, 1 or 0')
    .transform((value) => /^(true|1)$/i.test(value)),
]);

/** An IPv4/IPv6 address, optionally with a CIDR prefix length (`10.0.0.0/8`, `::1`, `fd00::/8`). */
function isAddressOrCidr(text: string): boolean {
  const [address = '', prefix, ...rest] = text.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * Which proxies' `X-Forwarded-For` is believed (Fastify's `trustProxy`): `false`, `true`, a hop count, or a list
 * of addresses and CIDR ranges (comma-separated in the environment).
 */
const trustProxySchema = z.union([
  z.boolean(),
  z.number().int().min(1).max(100),
  z.array(z.string().refine(isAddressOrCidr, 'must be an IP address or CIDR range')).min(1),
  z
    .string()
    .trim()
    .transform((text, context) => {
      if (/^(true|false)$/i.test(text)) return /^true$/i.test(text);
      if (/^\d+$/.test(text)) {
        const hops = Number(text);
        if (hops >= 1 && hops <= 100) return hops;
        context.addIssue({ code: 'custom', message: 'a hop count must be between 1 and 100' });
        return z.NEVER;
      }
      const entries = text.split(',').map((entry) => entry.trim());
      if (entries.every(isAddressOrCidr)) return entries;
      context.addIssue({
        code: 'custom',
        message: 'must be true, false, a hop count, or comma-separated IP addresses / CIDR ranges',
      });
      return z.NEVER;
    }),
]);

/**
 * Every configuration key: its environment variable, schema, default, unit and meaning. The documentation in
 * `docs/configuration.md` is generated from this table (`npm run docs:config`), and a test keeps them in step.
 */
export const configOptions = {
  dataDir: {
    env: 'TESSERA_DATA_DIR',
    schema: z.string().min(1),
    default: './data',
    unit: 'path',
    title: 'Data directory',
    description:
      'Holds the embedded SQLite database (`tessera.db`), the generated master key (`master.key`) and development TLS files (`tls/`).',
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    schema: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    default: undefined,
    unit: 'URL',
    title: 'PostgreSQL connection',
    description:
      'A `postgres://` URL selects PostgreSQL for all state (required for several nodes); unset means embedded SQLite in the data directory.',
  },
  databaseConnectionTimeoutMs: {
    env: 'TESSERA_DATABASE_CONNECTION_TIMEOUT_MS',
    schema: z.coerce.number().int().min(100).max(600_000),
    default: 5000,
    unit: 'milliseconds',
    title: 'PostgreSQL connection timeout',
    description:
      'How long a request waits for a new PostgreSQL connection (TCP, TLS and authentication) before it fails; a request that fails because the database cannot be reached answers 503 with `Retry-After`. SQLite ignores it.',
  },
  databaseStatementTimeoutMs: {
    env: 'TESSERA_DATABASE_STATEMENT_TIMEOUT_MS',
    schema: z.coerce.number().int().min(100).max(3_600_000),
    default: 30_000,
    unit: 'milliseconds',
    title: 'PostgreSQL statement timeout',
    description:
      "Longest a statement may run: PostgreSQL's `statement_timeout` on every connection, and the client's own timeout (one second longer) for a server that stopped answering. SQLite ignores it.",
  },
  databaseStartupRetrySeconds: {
    env: 'TESSERA_DATABASE_STARTUP_RETRY_SECONDS',
    schema: z.coerce.number().int().min(0).max(86_400),
    default: 60,
    unit: 'seconds',
    title: 'PostgreSQL start-up retry',
    description:
      'How long the server keeps retrying to connect and migrate at start-up while PostgreSQL cannot be reached (backoff from 0.25 s to 5 s, each attempt logged), before it exits with the error. `0` tries once. Other database errors (bad credentials, a failed migration) stop it at once.',
  },
  sqliteCacheSizeMiB: {
    env: 'TESSERA_SQLITE_CACHE_MIB',
    schema: z.coerce.number().int().min(1).max(4096),
    default: 16,
    unit: 'MiB',
    title: 'SQLite page cache',
    description:
      "Memory the embedded SQLite database keeps for its most recently used pages (`PRAGMA cache_size`). It starts empty and fills as the database is read and written, so the process's resident memory grows by up to this much over its first minutes under load and then stays. PostgreSQL ignores it.",
  },
  host: {
    env: 'TESSERA_HOST',
    schema: z.string().min(1),
    default: 'localhost',
    unit: 'host',
    title: 'Listen address',
    description:
      'Interface to listen on; `localhost` binds the loopback addresses only. Use `0.0.0.0` or `::` to serve other machines.',
  },
  port: {
    env: 'TESSERA_PORT',
    schema: z.coerce.number().int().min(0).max(65535),
    default: 8443,
    unit: 'TCP port',
    title: 'Listen port',
    description: '0 picks a free port.',
  },
  publicUrl: {
    env: 'TESSERA_PUBLIC_URL',
    schema: z.url().optional(),
    default: undefined,
    unit: 'URL',
    title: 'Public base URL',
    description:
      'Scheme, host and port clients use to reach the server; the base of every issuer and endpoint. Default `https://localhost:{port}` (or `http://` with TLS off).',
  },
  tls: {
    env: 'TESSERA_TLS',
    schema: z.enum(['dev', 'files', 'off']),
    default: 'dev',
    unit: 'mode',
    title: 'TLS mode',
    description:
      '`dev`: a local development CA and `localhost` certificate under `<dataDir>/tls/` (development only). `files`: `tlsCertFile` and `tlsKeyFile`. `off`: plain HTTP, only behind a TLS-terminating proxy.',
  },
  tlsCertFile: {
    env: 'TESSERA_TLS_CERT',
    schema: z.string().optional(),
    default: undefined,
    unit: 'path',
    title: 'TLS certificate chain',
    description: 'PEM certificate chain for `tls: files`.',
  },
  tlsKeyFile: {
    env: 'TESSERA_TLS_KEY',
    schema: z.string().optional(),
    default: undefined,
    unit: 'path',
    title: 'TLS private key',
    description: 'PEM private key for `tls: files`.',
  },
  masterKey: {
    env: 'TESSERA_MASTER_KEY',
    schema: z.string().optional(),
    default: undefined,
    unit: 'base64, 32 bytes',
    title: 'Master key',
    description:
      'Encrypts signing keys at rest (AES-256-GCM). Every node of a cluster needs the same key: with `databaseUrl` (PostgreSQL) it is required and the server refuses to start without it (generate one with `openssl rand -base64 32`). Unset with SQLite: read or generated at `<dataDir>/master.key`, with a warning.',
  },
  accessTokenLifetimeSeconds: {
    env: 'TESSERA_ACCESS_TOKEN_LIFETIME_SECONDS',
    schema: z.coerce.number().int().min(300).max(86_400),
    default: 3599,
    unit: 'seconds',
    title: 'Access token lifetime',
    description:
      'Lifetime of access tokens, returned as `expires_in`. MSAL caches tokens only when it is over 300.',
  },
  clientAssertionMaxLifetimeSeconds: {
    env: 'TESSERA_CLIENT_ASSERTION_MAX_LIFETIME_SECONDS',
    schema: z.coerce.number().int().min(60).max(3600),
    default: 600,
    unit: 'seconds',
    title: 'Client assertion maximum lifetime',
    description: 'Longest `exp` − `nbf` (or `iat`) accepted in a private_key_jwt client assertion.',
  },
  clockSkewSeconds: {
    env: 'TESSERA_CLOCK_SKEW_SECONDS',
    schema: z.coerce.number().int().min(0).max(600),
    default: 60,
    unit: 'seconds',
    title: 'Clock skew tolerance',
    description: 'Tolerance applied to `nbf` and `exp` of client assertions.',
  },
  keyActivationDelaySeconds: {
    env: 'TESSERA_KEY_ACTIVATION_DELAY_SECONDS',
    schema: z.coerce
      .number()
      .int()
      .min(0)
      .max(30 * 86_400),
    default: 600,
    unit: 'seconds',
    title: 'Signing key activation delay',
    description:
      'How long `tessera keys rotate` publishes a new signing key in the JWKS as the next key before it starts signing. The default is twice the JWKS `max-age` (300 s), so validators that cached the JWKS fetch the new key before they meet a token signed with it. `keys rotate --now` skips the delay (for a compromised key).',
  },
  strictAssertionJtiReplay: {
    env: 'TESSERA_STRICT_ASSERTION_JTI',
    schema: booleanFromText,
    default: false,
    unit: 'boolean',
    title: 'Single-use client assertions',
    description:
      'Refuse a client assertion whose `jti` was seen before (RFC 7523 §3). Off by default because MSAL reuses one assertion until it expires; costs one database write per assertion.',
  },
  dpopProofWindowSeconds: {
    env: 'TESSERA_DPOP_PROOF_WINDOW_SECONDS',
    schema: z.coerce.number().int().min(5).max(600),
    default: 300,
    unit: 'seconds',
    title: 'DPoP proof time window',
    description:
      "How far a DPoP proof's `iat` may lie before or after the server's clock (RFC 9449 §4.3, §11.1). Each proof `jti` is remembered (in the database, shared by every node) until its `iat` plus this window, after which the proof is refused as too old anyway.",
  },
  dpopNonceRequired: {
    env: 'TESSERA_DPOP_NONCE_REQUIRED',
    schema: booleanFromText,
    default: false,
    unit: 'boolean',
    title: 'Require DPoP server nonces',
    description:
      "Require a server-provided nonce in every DPoP proof at the token endpoint (RFC 9449 §8): a proof without a current one is refused with `use_dpop_nonce` and a `DPoP-Nonce` header, and every token response carries a fresh `DPoP-Nonce`. Nonces are stateless (an HMAC of a time slot with a key derived from the master key), so any node accepts another's.",
  },
  dpopNonceLifetimeSeconds: {
    env: 'TESSERA_DPOP_NONCE_LIFETIME_SECONDS',
    schema: z.coerce.number().int().min(30).max(3600),
    default: 300,
    unit: 'seconds',
    title: 'DPoP nonce time slot',
    description:
      'Length of the time slot a DPoP nonce is made for; a nonce is accepted in its slot and the next one, so it lives between one and two slots.',
  },
  directoryPollIntervalMs: {
    env: 'TESSERA_DIRECTORY_POLL_INTERVAL_MS',
    schema: z.coerce.number().int().min(50).max(60_000),
    default: 500,
    unit: 'milliseconds',
    title: 'Directory change poll interval',
    description:
      'How often a node checks whether another process changed the directory or keys, and drops its caches.',
  },
  authorizationCodeLifetimeSeconds: {
    env: 'TESSERA_AUTHORIZATION_CODE_LIFETIME_SECONDS',
    schema: z.coerce.number().int().min(30).max(600),
    default: 600,
    unit: 'seconds',
    title: 'Authorization code lifetime',
    description:
      'How long an authorization code can be redeemed (RFC 6749 §4.1.2 recommends at most 10 minutes).',
  },
  refreshTokenLifetimeSeconds: {
    env: 'TESSERA_REFRESH_TOKEN_LIFETIME_SECONDS',
    schema: z.coerce
      .number()
      .int()
      .min(3600)
      .max(365 * 86_400),
    default: 90 * 86_400,
    unit: 'seconds',
    title: 'Refresh token lifetime (sliding)',
    description:
      'Inactivity lifetime of refresh tokens of web and public clients: every rotation extends it by this much.',
  },
  spaRefreshTokenLifetimeSeconds: {
    env: 'TESSERA_SPA_REFRESH_TOKEN_LIFETIME_SECONDS',
    schema: z.coerce.number().int().min(300).max(86_400),
    default: 86_400,
    unit: 'seconds',
    title: 'SPA refresh token lifetime (fixed)',
    description:
      'Fixed lifetime of refresh tokens issued to `spa` redirect URIs, counted from sign-in and never extended by rotation; sent as `refresh_token_expires_in`.',
  },
  sessionIdleTimeoutSeconds: {
    env: 'TESSERA_SESSION_IDLE_TIMEOUT_SECONDS',
    schema: z.coerce
      .number()
      .int()
      .min(60)
      .max(90 * 86_400),
    default: 24 * 3600,
    unit: 'seconds',
    title: 'SSO session idle timeout',
    description: 'An SSO session not used by any authorization request for this long ends.',
  },
  sessionMaxLifetimeSeconds: {
    env: 'TESSERA_SESSION_MAX_LIFETIME_SECONDS',
    schema: z.coerce
      .number()
      .int()
      .min(300)
      .max(365 * 86_400),
    default: 14 * 86_400,
    unit: 'seconds',
    title: 'SSO session absolute lifetime',
    description: 'An SSO session ends this long after sign-in, however often it is used.',
  },
  shutdownGraceSeconds: {
    env: 'TESSERA_SHUTDOWN_GRACE_SECONDS',
    schema: z.coerce.number().int().min(0).max(3600),
    default: 10,
    unit: 'seconds',
    title: 'Shutdown grace period',
    description:
      "On SIGTERM or SIGINT, `tessera serve` stops accepting connections, answers 503 to new requests on open keep-alive connections, and lets requests in flight finish for up to this long; then it closes the remaining connections, stops its pollers, closes the database and Redis, and exits 0. Keep a process manager's stop timeout (systemd `TimeoutStopSec`, Kubernetes `terminationGracePeriodSeconds`) above it.",
  },
  signInStatePurgeIntervalSeconds: {
    env: 'TESSERA_SIGN_IN_STATE_PURGE_INTERVAL_SECONDS',
    schema: z.coerce.number().int().min(10).max(86_400),
    default: 3600,
    unit: 'seconds',
    title: 'Sign-in state purge interval',
    description:
      'How often each node deletes expired authorization codes, ended, expired or idle SSO sessions, and expired refresh token families. Revoked families are kept until they expire, so reuse of their tokens is still detected.',
  },
  auditRetentionDays: {
    env: 'TESSERA_AUDIT_RETENTION_DAYS',
    schema: z.coerce.number().int().min(1).max(3650),
    default: 30,
    unit: 'days',
    title: 'Audit and sign-in log retention',
    description:
      'How long directory audits (`/v1.0/auditLogs/directoryAudits`) and sign-ins (`/v1.0/auditLogs/signIns`) are kept. Older rows are deleted, at most hourly, when new ones are written. Entra ID keeps them 30 days (P1/P2).',
  },
  signInMaxFailuresPerAccount: {
    env: 'TESSERA_SIGN_IN_MAX_FAILURES_PER_ACCOUNT',
    schema: z.coerce.number().int().min(1).max(1000),
    default: 10,
    unit: 'attempts',
    title: 'Failed sign-ins per account before lockout',
    description:
      'Failed password sign-ins for one account within `signInLockoutSeconds` after which the account is locked for that long (50053).',
  },
  signInMaxFailuresPerIp: {
    env: 'TESSERA_SIGN_IN_MAX_FAILURES_PER_IP',
    schema: z.coerce.number().int().min(1).max(100_000),
    default: 100,
    unit: 'attempts',
    title: 'Failed sign-ins per client IP before lockout',
    description:
      'Failed password sign-ins from one IP address within `signInLockoutSeconds` after which it is blocked.',
  },
  redisUrl: {
    env: 'REDIS_URL',
    schema: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
    default: undefined,
    unit: 'URL',
    title: 'Redis connection',
    description:
      'A `redis://` URL keeps sign-in throttling counts in Redis, shared by every node; unset, they are kept in the database, shared by every node on it.',
  },
  redisCommandTimeoutMs: {
    env: 'TESSERA_REDIS_COMMAND_TIMEOUT_MS',
    schema: z.coerce.number().int().min(50).max(60_000),
    default: 500,
    unit: 'milliseconds',
    title: 'Redis command timeout',
    description:
      'Longest a Redis command may take (ioredis `commandTimeout`; connecting may take four times as long). A command that fails or times out moves sign-in throttling to the database until Redis answers again (tried every 2 seconds; logged once per outage), so a stalled Redis delays a sign-in by at most this much.',
  },
  signInLockoutSeconds: {
    env: 'TESSERA_SIGN_IN_LOCKOUT_SECONDS',
    schema: z.coerce.number().int().min(10).max(86_400),
    default: 900,
    unit: 'seconds',
    title: 'Sign-in throttling window',
    description:
      'Window over which failed sign-ins are counted, and how long a lockout lasts. A successful sign-in does not reset the count.',
  },
  trustProxy: {
    env: 'TESSERA_TRUST_PROXY',
    schema: trustProxySchema,
    default: false,
    unit: 'false, true, hops or addresses',
    title: 'Trusted reverse proxies',
    description:
      "Whose `X-Forwarded-For` gives the client address used by per-IP sign-in throttling and the audit and sign-in logs. `false`: none, the TCP peer is the client (a forged header changes nothing). A list of addresses or CIDR ranges (`10.0.0.0/8,::1`): the proxies Tessera sits behind — the client is the rightmost address not in the list. A hop count `n`: the `n`-th address from the right. `true` believes the leftmost address whoever sent it, so any client can choose its IP (and dodge or spread per-IP lockouts): only for a server reachable through the proxy alone. Behind a balancer with this off, every user has the balancer's address and one client can lock everyone out.",
  },
  errorCodePrefix: {
    env: 'TESSERA_ERROR_CODE_PREFIX',
    schema: z.enum(['TSS', 'AADSTS']),
    default: 'TSS',
    unit: 'prefix',
    title: 'Error code prefix',
    description:
      "What precedes the number in every error description the server sends (token and other JSON endpoints, authorization error redirects, error pages): `TSS50126: …`. `AADSTS` makes them read as Entra ID's (`AADSTS50126: …`) for code that runs against Tessera as a local stand-in for Entra ID and matches on that prefix; the numbers are the same either way.",
  },
  logLevel: {
    env: 'TESSERA_LOG_LEVEL',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    unit: 'level',
    title: 'Log level',
    description: 'pino log level. Secrets, tokens, assertions and keys are never logged at any level.',
  },
  metricsEnabled: {
    env: 'TESSERA_METRICS_ENABLED',
    schema: booleanFromText,
    default: true,
    unit: 'boolean',
    title: 'Prometheus metrics',
    description:
      'Serve `GET /metrics` in the Prometheus text format (requests by route and outcome, tokens issued, sign-in failures, Redis latency, process metrics; docs/operations.md). It is on the public listener: keep it off the internet (block `/metrics` at the proxy) or set `metricsBearerToken`. `false` removes the route and the per-request counting.',
  },
  metricsBearerToken: {
    env: 'TESSERA_METRICS_BEARER_TOKEN',
    schema: z.string().min(16, 'must be at least 16 characters').optional(),
    default: undefined,
    unit: 'secret',
    title: 'Metrics bearer token',
    description:
      'When set, `/metrics` answers only requests with `Authorization: Bearer <this token>` (Prometheus `authorization.credentials`); any other gets 401 `invalid_token`.',
  },
  otelTracesEndpoint: {
    env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    schema: z.url().optional(),
    default: undefined,
    unit: 'URL',
    title: 'OpenTelemetry traces endpoint',
    description:
      'An OTLP/HTTP traces URL (`http://collector:4318/v1/traces`, the standard OpenTelemetry variable) turns tracing on: one server span per request, exported in batches, with the route, status, correlation id and tenant id, never tokens or secrets. Unset (the default): no tracer is created and nothing is sent.',
  },
} as const;

type Options = typeof configOptions;

/** The validated configuration. */
export type TesseraConfig = {
  -readonly [K in keyof Options]: z.output<Options[K]['schema']>;
} & { dataDir: string };

/** Thrown when configuration is invalid; the message lists every problem by environment variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Builds the configuration from environment variables and explicit overrides (overrides win), applying
 * defaults, and resolves `dataDir` to an absolute path.
 *
 * @throws ConfigError listing each invalid key.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: Partial<TesseraConfig> = {},
): TesseraConfig {
  const shape: Record<string, z.ZodType> = {};
  const input: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(configOptions)) {
    const schema: z.ZodType = option.schema;
    shape[key] = option.default === undefined ? schema : schema.default(option.default as never);
    const fromEnv = env[option.env];
    input[key] = (overrides as Record<string, unknown>)[key] ?? (fromEnv === '' ? undefined : fromEnv);
  }
  const parsed = z.object(shape).safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]) as keyof Options;
      return `${configOptions[key].env} (${key}): ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const config = parsed.data as TesseraConfig;
  config.dataDir = resolve(config.dataDir);
  if (config.tls === 'files' && (config.tlsCertFile === undefined || config.tlsKeyFile === undefined)) {
    throw new ConfigError(
      'Invalid configuration:\n  TESSERA_TLS=files needs TESSERA_TLS_CERT and TESSERA_TLS_KEY.',
    );
  }
  return config;
}

/**
 * Seconds a retired signing key stays published: the longest access token lifetime, plus clock skew, plus five
 * minutes for validators' JWKS caches.
 */
export function keyRetentionSeconds(config: TesseraConfig): number {
  return config.accessTokenLifetimeSeconds + config.clockSkewSeconds + 300;
}

/** The configuration reference as Markdown (the body of `docs/configuration.md`). */
export function configurationMarkdown(): string {
  const rows = Object.entries(configOptions).map(
    ([key, o]) =>
      `| \`${key}\` | \`${o.env}\` | ${o.title}. ${o.description} | ${o.default === undefined ? '—' : `\`${String(o.default)}\``} | ${o.unit} |`,
  );
  return [
    '# Configuration',
    '',
    '<!-- Generated from packages/server/src/config/config.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'Every key can be set by its environment variable; the CLI flags `--port` and `--data` override `port` and `dataDir`.',
    'Invalid values stop the server at start with a message naming each variable.',
    '',
    '| key | environment variable | meaning | default | unit |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
