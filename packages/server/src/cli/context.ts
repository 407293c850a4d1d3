/**
 * What every `tessera` command shares (docs/cli.md): the common `--data` / `--json` options, configuration, output
 * (text or JSON), failure reporting (exit code 1, no stack trace) and a directory opened for one command.
 */
import type { Command } from 'commander';
import { ConfigError, loadConfig, type TesseraConfig } from '../config/config.js';
import { userInfo } from 'node:os';
import { CLI_ACTOR, runInAuditScope, type AuditActor } from '../directory/audit-context.js';
import { Directory, DirectoryError } from '../directory/directory.js';
import { openStore } from '../store/open-store.js';

/** Where CLI output goes (injectable for tests). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  /** True when the command line asked for `--json` (decides how usage errors are printed). */
  json?: boolean;
}

/** A failure the CLI reports on stderr with exit code 1 (no stack trace). */
export class CliError extends Error {}

/** The options every command takes. */
export interface GlobalOptions {
  data?: string;
  json?: boolean;
}

/** The helpers a command module registers its commands with; see {@link createCliContext}. */
export interface CliContext {
  readonly io: CliIo;
  /** Adds `--data <dir>` and `--json` to `command`. */
  readonly withCommon: (command: Command) => Command;
  /** The configuration from the environment, `overrides` and `--data`. */
  readonly config: (options: GlobalOptions, overrides?: Partial<TesseraConfig>) => TesseraConfig;
  /** Prints `value` as JSON with `--json`, else `text`. */
  readonly print: (options: GlobalOptions, value: unknown, text: string) => void;
  /** Wraps a command action: a failure prints `tessera: …` (or `{"error": …}` with `--json`), exit code 1. */
  readonly run: <O extends GlobalOptions>(
    action: (options: O) => Promise<void>,
  ) => (options: O) => Promise<void>;
  /** Opens the store for one command, runs `work` on its directory, closes it. */
  readonly withDirectory: <T>(
    options: GlobalOptions,
    work: (directory: Directory) => Promise<T>,
  ) => Promise<T>;
}

/** The {@link CliContext} of a command line writing to `io`. */
export function createCliContext(io: CliIo): CliContext {
  const withCommon = (command: Command) =>
    command
      .option('--data <dir>', 'data directory (default ./data, env TESSERA_DATA_DIR)')
      .option('--json', 'print JSON');

  const config = (options: GlobalOptions, overrides: Partial<TesseraConfig> = {}) =>
    loadConfig(io.env, { ...overrides, ...(options.data === undefined ? {} : { dataDir: options.data }) });

  const print = (options: GlobalOptions, value: unknown, text: string) => {
    io.out(options.json === true ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
  };

  const run =
    <O extends GlobalOptions>(action: (options: O) => Promise<void>) =>
    async (options: O) => {
      try {
        await action(options);
      } catch (error) {
        const known =
          error instanceof DirectoryError || error instanceof ConfigError || error instanceof CliError;
        const message = known ? error.message : `Unexpected error: ${(error as Error).message}`;
        const code = error instanceof DirectoryError ? error.code : known ? 'invalid' : 'internal';
        if (options.json === true) io.out(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
        else io.err(`tessera: ${message}\n`);
        process.exitCode = 1;
      }
    };

  const withDirectory = async <T>(
    options: GlobalOptions,
    work: (directory: Directory) => Promise<T>,
  ): Promise<T> => {
    const loaded = config(options);
    const { db, store } = await openStore(loaded);
    try {
      // The command's directory writes are audited as the CLI's, named with the operating system user.
      return await runInAuditScope({ actor: cliActor() }, () =>
        work(new Directory(store, undefined, { auditRetentionDays: loaded.auditRetentionDays })),
      );
    } finally {
      await db.destroy();
    }
  };

  return { io, withCommon, config, print, run, withDirectory };
}

/** {@link CLI_ACTOR}, its display name naming the operating system user who ran the command when known. */
function cliActor(): AuditActor {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = undefined;
  }
  return name === undefined || !('app' in CLI_ACTOR)
    ? CLI_ACTOR
    : { app: { ...CLI_ACTOR.app, displayName: `${CLI_ACTOR.app.displayName ?? 'Tessera CLI'} (${name})` } };
}
