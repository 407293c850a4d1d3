import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, configOptions, configurationMarkdown, loadConfig } from '@tessera/server';
import { describe, expect, it } from 'vitest';

const docsFile = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('applies production-safe defaults', () => {
    expect(loadConfig({})).toEqual({
      dataDir: resolve('./data'),
      databaseUrl: undefined,
      databaseConnectionTimeoutMs: 5000,
      databaseStatementTimeoutMs: 30_000,
      databaseStartupRetrySeconds: 60,
      sqliteCacheSizeMiB: 16,
      host: 'localhost',
      port: 8443,
      publicUrl: undefined,
      tls: 'dev',
      tlsCertFile: undefined,
      tlsKeyFile: undefined,
      masterKey: undefined,
      accessTokenLifetimeSeconds: 3599,
      clientAssertionMaxLifetimeSeconds: 600,
      clockSkewSeconds: 60,
      keyActivationDelaySeconds: 600,
      strictAssertionJtiReplay: false,
      dpopProofWindowSeconds: 300,
      dpopNonceRequired: false,
      dpopNonceLifetimeSeconds: 300,
      directoryPollIntervalMs: 500,
      authorizationCodeLifetimeSeconds: 600,
      refreshTokenLifetimeSeconds: 7_776_000,
      spaRefreshTokenLifetimeSeconds: 86_400,
      sessionIdleTimeoutSeconds: 86_400,
      sessionMaxLifetimeSeconds: 1_209_600,
      shutdownGraceSeconds: 10,
      signInStatePurgeIntervalSeconds: 3600,
      auditRetentionDays: 30,
      signInMaxFailuresPerAccount: 10,
      signInMaxFailuresPerIp: 100,
      signInLockoutSeconds: 900,
      redisCommandTimeoutMs: 500,
      trustProxy: false,
      errorCodePrefix: 'TSS',
      logLevel: 'info',
      metricsEnabled: true,
    });
  });

  it('parses every environment variable: numbers, booleans, enums, URLs, paths', () => {
    const config = loadConfig({
      TESSERA_DATA_DIR: 'var/tessera',
      DATABASE_URL: 'postgresql://db.internal:5432/tessera',
      TESSERA_DATABASE_CONNECTION_TIMEOUT_MS: '2000',
      TESSERA_DATABASE_STATEMENT_TIMEOUT_MS: '10000',
      TESSERA_DATABASE_STARTUP_RETRY_SECONDS: '0',
      TESSERA_SQLITE_CACHE_MIB: '4',
      TESSERA_HOST: '0.0.0.0',
      TESSERA_PORT: '9443',
      TESSERA_PUBLIC_URL: 'https://id.example.com',
      TESSERA_TLS: 'files',
      TESSERA_TLS_CERT: '/etc/tessera/chain.pem',
      TESSERA_TLS_KEY: '/etc/tessera/key.pem',
      TESSERA_MASTER_KEY: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      TESSERA_ACCESS_TOKEN_LIFETIME_SECONDS: '600',
      TESSERA_CLIENT_ASSERTION_MAX_LIFETIME_SECONDS: '60',
      TESSERA_CLOCK_SKEW_SECONDS: '0',
      TESSERA_KEY_ACTIVATION_DELAY_SECONDS: '0',
      TESSERA_STRICT_ASSERTION_JTI: 'true',
      TESSERA_DPOP_PROOF_WINDOW_SECONDS: '30',
      TESSERA_DPOP_NONCE_REQUIRED: '1',
      TESSERA_DPOP_NONCE_LIFETIME_SECONDS: '60',
      TESSERA_DIRECTORY_POLL_INTERVAL_MS: '50',
      TESSERA_AUTHORIZATION_CODE_LIFETIME_SECONDS: '60',
      TESSERA_REFRESH_TOKEN_LIFETIME_SECONDS: '86400',
      TESSERA_SPA_REFRESH_TOKEN_LIFETIME_SECONDS: '3600',
      TESSERA_SESSION_IDLE_TIMEOUT_SECONDS: '600',
      TESSERA_SESSION_MAX_LIFETIME_SECONDS: '7200',
      TESSERA_SHUTDOWN_GRACE_SECONDS: '30',
      TESSERA_SIGN_IN_STATE_PURGE_INTERVAL_SECONDS: '120',
      TESSERA_AUDIT_RETENTION_DAYS: '90',
      TESSERA_SIGN_IN_MAX_FAILURES_PER_ACCOUNT: '5',
      TESSERA_SIGN_IN_MAX_FAILURES_PER_IP: '50',
      TESSERA_SIGN_IN_LOCKOUT_SECONDS: '60',
      REDIS_URL: 'redis://cache.internal:6379/2',
      TESSERA_REDIS_COMMAND_TIMEOUT_MS: '250',
      TESSERA_TRUST_PROXY: '10.0.0.0/8',
      TESSERA_ERROR_CODE_PREFIX: 'AADSTS',
      TESSERA_LOG_LEVEL: 'debug',
      TESSERA_METRICS_ENABLED: 'false',
      TESSERA_METRICS_BEARER_TOKEN: 'scraper-token-0123456789',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces',
      UNRELATED: 'ignored',
    });
    expect(config).toEqual({
      dataDir: resolve('var/tessera'),
      databaseUrl: 'postgresql://db.internal:5432/tessera',
      databaseConnectionTimeoutMs: 2000,
      databaseStatementTimeoutMs: 10_000,
      databaseStartupRetrySeconds: 0,
      sqliteCacheSizeMiB: 4,
      host: '0.0.0.0',
      port: 9443,
      publicUrl: 'https://id.example.com',
      tls: 'files',
      tlsCertFile: '/etc/tessera/chain.pem',
      tlsKeyFile: '/etc/tessera/key.pem',
      masterKey: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      accessTokenLifetimeSeconds: 600,
      clientAssertionMaxLifetimeSeconds: 60,
      clockSkewSeconds: 0,
      keyActivationDelaySeconds: 0,
      strictAssertionJtiReplay: true,
      dpopProofWindowSeconds: 30,
      dpopNonceRequired: true,
      dpopNonceLifetimeSeconds: 60,
      directoryPollIntervalMs: 50,
      authorizationCodeLifetimeSeconds: 60,
      refreshTokenLifetimeSeconds: 86_400,
      spaRefreshTokenLifetimeSeconds: 3600,
      sessionIdleTimeoutSeconds: 600,
      sessionMaxLifetimeSeconds: 7200,
      shutdownGraceSeconds: 30,
      signInStatePurgeIntervalSeconds: 120,
      auditRetentionDays: 90,
      signInMaxFailuresPerAccount: 5,
      signInMaxFailuresPerIp: 50,
      signInLockoutSeconds: 60,
      redisUrl: 'redis://cache.internal:6379/2',
      redisCommandTimeoutMs: 250,
      trustProxy: ['10.0.0.0/8'],
      errorCodePrefix: 'AADSTS',
      logLevel: 'debug',
      metricsEnabled: false,
      metricsBearerToken: 'scraper-token-0123456789',
      otelTracesEndpoint: 'http://collector:4318/v1/traces',
    });
  });

  it.each([
    ['true', true],
    ['1', true],
    ['false', false],
    ['0', false],
  ])('reads TESSERA_STRICT_ASSERTION_JTI=%s as %s', (value, expected) => {
    expect(loadConfig({ TESSERA_STRICT_ASSERTION_JTI: value }).strictAssertionJtiReplay).toBe(expected);
  });

  it('treats an empty variable as unset, and explicit overrides win over the environment', () => {
    expect(loadConfig({ TESSERA_PORT: '', TESSERA_LOG_LEVEL: '' })).toMatchObject({
      port: 8443,
      logLevel: 'info',
    });
    expect(
      loadConfig({ TESSERA_PORT: '9000', TESSERA_DATA_DIR: '/env' }, { port: 0, dataDir: '/override' }),
    ).toMatchObject({ port: 0, dataDir: '/override' });
  });

  const invalid = [
    ['TESSERA_PORT', 'port', 'https'],
    ['TESSERA_PORT', 'port', '65536'],
    ['TESSERA_PORT', 'port', '-1'],
    ['TESSERA_PORT', 'port', '80.5'],
    ['DATABASE_URL', 'databaseUrl', 'mysql://db/tessera'],
    ['TESSERA_PUBLIC_URL', 'publicUrl', 'not a url'],
    ['TESSERA_TLS', 'tls', 'on'],
    ['TESSERA_ERROR_CODE_PREFIX', 'errorCodePrefix', 'aadsts'],
    ['TESSERA_ERROR_CODE_PREFIX', 'errorCodePrefix', 'MSIS'],
    ['TESSERA_ACCESS_TOKEN_LIFETIME_SECONDS', 'accessTokenLifetimeSeconds', '299'],
    ['TESSERA_ACCESS_TOKEN_LIFETIME_SECONDS', 'accessTokenLifetimeSeconds', '86401'],
    ['TESSERA_CLIENT_ASSERTION_MAX_LIFETIME_SECONDS', 'clientAssertionMaxLifetimeSeconds', '3601'],
    ['TESSERA_CLOCK_SKEW_SECONDS', 'clockSkewSeconds', '601'],
    ['TESSERA_DIRECTORY_POLL_INTERVAL_MS', 'directoryPollIntervalMs', '49'],
    ['TESSERA_LOG_LEVEL', 'logLevel', 'verbose'],
    ['TESSERA_STRICT_ASSERTION_JTI', 'strictAssertionJtiReplay', 'yes'],
  ] as const;

  it.each(invalid)('refuses %s (%s) = %j with a ConfigError naming the variable', (env, key, value) => {
    const error = configError({ [env]: value });
    expect(error.name).toBe('ConfigError');
    expect(error.message).toMatch(new RegExp(`^Invalid configuration:\\n  ${env} \\(${key}\\): \\S.*$`));
  });

  it('names every invalid variable at once', () => {
    const error = configError({
      TESSERA_PORT: 'x',
      TESSERA_TLS: 'maybe',
      TESSERA_LOG_LEVEL: 'loud',
      TESSERA_CLOCK_SKEW_SECONDS: '-5',
    });
    const lines = error.message.split('\n');
    expect(lines[0]).toBe('Invalid configuration:');
    expect(lines.slice(1).map((line) => /^ {2}(\S+) \((\w+)\): \S/.exec(line)?.slice(1, 3))).toEqual([
      ['TESSERA_PORT', 'port'],
      ['TESSERA_TLS', 'tls'],
      ['TESSERA_CLOCK_SKEW_SECONDS', 'clockSkewSeconds'],
      ['TESSERA_LOG_LEVEL', 'logLevel'],
    ]);
  });

  it.each([
    ['neither file', {}],
    ['only the certificate', { TESSERA_TLS_CERT: '/etc/tessera/chain.pem' }],
    ['only the key', { TESSERA_TLS_KEY: '/etc/tessera/key.pem' }],
  ])('refuses TESSERA_TLS=files with %s', (_name, files) => {
    expect(configError({ TESSERA_TLS: 'files', ...files }).message).toBe(
      'Invalid configuration:\n  TESSERA_TLS=files needs TESSERA_TLS_CERT and TESSERA_TLS_KEY.',
    );
  });
});

describe('docs/configuration.md', () => {
  it('documents every key with a title, description and unit', () => {
    for (const [key, option] of Object.entries(configOptions)) {
      expect([key, option.env.length > 0, option.title.length > 0, option.description.length > 0]).toEqual([
        key,
        true,
        true,
        true,
      ]);
      expect(option.unit.length).toBeGreaterThan(0);
    }
  });

  it('is in step with the code: exactly the output of `npm run docs:config`', () => {
    // Regenerate with `npm run docs:config` after changing configOptions (prettier leaves the file alone).
    const onDisk = readFileSync(docsFile, 'utf8');
    expect(onDisk).toBe(configurationMarkdown());
    for (const [key, option] of Object.entries(configOptions)) {
      expect(onDisk).toContain(`| \`${key}\` | \`${option.env}\` | ${option.title}. `);
    }
  });
});
