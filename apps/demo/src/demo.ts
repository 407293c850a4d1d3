/**
 * The demo itself (started by `main.ts`): the identity server, the Todo API with its team hub, the report daemon
 * and the demo web site, in one process, seeded idempotently, until Ctrl-C. See docs/demo.md.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ConfigError, REDACTED_LOG_PATHS, createTesseraServer, type TesseraServer } from '@tessera/server';
import { createTokenValidator } from '@tessera/resource';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { ReportDaemon } from './daemon/report-daemon.js';
import { FlowLog } from './flows/flow-log.js';
import { DemoOutput } from './output.js';
import { recordTotp, seedScenario } from './seed/scenario.js';
import { seedStepUp } from './seed/step-up.js';
import { DemoSettingsError, readDemoSettings, type DemoSettings } from './settings.js';
import { createTodoApi, type TodoApi } from './todo-api/todo-api.js';
import { TodoStore } from './todo-api/todo-store.js';
import { demoTls } from './trust.js';
import { ensureSpaBuilt } from './web/spa-build.js';
import { createWebSite } from './web/web-site.js';

/** Milliseconds the shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

/** A free TCP port on `host` (for a setting of 0: the port must be known before the apps are registered). */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => {
        resolve(port);
      });
    });
  });
}

function logger(settings: DemoSettings): Logger {
  const options = {
    level: settings.server.logLevel,
    redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
  };
  if (settings.output === 'json') return pino(options);
  return pino(options, pretty({ sync: true, colorize: process.stdout.isTTY, ignore: 'pid,hostname' }));
}

async function start(): Promise<void> {
  const startedAt = performance.timeOrigin;
  let settings: DemoSettings;
  try {
    settings = readDemoSettings();
  } catch (error) {
    if (error instanceof DemoSettingsError || error instanceof ConfigError) {
      new DemoOutput(process.stdout.isTTY ? 'pretty' : 'json').failed(error.message);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
  const output = new DemoOutput(settings.output);
  const tls = await demoTls(settings.server);
  const https =
    tls.keyFile === undefined || tls.certFile === undefined
      ? undefined
      : { key: readFileSync(tls.keyFile), cert: readFileSync(tls.certFile) };
  const scheme = https === undefined ? 'http' : 'https';
  const host = settings.server.host;
  const apiPort = settings.apiPort === 0 ? await freePort(host) : settings.apiPort;
  const webPort = settings.webPort === 0 ? await freePort(host) : settings.webPort;
  const urls = {
    api: `${scheme}://localhost:${apiPort}`,
    web: `${scheme}://localhost:${webPort}`,
  };

  const stops: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const force = setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS);
      force.unref();
      for (const part of stops.reverse()) {
        try {
          await part();
        } catch {
          // Shutting down: the other parts still get their turn.
        }
      }
      output.stopped();
    })();
    return stopping;
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  try {
    const server: TesseraServer = await createTesseraServer(settings.server, { logger: logger(settings) });
    stops.push(() => server.close());
    const identity = await server.listen();
    const seeded = await seedScenario(server.directory, server.store, settings.server.dataDir, {
      web: urls.web,
    });
    const stepUp = await seedStepUp(server, seeded.scenario);
    const scenario =
      stepUp.totp !== undefined && seeded.scenario.totp === undefined
        ? recordTotp(settings.server.dataDir, stepUp.totp)
        : seeded.scenario;
    const seed = { ...seeded, scenario, created: [...seeded.created, ...stepUp.created] };
    // The seed wrote through this process's directory: the caches read it now rather than at the next poll.
    await server.refresh();

    const flows = new FlowLog();
    flows.subscribe((event) => {
      output.flow(event);
    });
    const validator = createTokenValidator({
      authority: `${identity}/organizations`,
      audience: [scenario.todoApi.appId, scenario.todoApi.identifierUri],
      allowedTenants: [scenario.contoso.id, scenario.fabrikam.id],
    });
    const todos = await TodoStore.open(join(settings.server.dataDir, 'demo', 'todos.db'));
    stops.push(() => todos.close());
    const api: TodoApi = await createTodoApi({
      scenario,
      identityUrl: identity,
      webOrigin: urls.web,
      validator,
      todos,
      flows,
      https,
    });
    stops.push(() => api.close());
    await api.app.listen({ host, port: apiPort });

    const daemon = new ReportDaemon({
      scenario,
      identityUrl: identity,
      apiUrl: urls.api,
      flows,
      intervalSeconds: settings.reportIntervalSeconds,
    });
    stops.push(() => {
      daemon.stop();
      return Promise.resolve();
    });
    const spaDir = await ensureSpaBuilt();
    const web = createWebSite({ scenario, urls: { ...urls, identity }, flows, daemon, https, spaDir });
    stops.push(() => web.close());
    await web.listen({ host, port: webPort });

    output.ready({
      urls: { identity, ...urls },
      seed,
      caFile: tls.caFile,
      dataDir: settings.server.dataDir,
      startupMs: Math.round(Date.now() - startedAt),
    });
    daemon.start();
  } catch (error) {
    output.failed(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
    await stop();
  }
}

await start();
