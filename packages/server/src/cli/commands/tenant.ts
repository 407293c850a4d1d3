/** `tessera tenant create` (docs/cli.md). */
import type { Command } from 'commander';
import type { CliContext, GlobalOptions } from '../context.js';
import { collect } from '../options.js';

/** Registers `tenant create`. */
export function registerTenantCommands(program: Command, cli: CliContext): void {
  const { withCommon, print, run, withDirectory } = cli;
  const tenant = program.command('tenant').description('tenants (directories)');
  withCommon(tenant.command('create').description('create a tenant'))
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--domain <domain>', 'verified domain (repeatable)', collect, [])
    .action(
      run(async (options: GlobalOptions & { name: string; domain: string[] }) => {
        const created = await withDirectory(options, (d) =>
          d.tenants.create({ displayName: options.name, domains: options.domain }),
        );
        print(
          options,
          created,
          `Created tenant ${created.displayName}: ${created.id} (${created.domains.join(', ')})`,
        );
      }),
    );
}
