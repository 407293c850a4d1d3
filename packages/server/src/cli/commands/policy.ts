/** `tessera policy create | list | show | delete | enable | disable` (docs/cli.md). */
import type { Command } from 'commander';
import type { ConditionalAccessPolicy } from '../../directory/conditional-access-policy.js';
import type { Directory } from '../../directory/directory.js';
import { DIRECTORY_ROLES } from '../../directory/model.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { collect } from '../options.js';

/** `--state` values: Graph's states, with `reportOnly` for `enabledForReportingButNotEnforced`. */
const STATES: Readonly<Record<string, string>> = {
  enabled: 'enabled',
  disabled: 'disabled',
  reportOnly: 'enabledForReportingButNotEnforced',
  enabledForReportingButNotEnforced: 'enabledForReportingButNotEnforced',
};

/** What the policy commands print with `--json`: the policy as the directory keeps it. */
function summary(policy: ConditionalAccessPolicy) {
  return {
    id: policy.id,
    displayName: policy.displayName,
    state: policy.state,
    conditions: policy.conditions,
    grantControls: policy.grantControls,
  };
}

/** One line per policy: id, state and name. */
function line(policy: ConditionalAccessPolicy): string {
  return `${policy.id}  ${policy.state.padEnd(34)}  ${policy.displayName}`;
}

/** Each value of a repeatable option, with comma-separated values split (`--users ID1,ID2`). */
function values(given: readonly string[]): string[] {
  return given
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
}

/** User ids, with UPNs (`name@domain`) resolved to the users' object ids in the tenant. */
async function userIds(d: Directory, tenant: string, given: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const value of values(given)) {
    ids.push(value.includes('@') ? (await d.users.get(tenant, value)).id : value);
  }
  return ids;
}

/**
 * Registers `policy create`, `policy list`, `policy show`, `policy delete`, `policy enable` and `policy disable`,
 * each through `directory.conditionalAccessPolicies` (the same rules and audit as the management API's
 * `/identity/conditionalAccess/policies`).
 */
export function registerPolicyCommands(program: Command, cli: CliContext): void {
  const { withCommon, print, run, withDirectory } = cli;
  const policy = program.command('policy').description('conditional access policies');

  withCommon(policy.command('create').description('create a conditional access policy requiring MFA'))
    .requiredOption('--tenant <tenant>', 'tenant id or domain')
    .requiredOption('--name <name>', 'display name')
    .option('--resource <appId>', 'resource appId, or All (repeatable)', collect, [])
    .option('--exclude-resource <appId>', 'resource appId left out (repeatable)', collect, [])
    .option('--users <id>', 'user object id or UPN, or All (repeatable, comma-separated)', collect, [])
    .option('--exclude-users <id>', 'user object id or UPN left out (repeatable)', collect, [])
    .option(
      '--roles <role>',
      `directory role name or template id (repeatable; ${DIRECTORY_ROLES.map((r) => `"${r}"`).join(', ')})`,
      collect,
      [],
    )
    .option('--exclude-roles <role>', 'directory role left out (repeatable)', collect, [])
    .option('--acrs <id>', 'authentication context c1 … c99 (repeatable)', collect, [])
    .option('--state <state>', 'enabled, disabled or reportOnly', 'enabled')
    .action(
      run(
        async (
          options: GlobalOptions & {
            tenant: string;
            name: string;
            resource: string[];
            excludeResource: string[];
            users: string[];
            excludeUsers: string[];
            roles: string[];
            excludeRoles: string[];
            acrs: string[];
            state: string;
          },
        ) => {
          const created = await withDirectory(options, async (d) =>
            d.conditionalAccessPolicies.create(options.tenant, {
              displayName: options.name,
              state: STATES[options.state] ?? options.state,
              conditions: {
                users: {
                  includeUsers: await userIds(d, options.tenant, options.users),
                  excludeUsers: await userIds(d, options.tenant, options.excludeUsers),
                  includeRoles: options.roles,
                  excludeRoles: options.excludeRoles,
                },
                applications: {
                  includeApplications: values(options.resource),
                  excludeApplications: values(options.excludeResource),
                  includeAuthenticationContextClassReferences: values(options.acrs),
                },
                clientAppTypes: ['all'],
              },
              grantControls: { operator: 'OR', builtInControls: ['mfa'] },
            }),
          );
          print(options, summary(created), `Created conditional access policy ${created.id}`);
        },
      ),
    );

  withCommon(policy.command('list').description("list a tenant's conditional access policies"))
    .requiredOption('--tenant <tenant>', 'tenant id or domain')
    .action(
      run(async (options: GlobalOptions & { tenant: string }) => {
        const all = await withDirectory(options, (d) => d.conditionalAccessPolicies.list(options.tenant));
        print(
          options,
          all.map(summary),
          all.length === 0 ? 'No conditional access policies.' : all.map(line).join('\n'),
        );
      }),
    );

  withCommon(policy.command('show').description('show one conditional access policy'))
    .requiredOption('--tenant <tenant>', 'tenant id or domain')
    .requiredOption('--id <id>', 'policy id')
    .action(
      run(async (options: GlobalOptions & { tenant: string; id: string }) => {
        const found = await withDirectory(options, (d) =>
          d.conditionalAccessPolicies.get(options.tenant, options.id),
        );
        print(options, summary(found), JSON.stringify(summary(found), null, 2));
      }),
    );

  withCommon(policy.command('delete').description('delete a conditional access policy'))
    .requiredOption('--tenant <tenant>', 'tenant id or domain')
    .requiredOption('--id <id>', 'policy id')
    .action(
      run(async (options: GlobalOptions & { tenant: string; id: string }) => {
        await withDirectory(options, (d) => d.conditionalAccessPolicies.delete(options.tenant, options.id));
        print(options, { id: options.id, deleted: true }, `Deleted conditional access policy ${options.id}`);
      }),
    );

  for (const [name, state, text] of [
    ['enable', 'enabled', 'enforce a policy (--report-only: evaluate and report only)'],
    ['disable', 'disabled', 'stop evaluating a policy'],
  ] as const) {
    const command = withCommon(policy.command(name).description(text))
      .requiredOption('--tenant <tenant>', 'tenant id or domain')
      .requiredOption('--id <id>', 'policy id');
    if (name === 'enable') command.option('--report-only', 'report-only (enabledForReportingButNotEnforced)');
    command.action(
      run(async (options: GlobalOptions & { tenant: string; id: string; reportOnly?: boolean }) => {
        const target = options.reportOnly === true ? 'enabledForReportingButNotEnforced' : state;
        const updated = await withDirectory(options, (d) =>
          d.conditionalAccessPolicies.update(options.tenant, options.id, { state: target }),
        );
        print(options, summary(updated), `Policy ${updated.id} is now ${updated.state}`);
      }),
    );
  }
}
