/** `tessera user create | disable | enable | set-password | role add | role remove` (docs/cli.md). */
import type { Command } from 'commander';
import { DIRECTORY_ROLES, type User } from '../../directory/model.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { collect } from '../options.js';

/** What the user commands print with `--json`: the user's id, UPN, sign-in state and directory roles. */
function summary(user: User) {
  return {
    id: user.id,
    userPrincipalName: user.userPrincipalName,
    accountEnabled: user.accountEnabled,
    directoryRoles: user.directoryRoles,
  };
}

/**
 * Registers `user create`, `user disable`, `user enable`, `user set-password` and `user role add|remove`, each
 * through `directory.users` (the same rules as the management API).
 */
export function registerUserCommands(program: Command, cli: CliContext): void {
  const { withCommon, print, run, withDirectory } = cli;
  const user = program.command('user').description('users');
  withCommon(user.command('create').description('create a user'))
    .requiredOption('--tenant <tenant>', 'tenant id or domain')
    .requiredOption('--upn <upn>', 'user principal name (user@verified-domain)')
    .requiredOption('--password <password>', 'initial password')
    .option('--display-name <name>', 'display name')
    .option('--admin', 'Global Administrator (may consent for the tenant)')
    .option(
      '--role <name>',
      `directory role, repeatable (${DIRECTORY_ROLES.map((role) => `"${role}"`).join(', ')})`,
      collect,
      [],
    )
    .action(
      run(
        async (
          options: GlobalOptions & {
            tenant: string;
            upn: string;
            password: string;
            displayName?: string;
            admin?: boolean;
            role: string[];
          },
        ) => {
          const created = await withDirectory(options, (d) =>
            d.users.create({
              tenant: options.tenant,
              userPrincipalName: options.upn,
              password: options.password,
              admin: options.admin === true,
              directoryRoles: options.role,
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
            : 'block sign-in (ends their refresh tokens and SSO sessions)',
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

  withCommon(
    user
      .command('set-password')
      .description("set a user's password (ends their refresh tokens and SSO sessions)"),
  )
    .requiredOption('--tenant <tenant>', 'tenant id or domain')
    .requiredOption('--upn <upn>', 'user principal name')
    .requiredOption('--password <password>', 'new password (at least 8 characters)')
    .action(
      run(async (options: GlobalOptions & { tenant: string; upn: string; password: string }) => {
        const found = await withDirectory(options, (d) =>
          d.users.update(options.tenant, options.upn, { password: options.password }),
        );
        print(options, summary(found), `Set the password of ${found.userPrincipalName}`);
      }),
    );

  const role = user.command('role').description("a user's directory roles");
  for (const [name, adding] of [
    ['add', true],
    ['remove', false],
  ] as const) {
    withCommon(
      role.command(name).description(adding ? 'give a user a directory role' : 'take a directory role'),
    )
      .requiredOption('--tenant <tenant>', 'tenant id or domain')
      .requiredOption('--upn <upn>', 'user principal name')
      .requiredOption('--role <name>', `directory role (${DIRECTORY_ROLES.map((r) => `"${r}"`).join(', ')})`)
      .action(
        run(async (options: GlobalOptions & { tenant: string; upn: string; role: string }) => {
          const changed = await withDirectory(options, (d) =>
            adding
              ? d.users.addDirectoryRole(options.tenant, options.upn, options.role)
              : d.users.removeDirectoryRole(options.tenant, options.upn, options.role),
          );
          print(
            options,
            summary(changed),
            `${changed.userPrincipalName}: ${changed.directoryRoles.length === 0 ? 'no directory roles' : changed.directoryRoles.join(', ')}`,
          );
        }),
      );
  }
}
