import { readFileSync } from 'node:fs';
import { ConfidentialClientApplication, type AuthError } from '@azure/msal-node';
import type { FlowLog } from '../flows/flow-log.js';
import { TODOS_READ_ALL, type DemoScenario, type DemoTenant } from '../seed/scenario.js';

/** What one run of the daemon in one tenant found. */
export type ReportResult =
  | {
      readonly tenant: string;
      readonly outcome: 'ok';
      readonly report: { readonly users: number; readonly open: number; readonly done: number };
      readonly roles: readonly string[];
    }
  | {
      readonly tenant: string;
      readonly outcome: 'refused';
      /** The OAuth `error` (or the API's), and the platform's numeric code when there is one. */
      readonly error: string;
      readonly errorCode: number | undefined;
    };

/** What the daemon needs. */
export interface ReportDaemonOptions {
  readonly scenario: DemoScenario;
  readonly identityUrl: string;
  readonly apiUrl: string;
  readonly flows: FlowLog;
  /** Seconds between two runs over both tenants; 0: only when {@link ReportDaemon.runAll} is called. */
  readonly intervalSeconds: number;
}

/**
 * The report daemon (seed 003): a multi-tenant confidential client that authenticates with its certificate
 * (`private_key_jwt`, RFC 7523 §2.2, through MSAL Node's `clientCertificate`), takes an app-only token for the
 * Todo API (`scope=api://contoso.test/todo/.default`, client credentials, RFC 6749 §4.4) in each tenant, and
 * reads that tenant's totals from `GET /reports/todos`. In fabrikam it is refused until fabrikam's administrator
 * grants the application permission on the admin consent page.
 */
export class ReportDaemon {
  private readonly clients = new Map<string, ConfidentialClientApplication>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<readonly ReportResult[]> | undefined;
  private readonly privateKey: string;

  constructor(private readonly options: ReportDaemonOptions) {
    this.privateKey = readFileSync(options.scenario.daemon.privateKeyFile, 'utf8');
  }

  /** Starts the schedule (the first run at once). */
  start(): void {
    void this.runAll();
    if (this.options.intervalSeconds > 0) {
      this.timer = setInterval(() => void this.runAll(), this.options.intervalSeconds * 1000);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Runs in contoso, then in fabrikam; a run already under way is joined rather than doubled. */
  runAll(): Promise<readonly ReportResult[]> {
    this.running ??= (async () => {
      try {
        const { contoso, fabrikam } = this.options.scenario;
        return [await this.run(contoso), await this.run(fabrikam)];
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** One run in `tenant`: token, then the report. Never throws: a refusal is a result. */
  async run(tenant: DemoTenant): Promise<ReportResult> {
    const { flows, apiUrl } = this.options;
    let accessToken: string;
    let fromCache: boolean;
    try {
      const result = await this.client(tenant).acquireTokenByClientCredential({
        scopes: [`${this.options.scenario.todoApi.identifierUri}/.default`],
      });
      if (result === null) throw new Error('no token');
      accessToken = result.accessToken;
      fromCache = result.fromCache;
    } catch (error) {
      const auth = error as Partial<AuthError> & { errorNo?: unknown };
      const errorCode = Number(auth.errorNo);
      const refused: ReportResult = {
        tenant: tenant.domain,
        outcome: 'refused',
        error: auth.errorCode ?? 'error',
        errorCode: Number.isInteger(errorCode) ? errorCode : undefined,
      };
      flows.record({
        flow: 'client_credentials',
        outcome: 'refused',
        title: `Report Daemon got no token in ${tenant.domain}: ${refused.error}${refused.errorCode === undefined ? '' : ` (${refused.errorCode})`}`,
        explanation:
          `The daemon is multi-tenant, but ${tenant.displayName} has not granted it ${TODOS_READ_ALL} yet: an ` +
          `administrator of ${tenant.domain} must approve it on the admin consent page first.`,
        rules: [
          'Application permissions are granted by a tenant administrator, per tenant, never by the app itself.',
        ],
      });
      return refused;
    }
    if (!fromCache) {
      flows.record({
        flow: 'client_credentials',
        outcome: 'ok',
        title: `Report Daemon got an app-only token in ${tenant.domain} with its certificate`,
        explanation:
          'grant_type=client_credentials with client_assertion (a JWT signed by the daemon’s private key, x5t#S256 ' +
          'naming its certificate): azpacr=2 (certificate), idtyp=app, roles = the application permissions granted ' +
          'in this tenant.',
        rules: [
          'The client assertion’s audience is the token endpoint and its lifetime is bounded.',
          'scope is exactly {resource}/.default: the daemon gets what the tenant granted, nothing it asks for itself.',
        ],
        token: accessToken,
      });
    }
    const response = await fetch(`${apiUrl}/reports/todos`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (!response.ok) {
      return { tenant: tenant.domain, outcome: 'refused', error: String(body.error), errorCode: undefined };
    }
    const report = { users: Number(body.users), open: Number(body.open), done: Number(body.done) };
    const roles = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      roles?: string[];
    };
    flows.record({
      flow: 'client_credentials',
      outcome: 'ok',
      title: `Report for ${tenant.domain}: ${report.open} open and ${report.done} done todos of ${report.users} users`,
      explanation:
        'GET /reports/todos requires the application permission Todos.Read.All and reports the token’s tid only.',
      rules: ['Each tenant’s report comes from its own token: the tid decides whose data is read.'],
    });
    return { tenant: tenant.domain, outcome: 'ok', report, roles: roles.roles ?? [] };
  }

  private client(tenant: DemoTenant): ConfidentialClientApplication {
    let client = this.clients.get(tenant.id);
    if (client === undefined) {
      const { scenario, identityUrl } = this.options;
      client = new ConfidentialClientApplication({
        auth: {
          clientId: scenario.daemon.appId,
          authority: `${identityUrl}/${tenant.id}`,
          knownAuthorities: [new URL(identityUrl).host],
          clientCertificate: {
            thumbprintSha256: scenario.daemon.thumbprintSha256,
            privateKey: this.privateKey,
          },
        },
      });
      this.clients.set(tenant.id, client);
    }
    return client;
  }
}
