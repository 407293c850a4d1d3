/** `tessera user create | disable | enable` (docs/cli.md). */
import type { Command } from 'commander';
import type { CliContext, GlobalOptions } from '../context.js';

/** Registers `user create`, `user disable` and `user enable`. */
export function registerUserCommands(program: Command, cli: CliContext): void {
  const { withCommon, print, run, withDirectory } = cli;
  const user = program.command('user').description('users');
  withCommon(user.command('create').description('create a user'))
    .requiredOption('--tenant <tenant>', 'tenant id or domain')
    .requiredOption('--upn <upn>', 'user principal name (user@verified-domain)')
    .requiredOption('--password <password>', 'initial password')
    .option('--display-name <name>', 'display name')
    .option('--admin', 'Global Administrator (may consent for the tenant)')
    .action(
      run(
        async (
          options: GlobalOptions & {
            tenant: string;
            upn: string;
            password: string;
            displayName?: string;
            admin?: boolean;
          },
        ) => {
          const created = await withDirectory(options, (d) =>
            d.users.create({
              tenant: options.tenant,
              userPrincipalName: options.upn,
              password: options.password,
              admin: options.admin === true,
              ...(options.displayName === undefined ? {} : { displayName: options.displayName }),
            }),
          );
          print(options, created, `Created user ${created.userPrincipalName}: ${created.id}`);
        },
      ),
    );

  for (const [name, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    withCommon(
      user
        .command(name)
        .description(
          enabled
            ? 'allow a disabled user to sign in again'
            : 'block sign-in (existing SSO sessions stop working)',
        ),
    )
      .requiredOption('--tenant <tenant>', 'tenant id or domain')
      .requiredOption('--upn <upn>', 'user principal name')
      .action(
        run(async (options: GlobalOptions & { tenant: string; upn: string }) => {
          const found = await withDirectory(options, (d) =>
            d.users.update(options.tenant, options.upn, { accountEnabled: enabled }),
          );
          print(
            options,
            { id: found.id, userPrincipalName: found.userPrincipalName, accountEnabled: enabled },
            `${enabled ? 'Enabled' : 'Disabled'} user ${found.userPrincipalName}`,
          );
        }),
      );
  }
}
