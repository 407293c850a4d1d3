/**
 * `tessera user create | disable | enable | set-password | role add | role remove | mfa enrol | mfa code | mfa reset`
 * (docs/cli.md).
 */
import type { Command } from 'commander';
import { DIRECTORY_ROLES, type User } from '../../directory/model.js';
import type { Directory } from '../../directory/directory.js';
import { loadMasterKey } from '../../keys/master-key.js';
import { databaseTarget } from '../../store/open-store.js';
import { SignInAttemptRepository } from '../../store/repositories/sign-in-attempts.js';
import { SoftwareOathMethodRepository } from '../../store/repositories/software-oath-methods.js';
import { AuthenticationMethods } from '../../users/authentication-methods.js';
import { DatabaseSignInThrottle } from '../../users/sign-in-throttle.js';
import { authenticationMethodKey } from '../../users/totp-secrets.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
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
 * through `directory.users` (the same rules as the management API), and `user mfa …` ({@link registerMfaCommands}).
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
  registerMfaCommands(user, cli);
}

/**
 * `user mfa enrol` (a TOTP authenticator for the user: prints its secret and `otpauth://` URI, to add to an app),
 * `user mfa code` (prints the authenticator's current code: for demos and tests, as an authenticator app would
 * show it) and `user mfa reset` (deletes the authenticator; the user sets up a new one at the next sign-in that
 * asks for the second factor; audited as "Admin deleted security info"). The secrets are encrypted with the
 * master key's derived key, so these commands need the server's master key (`TESSERA_MASTER_KEY`, or the data
 * directory's `master.key`).
 */
function registerMfaCommands(user: Command, cli: CliContext): void {
  const { withCommon, print, run, withDirectory, config } = cli;
  const mfa = user.command('mfa').description("a user's second factor (TOTP authenticator)");
  type Options = GlobalOptions & { tenant: string; upn: string };
  const methodsOf = (options: Options, directory: Directory) => {
    const loaded = config(options);
    const masterKey = loadMasterKey(loaded.masterKey, loaded.dataDir, databaseTarget(loaded).dialect);
    const db = directory.store.db;
    return new AuthenticationMethods({
      methods: new SoftwareOathMethodRepository(db),
      key: authenticationMethodKey(masterKey.key),
      throttle: new DatabaseSignInThrottle(
        new SignInAttemptRepository(db),
        loaded.signInLockoutSeconds * 1000,
      ),
      maxFailures: loaded.signInMaxFailuresPerAccount,
    });
  };
  const now = () => Math.floor(Date.now() / 1000);

  withCommon(
    mfa.command('enrol').description('set up a TOTP authenticator; prints its secret and otpauth URI'),
  )
    .requiredOption('--tenant <tenant>', 'tenant id or domain')
    .requiredOption('--upn <upn>', 'user principal name')
    .action(
      run(async (options: Options) => {
        const result = await withDirectory(options, async (d) => {
          const found = await d.users.get(options.tenant, options.upn);
          const registered = await methodsOf(options, d).register(found, now());
          if (registered === undefined) {
            throw new CliError(
              `${found.userPrincipalName} already has an authenticator; \`tessera user mfa reset\` deletes it first.`,
            );
          }
          return { user: found, ...registered };
        });
        print(
          options,
          {
            userPrincipalName: result.user.userPrincipalName,
            id: result.method.id,
            secret: result.secret,
            otpauthUri: result.otpauthUri,
          },
          `Set up an authenticator for ${result.user.userPrincipalName}: ${result.method.id}
` +
            `Secret: ${result.secret}
${result.otpauthUri}`,
        );
      }),
    );

  withCommon(mfa.command('code').description("print the current code of the user's authenticator"))
    .requiredOption('--tenant <tenant>', 'tenant id or domain')
    .requiredOption('--upn <upn>', 'user principal name')
    .action(
      run(async (options: Options) => {
        const code = await withDirectory(options, async (d) => {
          const found = await d.users.get(options.tenant, options.upn);
          const current = await methodsOf(options, d).currentCode(found.id, now());
          if (current === undefined)
            throw new CliError(
              `${found.userPrincipalName} has no authenticator (\`tessera user mfa enrol\`).`,
            );
          return current;
        });
        print(options, { code }, code);
      }),
    );

  withCommon(mfa.command('reset').description("delete the user's authenticator"))
    .requiredOption('--tenant <tenant>', 'tenant id or domain')
    .requiredOption('--upn <upn>', 'user principal name')
    .action(
      run(async (options: Options) => {
        const removed = await withDirectory(options, async (d) => {
          const found = await d.users.get(options.tenant, options.upn);
          const methods = methodsOf(options, d);
          const method = await methods.softwareOathMethod(found.id);
          const deleted = method === undefined ? undefined : await methods.remove(found.id, method.id);
          if (deleted !== undefined) {
            await d.audits.record(
              {
                activityDisplayName: 'Admin deleted security info',
                category: 'UserManagement',
                operationType: 'Delete',
              },
              {
                tenant: found.tenantId,
                targets: [
                  {
                    id: found.id,
                    displayName: found.displayName,
                    type: 'User',
                    userPrincipalName: found.userPrincipalName,
                    modifiedProperties: [
                      {
                        displayName: 'softwareOathMethods',
                        oldValue: JSON.stringify([deleted.id]),
                        newValue: '[]',
                      },
                    ],
                  },
                ],
              },
              { ok: true },
            );
          }
          return { user: found, deleted };
        });
        print(
          options,
          { userPrincipalName: removed.user.userPrincipalName, deleted: removed.deleted?.id ?? null },
          removed.deleted === undefined
            ? `${removed.user.userPrincipalName} had no authenticator`
            : `Deleted the authenticator of ${removed.user.userPrincipalName}`,
        );
      }),
    );
}
