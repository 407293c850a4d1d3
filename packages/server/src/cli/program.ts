import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError, keyRetentionSeconds, loadConfig, type TesseraConfig } from '../config/config.js';
import { Directory, DirectoryError, type CreateApplicationInput } from '../directory/directory.js';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../keys/algorithms.js';
import { databaseTarget, openStore } from '../store/open-store.js';

// The server, key generation and the demo seed load heavy modules (Fastify, X.509); commands that do not need
// them import them lazily so each CLI invocation starts fast.

/** Where CLI output goes (injectable for tests). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  /** True when the command line asked for `--json` (decides how usage errors are printed). */
  json?: boolean;
}

/** A failure the CLI reports on stderr with exit code 1 (no stack trace). */
class CliError extends Error {}

interface GlobalOptions {
  data?: string;
  json?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A repeatable `KEY=VALUE` option (`--pre-authorize APPID=SCOPE`, `--required-scope RESOURCE=SCOPE`). */
function keyValue(usage: string) {
  return (value: string, previous: { key: string; value: string }[]) => {
    const eq = value.indexOf('=');
    if (eq <= 0 || eq === value.length - 1) throw new InvalidArgumentError(`use ${usage}`);
    return [...previous, { key: value.slice(0, eq), value: value.slice(eq + 1) }];
  };
}

/** Groups `KEY=VALUE` pairs by key, keeping first-seen order. */
function grouped(pairs: readonly { key: string; value: string }[]): { key: string; values: string[] }[] {
  const groups: { key: string; values: string[] }[] = [];
  for (const { key, value } of pairs) {
    const group = groups.find((g) => g.key === key);
    if (group === undefined) groups.push({ key, values: [value] });
    else if (!group.values.includes(value)) group.values.push(value);
  }
  return groups;
}

function parseRedirectUri(value: string, previous: string[]): string[] {
  if (!/^(web|spa|public)=.+/.test(value))
    throw new InvalidArgumentError('use web=URL, spa=URL or public=URL');
  return [...previous, value];
}

/**
 * The `tessera` command line: `serve`, `tenant create`, `app create | add-password | add-cert | grant`,
 * `user create`, `keys rotate`. Every command takes `--json` for machine-readable output and `--data DIR`.
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
    const { db, store } = await openStore(config(options));
    try {
      return await work(new Directory(store));
    } finally {
      await db.destroy();
    }
  };

  withCommon(program.command('serve').description('run the identity server'))
    .option('--port <port>', 'listen port (default 8443, env TESSERA_PORT)')
    .option('--demo', 'on an empty directory, seed the demo tenant and print how to get a token')
    .action(
      run(async (options: GlobalOptions & { port?: string; demo?: boolean }) => {
        const { createTesseraServer } = await import('../server.js');
        const { demoInstructions, seedDemo } = await import('../seed/demo.js');
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

  const app = program.command('app').description('app registrations');
  withCommon(app.command('create').description('register an application'))
    .requiredOption('--tenant <tenant>', 'home tenant id or domain')
    .requiredOption('--name <name>', 'display name')
    .option('--identifier-uri <uri>', 'App ID URI (repeatable; {appId} is replaced)', collect, [])
    .option('--app-role <value>', 'application permission it exposes (repeatable)', collect, [])
    .option(
      '--user-role <value>',
      'app role assignable to users, sent in their tokens as roles (repeatable; with the same --app-role value: both)',
      collect,
      [],
    )
    .option('--scope <value>', 'delegated scope it exposes (repeatable)', collect, [])
    .option(
      '--redirect-uri <platform=url>',
      'web=URL, spa=URL or public=URL (repeatable)',
      parseRedirectUri,
      [],
    )
    .option('--multi-tenant', 'signInAudience AzureADMultipleOrgs')
    .addOption(
      new Option(
        '--implicit <token>',
        'implicit grant: tokens the authorization endpoint may return (repeatable)',
      )
        .choices(['access-token', 'id-token'])
        .argParser((value: string, previous: string[] | undefined) => {
          if (value !== 'access-token' && value !== 'id-token')
            throw new InvalidArgumentError('use access-token or id-token');
          return [...(previous ?? []), value];
        }),
    )
    .option('--logout-url <url>', 'front-channel logout URL (web.logoutUrl)')
    .option(
      '--known-client <appId>',
      'client whose consent also covers this API (api.knownClientApplications; repeatable)',
      collect,
      [],
    )
    .option(
      '--pre-authorize <appId=scope>',
      'client never asked for this scope of the app (api.preAuthorizedApplications; repeatable)',
      keyValue('APPID=SCOPE'),
      [],
    )
    .option(
      '--required-scope <resource=scope>',
      'delegated permission the app requires (requiredResourceAccess, what /.default means; repeatable)',
      keyValue('RESOURCE=SCOPE'),
      [],
    )
    .addOption(
      new Option('--token-version <version>', 'access token version for this resource').choices(['1', '2']),
    )
    .addOption(
      new Option('--token-alg <alg>', 'access token signing algorithm for this resource').choices([
        'RS256',
        'ES256',
      ]),
    )
    .action(
      run(
        async (
          options: GlobalOptions & {
            tenant: string;
            name: string;
            identifierUri: string[];
            appRole: string[];
            userRole: string[];
            scope: string[];
            redirectUri: string[];
            multiTenant?: boolean;
            implicit?: string[];
            logoutUrl?: string;
            knownClient: string[];
            preAuthorize: { key: string; value: string }[];
            requiredScope: { key: string; value: string }[];
            tokenVersion?: '1' | '2';
            tokenAlg?: SigningAlgorithm;
          },
        ) => {
          const redirects = (platform: string) =>
            options.redirectUri
              .filter((r) => r.startsWith(`${platform}=`))
              .map((r) => r.slice(platform.length + 1));
          const input: CreateApplicationInput = {
            tenant: options.tenant,
            displayName: options.name,
            ...(options.identifierUri.length > 0 ? { identifierUris: options.identifierUri } : {}),
            appRoles: options.appRole,
            userRoles: options.userRole,
            scopes: options.scope,
            redirectUris: { web: redirects('web'), spa: redirects('spa'), publicClient: redirects('public') },
            signInAudience: options.multiTenant === true ? 'AzureADMultipleOrgs' : 'AzureADMyOrg',
            requestedAccessTokenVersion:
              options.tokenVersion === undefined ? null : (Number(options.tokenVersion) as 1 | 2),
            ...(options.tokenAlg === undefined ? {} : { accessTokenSigningAlgorithm: options.tokenAlg }),
            implicitGrant: {
              accessToken: options.implicit?.includes('access-token') === true,
              idToken: options.implicit?.includes('id-token') === true,
            },
            ...(options.logoutUrl === undefined ? {} : { logoutUrl: options.logoutUrl }),
            knownClientApplications: options.knownClient,
            preAuthorizedApplications: grouped(options.preAuthorize).map((g) => ({
              appId: g.key,
              scopes: g.values,
            })),
            requiredScopes: grouped(options.requiredScope).map((g) => ({
              resource: g.key,
              scopes: g.values,
            })),
          };
          const { application, servicePrincipal } = await withDirectory(options, (d) =>
            d.applications.create(input),
          );
          const { passwordCredentials: _p, keyCredentials: _k, ...shown } = application;
          print(
            options,
            { ...shown, servicePrincipalId: servicePrincipal.id },
            `Registered ${application.displayName}: appId ${application.appId}` +
              (application.identifierUris.length > 0
                ? `, App ID URI ${application.identifierUris.join(', ')}`
                : ''),
          );
        },
      ),
    );

  withCommon(app.command('add-password').description('add a client secret (shown once)'))
    .requiredOption('--tenant <tenant>', 'home tenant id or domain')
    .requiredOption('--app <appId>', 'application (client) id')
    .option('--display-name <name>', 'description of the secret')
    .option('--days <days>', 'validity in days (default 730)')
    .action(
      run(
        async (
          options: GlobalOptions & { tenant: string; app: string; displayName?: string; days?: string },
        ) => {
          const created = await withDirectory(options, async (d) => {
            await requireHomeTenant(d, options.tenant, options.app);
            return d.credentials.addPassword({
              appId: options.app,
              ...(options.displayName === undefined ? {} : { displayName: options.displayName }),
              ...(options.days === undefined
                ? {}
                : { lifetimeSeconds: positiveInt(options.days, '--days') * 86_400 }),
            });
          });
          // The CLI prints credential times as Unix seconds under Graph's names (docs/cli.md).
          const { startAt, endAt, ...listed } = created.credential;
          print(
            options,
            { ...listed, startDateTime: startAt, endDateTime: endAt, secretText: created.secretText },
            `Client secret (shown only now): ${created.secretText}\nkeyId ${created.credential.keyId}, expires ${new Date(endAt * 1000).toISOString()}`,
          );
        },
      ),
    );

  withCommon(app.command('add-cert').description('register a certificate credential'))
    .requiredOption('--tenant <tenant>', 'home tenant id or domain')
    .requiredOption('--app <appId>', 'application (client) id')
    .requiredOption('--cert <file>', 'PEM certificate file')
    .action(
      run(async (options: GlobalOptions & { tenant: string; app: string; cert: string }) => {
        let pem: string;
        try {
          pem = readFileSync(options.cert, 'utf8');
        } catch {
          throw new CliError(`Cannot read the certificate file '${options.cert}'.`);
        }
        const credential = await withDirectory(options, async (d) => {
          await requireHomeTenant(d, options.tenant, options.app);
          return d.credentials.addCertificate({ appId: options.app, certificatePem: pem });
        });
        const { certificatePem: _pem, startAt, endAt, ...listed } = credential;
        print(
          options,
          { ...listed, startDateTime: startAt, endDateTime: endAt },
          `Added certificate ${credential.displayName}: x5t ${credential.thumbprintSha1}, x5t#S256 ${credential.thumbprintSha256}`,
        );
      }),
    );

  withCommon(
    app
      .command('grant')
      .description(
        'grant an app role: an application permission to a client (admin consent), or a role to a user',
      ),
  )
    .requiredOption('--tenant <tenant>', 'tenant id or domain where the role is granted')
    .option('--client <appId>', 'client application id (application permission)')
    .option('--user <upn>', 'user principal name (an app role that allows users)')
    .requiredOption('--resource <appIdOrUri>', 'resource application id or App ID URI')
    .requiredOption('--role <value>', 'app role value')
    .action(
      run(
        async (
          options: GlobalOptions & {
            tenant: string;
            client?: string;
            user?: string;
            resource: string;
            role: string;
          },
        ) => {
          const { client, user } = options;
          if ((client === undefined) === (user === undefined)) {
            throw new CliError('Give exactly one of --client <appId> and --user <upn>.');
          }
          const assignment = await withDirectory(options, (d) =>
            user === undefined
              ? d.grants.grantAppRole({
                  tenant: options.tenant,
                  clientAppId: client ?? '',
                  resource: options.resource,
                  role: options.role,
                })
              : d.grants.assignAppRoleToUser({
                  tenant: options.tenant,
                  userPrincipalName: user,
                  resource: options.resource,
                  role: options.role,
                }),
          );
          const { createdAt, ...listed } = assignment;
          print(
            options,
            { ...listed, createdDateTime: createdAt },
            `Granted ${options.role} on ${options.resource} to ${client ?? user ?? ''}`,
          );
        },
      ),
    );

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
          const found = await withDirectory(options, async (d) => {
            const tenantFound = await d.tenants.require(options.tenant);
            const existing = await d.store.users.findByUpn(options.upn);
            if (existing?.tenantId !== tenantFound.id) {
              throw new DirectoryError(
                'not_found',
                `User '${options.upn}' not found in tenant '${options.tenant}'.`,
              );
            }
            await d.users.setAccountEnabled(existing.id, enabled);
            return existing;
          });
          print(
            options,
            { id: found.id, userPrincipalName: found.userPrincipalName, accountEnabled: enabled },
            `${enabled ? 'Enabled' : 'Disabled'} user ${found.userPrincipalName}`,
          );
        }),
      );
  }

  const keys = program.command('keys').description('token signing keys');
  withCommon(
    keys
      .command('rotate')
      .description(
        'add new signing keys, published at once as next keys and signing after keyActivationDelaySeconds; previous keys stay published until their tokens expire',
      ),
  )
    .addOption(new Option('--alg <alg>', 'rotate only this algorithm').choices([...SIGNING_ALGORITHMS]))
    .option('--now', 'sign with the new keys at once (a compromised key); validators may refuse them briefly')
    .action(
      run(async (options: GlobalOptions & { alg?: SigningAlgorithm; now?: boolean }) => {
        const cfg = config(options);
        const { db, store } = await openStore(cfg);
        try {
          const { loadMasterKey } = await import('../keys/master-key.js');
          const { rotateSigningKeys } = await import('../keys/key-ring.js');
          const masterKey = loadMasterKey(cfg.masterKey, cfg.dataDir, databaseTarget(cfg).dialect);
          const rotated = await rotateSigningKeys(
            store,
            masterKey.key,
            options.alg === undefined ? SIGNING_ALGORITHMS : [options.alg],
            keyRetentionSeconds(cfg),
            Math.floor(Date.now() / 1000),
            options.now === true ? 0 : cfg.keyActivationDelaySeconds,
          );
          print(
            options,
            { rotated },
            rotated
              .map(
                (r) =>
                  `New ${r.alg} signing key: kid ${r.kid}, ` +
                  (options.now === true
                    ? 'signing now'
                    : `published now, signing from ${new Date(r.activatesAt * 1000).toISOString()}`),
              )
              .join('\n'),
          );
        } finally {
          await db.destroy();
        }
      }),
    );

  return program;
}

async function requireHomeTenant(directory: Directory, tenant: string, appId: string): Promise<void> {
  const [resolved, application] = await Promise.all([
    directory.tenants.require(tenant),
    directory.applications.require(appId),
  ]);
  if (application.tenantId !== resolved.id) {
    throw new DirectoryError('not_found', `Application '${appId}' is not registered in tenant '${tenant}'.`);
  }
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`${flag} must be a positive whole number.`);
  return n;
}
