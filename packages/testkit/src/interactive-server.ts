import { seedInteractiveScenario, type InteractiveScenario } from './interactive.js';
import { startTestServer, type TestServer, type TestServerOptions } from './test-server.js';

/** A running test server and the interactive scenario seeded in it. */
export interface InteractiveServer {
  readonly server: TestServer;
  readonly scenario: InteractiveScenario;
}

/**
 * Starts a test server ({@link startTestServer} with `options`) and seeds {@link InteractiveScenario} in it
 * (`scenario` as {@link seedInteractiveScenario} takes it). The caller closes `server`.
 */
export async function startInteractiveServer(
  options: TestServerOptions = {},
  scenario: Parameters<typeof seedInteractiveScenario>[1] = {},
): Promise<InteractiveServer> {
  const server = await startTestServer(options);
  return { server, scenario: await seedInteractiveScenario(server.directory, scenario) };
}
