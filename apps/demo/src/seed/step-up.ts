import {
  AuthenticationMethods,
  DatabaseSignInThrottle,
  SignInStore,
  SoftwareOathMethodRepository,
  authenticationMethodKey,
  databaseTarget,
  loadMasterKey,
  type TesseraServer,
} from '@tessera/server';
import { EXPORT_AUTHENTICATION_CONTEXT } from '../todo-api/todo-api.js';
import type { DemoScenario, TotpEnrolment } from './scenario.js';

/** Display name of the demo's conditional access policy (how a later start finds it). */
export const EXPORT_POLICY_NAME = 'Demo: require MFA to export todos (authentication context c1)';

/** What {@link seedStepUp} did. */
export interface StepUpSeed {
  readonly policyId: string;
  readonly totp: TotpEnrolment | undefined;
  readonly created: readonly string[];
}

/**
 * Seeds the step-up part of the scenario, idempotently: in contoso, an enabled conditional access policy that
 * requires MFA for every user whenever a token is asked for authentication context `c1` (what the Todo API's export
 * requires, `requireAuthenticationContext`), and a TOTP authenticator (RFC 6238) for Alice, registered by the
 * operator, whose secret is kept so later starts print it again.
 *
 * @throws DirectoryError when the directory refuses the policy.
 */
export async function seedStepUp(server: TesseraServer, scenario: DemoScenario): Promise<StepUpSeed> {
  const created: string[] = [];
  const tenant = scenario.contoso.id;
  const policies = await server.directory.conditionalAccessPolicies.list(tenant);
  let policy = policies.find((p) => p.displayName === EXPORT_POLICY_NAME);
  if (policy === undefined) {
    policy = await server.directory.conditionalAccessPolicies.create(tenant, {
      displayName: EXPORT_POLICY_NAME,
      state: 'enabled',
      conditions: {
        users: { includeUsers: ['All'] },
        applications: { includeAuthenticationContextClassReferences: [EXPORT_AUTHENTICATION_CONTEXT] },
      },
      grantControls: { operator: 'OR', builtInControls: ['mfa'] },
    });
    created.push(`conditional access policy "${EXPORT_POLICY_NAME}"`);
  }
  const alice = scenario.users.find((u) => u.key === 'alice');
  if (alice === undefined) return { policyId: policy.id, totp: undefined, created };
  const config = server.config;
  const masterKey = loadMasterKey(config.masterKey, config.dataDir, databaseTarget(config).dialect);
  const methods = new AuthenticationMethods({
    methods: new SoftwareOathMethodRepository(server.store.db),
    key: authenticationMethodKey(masterKey.key),
    throttle: new DatabaseSignInThrottle(
      new SignInStore(server.store.db).signInAttempts,
      config.signInLockoutSeconds * 1000,
    ),
    maxFailures: config.signInMaxFailuresPerAccount,
  });
  if (await methods.isRegistered(alice.id)) return { policyId: policy.id, totp: scenario.totp, created };
  const registered = await methods.register(
    { id: alice.id, tenantId: tenant, userPrincipalName: alice.userPrincipalName },
    Math.floor(Date.now() / 1000),
  );
  if (registered === undefined) return { policyId: policy.id, totp: scenario.totp, created };
  created.push(`TOTP authenticator for ${alice.userPrincipalName}`);
  return {
    policyId: policy.id,
    totp: {
      userPrincipalName: alice.userPrincipalName,
      secret: registered.secret,
      otpauthUri: registered.otpauthUri,
    },
    created,
  };
}
