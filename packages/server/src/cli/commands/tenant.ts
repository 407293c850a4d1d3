/** `tessera tenant create` (docs/cli.md). */
import type { Command } from 'commander';
import type { TesseraConfig } from '../../config/config.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { collect } from '../options.js';

/** Registers `tenant create`. */
export function registerTenantCommands(program: Command, cli: CliContext): void {
  const { withCommon, print, run, withDirectory, config } = cli;
  const tenant = program.command('tenant').description('tenants (directories)');
  withCommon(tenant.command('create').description('create a tenant'))
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--domain <domain>', 'verified domain (repeatable)', collect, [])
    .option(
      '--admin-upn <upn>',
      'also create this Global Administrator (password generated, printed once) and an administration client',
    )
    .action(
      run(async (options: GlobalOptions & { name: string; domain: string[]; adminUpn?: string }) => {
        if (options.adminUpn === undefined) {
          const created = await withDirectory(options, (d) =>
            d.tenants.create({ displayName: options.name, domains: options.domain }),
          );
          print(
            options,
            created,
            `Created tenant ${created.displayName}: ${created.id} (${created.domains.join(', ')})`,
          );
          return;
        }
        const adminUpn = options.adminUpn;
        const { bootstrapInstructions, bootstrapTenant } = await import('../../seed/bootstrap.js');
        const result = await withDirectory(options, (d) =>
          bootstrapTenant(d, {
            displayName: options.name,
            domains: options.domain,
            adminUserPrincipalName: adminUpn,
          }),
        );
        print(options, result, bootstrapInstructions(result, publicBaseUrl(config(options))).trimEnd());
      }),
    );
}

/** The server's public base URL as configured (`publicUrl`, else `https://localhost:{port}`; `http` with TLS off). */
export function publicBaseUrl(config: TesseraConfig): string {
  return (
    config.publicUrl?.replace(/\/+$/, '') ??
    `${config.tls === 'off' ? 'http' : 'https'}://localhost:${config.port}`
  );
}
