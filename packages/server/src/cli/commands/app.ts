/**
 * `tessera app create | update | add-password | add-cert | grant`: app registrations and their grants
 * (docs/cli.md).
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DirectoryError, type CreateApplicationInput, type Directory } from '../../directory/directory.js';
import { graphDateTime } from '../../directory/model.js';
import type { SigningAlgorithm } from '../../keys/algorithms.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { collect, grouped, keyValue, parseRedirectUri, positiveInt } from '../options.js';

/** Registers `app create`, `app add-password`, `app add-cert` and `app grant`. */
export function registerAppCommands(program: Command, cli: CliContext): void {
  const { withCommon, print, run, withDirectory } = cli;
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
    .option(
      '--required-role <resource=value>',
      'application permission the app requires (requiredResourceAccess Role, granted by admin consent; repeatable)',
      keyValue('RESOURCE=VALUE'),
      [],
    )
    .option(
      '--admin-scope <value>',
      'delegated scope it exposes that only an administrator can consent to (type Admin; repeatable)',
      collect,
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
    .option('--require-dpop', 'every token request of this client must carry a DPoP proof (RFC 9449)')
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
            requiredRole: { key: string; value: string }[];
            adminScope: string[];
            tokenVersion?: '1' | '2';
            tokenAlg?: SigningAlgorithm;
            requireDpop?: boolean;
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
            adminScopes: options.adminScope,
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
            requiredRoles: grouped(options.requiredRole).map((g) => ({
              resource: g.key,
              roles: g.values,
            })),
          };
          const { application, servicePrincipal } = await withDirectory(options, async (d) => {
            const created = await d.applications.create(input);
            if (options.requireDpop !== true) return created;
            const required = await d.applications.update(created.application.appId, () => ({
              dpopBoundAccessTokens: true,
            }));
            return { ...created, application: required };
          });
          const { passwordCredentials: _p, keyCredentials: _k, createdAt: _c, ...shown } = application;
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

  withCommon(app.command('update').description("change an application's Tessera settings"))
    .requiredOption('--tenant <tenant>', 'home tenant id or domain')
    .requiredOption('--app <appId>', 'application (client) id')
    .option('--require-dpop', 'every token request of this client must carry a DPoP proof (RFC 9449)')
    .option('--no-require-dpop', 'token requests of this client may come without a DPoP proof')
    .action(
      run(async (options: GlobalOptions & { tenant: string; app: string; requireDpop?: boolean }) => {
        const { requireDpop } = options;
        if (requireDpop === undefined)
          throw new CliError('Nothing to change: give --require-dpop or --no-require-dpop.');
        const application = await withDirectory(options, async (d) => {
          await d.applications.get(options.tenant, { appId: options.app });
          return d.applications.update(options.app, () => ({ dpopBoundAccessTokens: requireDpop }));
        });
        print(
          options,
          { appId: application.appId, dpopBoundAccessTokens: application.dpopBoundAccessTokens === true },
          `${application.displayName}: DPoP ${application.dpopBoundAccessTokens === true ? 'required' : 'not required'}`,
        );
      }),
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
          // Graph's names and format for the times (docs/cli.md).
          const { startAt, endAt, ...listed } = created.credential;
          print(
            options,
            {
              ...listed,
              startDateTime: graphDateTime(startAt),
              endDateTime: graphDateTime(endAt),
              secretText: created.secretText,
            },
            `Client secret (shown only now): ${created.secretText}\nkeyId ${created.credential.keyId}, expires ${graphDateTime(endAt)}`,
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
          { ...listed, startDateTime: graphDateTime(startAt), endDateTime: graphDateTime(endAt) },
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
            { ...listed, createdDateTime: graphDateTime(createdAt) },
            `Granted ${options.role} on ${options.resource} to ${client ?? user ?? ''}`,
          );
        },
      ),
    );
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
