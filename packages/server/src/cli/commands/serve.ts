/** `tessera serve`: run the identity server, optionally seeding the demo tenant (docs/cli.md). */
import type { Command } from 'commander';
import type { TesseraConfig } from '../../config/config.js';
import type { CliContext, GlobalOptions } from '../context.js';

/** Registers `serve`. */
export function registerServeCommand(program: Command, cli: CliContext): void {
  const { io, withCommon, config, run } = cli;
  withCommon(program.command('serve').description('run the identity server'))
    .option('--port <port>', 'listen port (default 8443, env TESSERA_PORT)')
    .option('--demo', 'on an empty directory, seed the demo tenant and print how to get a token')
    .action(
      run(async (options: GlobalOptions & { port?: string; demo?: boolean }) => {
        const { createTesseraServer } = await import('../../server.js');
        const { demoInstructions, seedDemo } = await import('../../seed/demo.js');
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
        const baseUrl = await server.listen();
        server.logger.info(`Tessera listening on ${baseUrl}`);
        if (seed !== undefined) io.out(demoInstructions(seed, baseUrl, server.devCaFile));
        const stop = () => {
          void server.close().then(() => process.exit(0));
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      }),
    );
}
