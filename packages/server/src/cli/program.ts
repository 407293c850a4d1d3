import { Command } from 'commander';
import { registerAppCommands } from './commands/app.js';
import { registerBackupCommands } from './commands/backup.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerServeCommand } from './commands/serve.js';
import { registerTenantCommands } from './commands/tenant.js';
import { registerUserCommands } from './commands/user.js';
import { createCliContext, type CliIo } from './context.js';

export type { CliIo } from './context.js';

// The server, key generation and the demo seed load heavy modules (Fastify, X.509); commands that do not need
// them import them lazily so each CLI invocation starts fast.

/**
 * The `tessera` command line: `serve`, `tenant create`, `app create | add-password | add-cert | grant`,
 * `user create`, `keys rotate`, `policy create | list | show | delete | enable | disable`, `backup`, `restore`. Every command takes `--json` for machine-readable output and `--data DIR`.
 * Directory commands write to the same database as a running server, which picks the change up within
 * `directoryPollIntervalMs`.
 *
 * @returns the program; `parseAsync(argv)` runs it. Errors print a message (or `{"error": …}` with `--json`) and
 *   set `process.exitCode` to 1.
 */
export function buildCli(io: CliIo): Command {
  const program = new Command('tessera').description('Tessera identity server').configureOutput({
    writeOut: (s) => {
      io.out(s);
    },
    writeErr: (s) => {
      io.err(s);
    },
    // Usage errors (unknown option, missing or malformed value) honour --json like every other failure.
    outputError: (text) => {
      const message = text.trim().replace(/^error: /, '');
      if (io.json === true) io.out(`${JSON.stringify({ error: { code: 'invalid', message } }, null, 2)}\n`);
      else io.err(`tessera: ${message}\n`);
    },
  });

  const cli = createCliContext(io);
  registerServeCommand(program, cli);
  registerTenantCommands(program, cli);
  registerAppCommands(program, cli);
  registerUserCommands(program, cli);
  registerKeysCommands(program, cli);
  registerPolicyCommands(program, cli);
  registerBackupCommands(program, cli);
  return program;
}
