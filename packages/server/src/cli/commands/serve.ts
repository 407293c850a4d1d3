/**
 * `tessera serve`: run the identity server, optionally seeding the demo tenant or, on an empty directory, a first
 * tenant with its Global Administrator (docs/cli.md). SIGTERM or SIGINT drains it gracefully within
 * `shutdownGraceSeconds` and exits 0.
 */
import type { Command } from 'commander';
import type { TesseraConfig } from '../../config/config.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { collect } from '../options.js';

/** The options of `serve`. */
interface ServeOptions extends GlobalOptions {
  port?: string;
  demo?: boolean;
  bootstrapTenant?: string;
  bootstrapDomain: string[];
  bootstrapAdminUpn?: string;
}

/** Registers `serve`. */
export function registerServeCommand(program: Command, cli: CliContext): void {
  const { io, withCommon, config, run } = cli;
  withCommon(program.command('serve').description('run the identity server'))
    .option('--port <port>', 'listen port (default 8443, env TESSERA_PORT)')
    .option('--demo', 'on an empty directory, seed the demo tenant and print how to get a token')
    .option(
      '--bootstrap-tenant <name>',
      'on an empty directory, create this tenant, its Global Administrator (password printed once) and an administration client',
    )
    .option(
      '--bootstrap-domain <domain>',
      'verified domain of the bootstrap tenant (repeatable)',
      collect,
      [],
    )
    .option(
      '--bootstrap-admin-upn <upn>',
      'UPN of the first Global Administrator (default admin@{first domain})',
    )
    .action(
      run(async (options: ServeOptions) => {
        if (options.bootstrapTenant !== undefined && options.demo === true) {
          throw new CliError('--bootstrap-tenant and --demo both seed an empty directory: choose one.');
        }
        if (options.bootstrapTenant !== undefined && options.bootstrapDomain.length === 0) {
          throw new CliError('--bootstrap-tenant needs --bootstrap-domain.');
        }
        const { createTesseraServer } = await import('../../server.js');
        const { demoInstructions, seedDemo } = await import('../../seed/demo.js');
        const { bootstrapEmptyDirectory, bootstrapInstructions } = await import('../../seed/bootstrap.js');
        const server = await createTesseraServer(
          config(
            options,
            options.port === undefined ? {} : ({ port: options.port } as unknown as Partial<TesseraConfig>),
          ),
        );
        const seed =
          options.demo === true
            ? await seedDemo(server.directory, server.store, server.config.dataDir)
            : undefined;
        const bootstrap =
          options.bootstrapTenant === undefined
            ? undefined
            : await bootstrapEmptyDirectory(server.directory, {
                displayName: options.bootstrapTenant,
                domains: options.bootstrapDomain,
                ...(options.bootstrapAdminUpn === undefined
                  ? {}
                  : { adminUserPrincipalName: options.bootstrapAdminUpn }),
              });
        const baseUrl = await server.listen();
        server.logger.info(`Tessera listening on ${baseUrl}`);
        if (seed !== undefined) io.out(demoInstructions(seed, baseUrl, server.devCaFile));
        // Printed once, to stdout only: the password never reaches the log.
        if (bootstrap !== undefined) io.out(bootstrapInstructions(bootstrap, baseUrl));
        // Graceful shutdown: drain within shutdownGraceSeconds, then exit 0 (docs/deployment.md). A second
        // signal while draining is ignored, so a process manager's stop timeout stays the only hard bound.
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) return;
          stopping = true;
          const graceMs = server.config.shutdownGraceSeconds * 1000;
          server.logger.info({ signal, graceSeconds: server.config.shutdownGraceSeconds }, 'shutting down');
          void server.drain(graceMs).then(
            () => {
              server.logger.info('Tessera stopped');
              process.exit(0);
            },
            (error: unknown) => {
              server.logger.error({ err: error }, 'shutdown failed');
              process.exit(1);
            },
          );
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      }),
    );
}
