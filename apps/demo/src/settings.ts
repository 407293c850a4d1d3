import { loadConfig, type TesseraConfig } from '@tessera/server';

/** How the demo prints what happens. */
export type OutputMode = 'pretty' | 'json';

/**
 * The demo's own settings besides the identity server's configuration (`TesseraConfig`, read from the same
 * environment): the ports of the Todo API and of the demo web site, the output mode and the report daemon's
 * schedule. Read once, at the composition root.
 */
export interface DemoSettings {
  readonly server: TesseraConfig;
  /** Port of the Todo API and its chat hub (`TESSERA_DEMO_API_PORT`, default 8444; 0 picks a free one). */
  readonly apiPort: number;
  /** Port of the demo web site: the landing page and the SPA (`TESSERA_DEMO_WEB_PORT`, default 8445). */
  readonly webPort: number;
  /**
   * `pretty` (human-readable lines) or `json` (one JSON object a line): `TESSERA_DEMO_OUTPUT`, default `pretty`
   * on a terminal and `json` when standard output is piped.
   */
  readonly output: OutputMode;
  /** Seconds between two report daemon runs (`TESSERA_DEMO_REPORT_INTERVAL_SECONDS`, default 60; 0: only on demand). */
  readonly reportIntervalSeconds: number;
}

/** Thrown for an unusable demo setting; the message names the variable. */
export class DemoSettingsError extends Error {
  override readonly name = 'DemoSettingsError';
}

function integerSetting(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  max: number,
): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new DemoSettingsError(`${name} must be an integer from 0 to ${max}, not '${text}'.`);
  }
  return value;
}

/**
 * Reads the demo settings from the environment. The identity server's log level defaults to `warn` so that the
 * demo's own lines are not drowned in request logs (`TESSERA_LOG_LEVEL` overrides it).
 *
 * @throws DemoSettingsError for an invalid demo variable; ConfigError (from `@tessera/server`) for an invalid
 *   server one.
 */
export function readDemoSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
  isTerminal: boolean = process.stdout.isTTY,
): DemoSettings {
  const output = env.TESSERA_DEMO_OUTPUT ?? '';
  if (output !== '' && output !== 'pretty' && output !== 'json') {
    throw new DemoSettingsError(`TESSERA_DEMO_OUTPUT must be 'pretty' or 'json', not '${output}'.`);
  }
  const logLevel = env.TESSERA_LOG_LEVEL === undefined || env.TESSERA_LOG_LEVEL === '' ? 'warn' : undefined;
  return {
    server: loadConfig(env, logLevel === undefined ? {} : { logLevel }),
    apiPort: integerSetting(env, 'TESSERA_DEMO_API_PORT', 8444, 65535),
    webPort: integerSetting(env, 'TESSERA_DEMO_WEB_PORT', 8445, 65535),
    output: output === '' ? (isTerminal ? 'pretty' : 'json') : output,
    reportIntervalSeconds: integerSetting(env, 'TESSERA_DEMO_REPORT_INTERVAL_SECONDS', 60, 86_400),
  };
}
