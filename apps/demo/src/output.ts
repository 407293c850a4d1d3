import type { FlowEvent } from './flows/flow-log.js';
import type { SeedReport } from './seed/scenario.js';
import type { OutputMode } from './settings.js';
import type { DemoUrls } from './web/web-site.js';

/** The one-line command that prints the current TOTP code of the demo's authenticator (from the repository root). */
export const TOTP_CODE_COMMAND = 'node apps/demo/dist/totp-code.js';

/** What the demo prints once every part is listening. */
export interface ReadyInfo {
  readonly urls: DemoUrls;
  readonly seed: SeedReport;
  /** The development CA, when `tls` is `dev`. */
  readonly caFile: string | undefined;
  readonly dataDir: string;
  /** Milliseconds from the process start to every part listening. */
  readonly startupMs: number;
}

/** Writes one line (JSON mode) or a block of text (pretty mode) to standard output. */
export class DemoOutput {
  constructor(
    readonly mode: OutputMode,
    private readonly write: (text: string) => void = (text) => process.stdout.write(text),
  ) {}

  /** The start-up summary: URLs, users and passwords, what was seeded. */
  ready(info: ReadyInfo): void {
    const { scenario, created, updated } = info.seed;
    if (this.mode === 'json') {
      this.line({
        type: 'ready',
        urls: info.urls,
        dataDir: info.dataDir,
        caFile: info.caFile ?? null,
        startupMs: info.startupMs,
        created,
        updated,
        tenants: { contoso: scenario.contoso, fabrikam: scenario.fabrikam },
        users: scenario.users.map((u) => ({
          userPrincipalName: u.userPrincipalName,
          password: u.password,
          displayName: u.displayName,
          role: u.role,
        })),
        apps: {
          todoApi: { appId: scenario.todoApi.appId, identifierUri: scenario.todoApi.identifierUri },
          spa: scenario.spa,
          daemon: { appId: scenario.daemon.appId },
        },
        totp: scenario.totp === undefined ? null : { ...scenario.totp, codeCommand: TOTP_CODE_COMMAND },
      });
      return;
    }
    const width = Math.max(...scenario.users.map((u) => u.userPrincipalName.length));
    const lines = [
      '',
      `Tessera demo ready in ${(info.startupMs / 1000).toFixed(1)} s (development only). Ctrl-C stops it.`,
      '',
      `  Open the demo:    ${info.urls.web}/`,
      `  Identity server:  ${info.urls.identity}`,
      `  Todo API + hub:   ${info.urls.api}`,
      '',
      '  Users (passwords are generated once per data directory):',
      ...scenario.users.map(
        (u) => `    ${u.userPrincipalName.padEnd(width)}  ${u.password.padEnd(22)}  ${u.role}`,
      ),
      ...(scenario.totp === undefined
        ? []
        : [
            '',
            `  ${scenario.totp.userPrincipalName} has a TOTP authenticator (the export asks for it):`,
            `    secret ${scenario.totp.secret} (add it to an authenticator app), or print the current code with`,
            `    ${TOTP_CODE_COMMAND}`,
          ]),
      '',
      created.length === 0
        ? `  Data directory ${info.dataDir}: everything was already seeded; nothing created.`
        : `  Seeded ${created.length} objects into ${info.dataDir}.`,
      ...updated.map((what) => `  Updated: ${what}.`),
      ...(info.caFile === undefined
        ? []
        : [
            `  The browser warns about the certificate: trust ${info.caFile}`,
            '  (a development CA made for this data directory), or accept the warning once per port.',
          ]),
      '',
    ];
    this.write(`${lines.join('\n')}\n`);
  }

  /** One flow step, as it happens. */
  flow(event: FlowEvent): void {
    if (this.mode === 'json') {
      this.line({ type: 'flow', ...event });
      return;
    }
    const mark = event.outcome === 'ok' ? '✓' : '✗';
    this.write(`${mark} [${event.flow.replaceAll('_', ' ')}] ${event.title}\n`);
  }

  /** A start-up failure, in a sentence, without a stack. */
  failed(message: string): void {
    if (this.mode === 'json') this.line({ type: 'error', message });
    else this.write(`\nThe demo could not start: ${message}\n`);
  }

  /** The shutdown notice. */
  stopped(): void {
    if (this.mode === 'json') this.line({ type: 'stopped' });
    else this.write('Tessera demo stopped.\n');
  }

  private line(value: object): void {
    this.write(`${JSON.stringify(value)}\n`);
  }
}
