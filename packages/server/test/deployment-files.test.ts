import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildCli } from '../src/cli/program.js';
import { configOptions } from '../src/config/config.js';

// The Dockerfile and the systemd unit, checked as files (images are not built here): what they copy exists, the
// command they run exists in the CLI, and the runtime is unprivileged and hardened.

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** The instructions of a Dockerfile, continuation lines joined, comments dropped. */
function instructions(text: string): { keyword: string; args: string }[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** The `tessera` subcommands. */
const commands = buildCli({ out: () => undefined, err: () => undefined, env: {} }).commands.map((command) =>
  command.name(),
);

/** The environment variables the configuration reads. */
const knownVariables = new Set(Object.values(configOptions).map((option) => option.env));

describe('Dockerfile', () => {
  const steps = instructions(read('Dockerfile'));
  const stages = steps.filter((step) => step.keyword === 'FROM');
  const runtimeIndex = steps.lastIndexOf(stages.at(-1) ?? { keyword: '', args: '' });
  const runtime = steps.slice(runtimeIndex);

  it('is multi-stage: a build stage with dev dependencies, a slim node:20 runtime with production ones only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.every((stage) => /^node:20/.test(stage.args))).toBe(true);
    expect(stages.at(-1)?.args).toMatch(/^node:20[\w.-]*-slim\b/);
    const runs = steps.filter((step) => step.keyword === 'RUN').map((step) => step.args);
    expect(runs.some((run) => /npm ci(?!.*--omit=dev)/.test(run))).toBe(true);
    expect(runs.some((run) => /npm ci .*--omit=dev/.test(run))).toBe(true);
    // The runtime stage installs nothing itself: it copies built files and production modules.
    expect(runtime.filter((step) => step.keyword === 'RUN').every((step) => !step.args.includes('npm'))).toBe(
      true,
    );
  });

  it('runs as a non-root user, with the data directory as a volume, a health check and the port exposed', () => {
    const user = runtime.filter((step) => step.keyword === 'USER').at(-1)?.args ?? 'root';
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const env = runtime
      .filter((step) => step.keyword === 'ENV')
      .map((step) => step.args)
      .join(' ');
    expect(env).toContain('TESSERA_DATA_DIR=/var/lib/tessera');
    for (const [, name] of env.matchAll(/(\w+)=/g)) {
      if (name !== undefined && name.startsWith('TESSERA_')) expect(knownVariables).toContain(name);
    }
    expect(runtime.find((step) => step.keyword === 'VOLUME')?.args).toContain('/var/lib/tessera');
    const port = /TESSERA_PORT=(\d+)/.exec(env)?.[1];
    expect(runtime.find((step) => step.keyword === 'EXPOSE')?.args).toBe(port);
    expect(runtime.find((step) => step.keyword === 'HEALTHCHECK')?.args).toContain('/healthz');
    // docker stop waits 10 s by default: the grace period must fit.
    expect(Number(/TESSERA_SHUTDOWN_GRACE_SECONDS=(\d+)/.exec(env)?.[1])).toBeLessThan(10);
  });

  it('starts tessera serve through the committed bin, and every path it copies exists', () => {
    const entrypoint = JSON.parse(
      runtime.find((step) => step.keyword === 'ENTRYPOINT')?.args ?? '[]',
    ) as string[];
    const cmd = JSON.parse(runtime.find((step) => step.keyword === 'CMD')?.args ?? '[]') as string[];
    expect(entrypoint.at(-1)).toBe('/app/packages/server/bin/tessera.js');
    expect(existsSync(join(root, 'packages/server/bin/tessera.js'))).toBe(true);
    expect(cmd).toEqual(['serve']);
    expect(commands).toContain(cmd[0]);
    const buildOutputs = /\/(dist)(\/|$)/;
    for (const step of steps.filter((s) => s.keyword === 'COPY' && !s.args.startsWith('--from'))) {
      const sources = step.args.split(/\s+/).slice(0, -1);
      for (const source of sources) expect(existsSync(join(root, source)), source).toBe(true);
    }
    for (const step of runtime.filter((s) => s.keyword === 'COPY' && s.args.startsWith('--from=build'))) {
      const source = step.args.split(/\s+/)[1] ?? '';
      const path = source.replace(/^\/src\/?/, '');
      // dist/ exists after a build; everything else is in the repository.
      if (!buildOutputs.test(`/${path}`)) expect(existsSync(join(root, path)), path).toBe(true);
    }
  });

  it('.dockerignore keeps data, keys and local builds out of the context', () => {
    const ignored = read('.dockerignore');
    for (const pattern of ['**/node_modules', '**/dist', '**/master.key', '**/*.db', '.git']) {
      expect(ignored).toContain(pattern);
    }
  });
});

describe('systemd unit', () => {
  const unit = read('deploy/systemd/tessera.service');
  const settings = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined) settings.set(match[1], [...(settings.get(match[1]) ?? []), match[2] ?? '']);
  }
  const value = (key: string) => settings.get(key)?.at(-1);

  it('runs tessera serve from the bin', () => {
    const exec = value('ExecStart')?.split(/\s+/) ?? [];
    expect(exec[1]).toMatch(/\/packages\/server\/bin\/tessera\.js$/);
    expect(exec[2]).toBe('serve');
    expect(commands).toContain(exec[2]);
  });

  it('is hardened, keeps its state in /var/lib/tessera, reads an environment file and restarts on failure', () => {
    expect(value('DynamicUser') === 'yes' || value('User') === 'tessera').toBe(true);
    expect(value('ProtectSystem')).toBe('strict');
    expect(value('StateDirectory')).toBe('tessera');
    expect(value('NoNewPrivileges')).toBe('yes');
    expect(value('Restart')).toBe('on-failure');
    expect(value('EnvironmentFile')).toMatch(/^-?\//);
    expect(value('KillSignal')).toBe('SIGTERM');
    expect(settings.get('Environment')).toContain('TESSERA_DATA_DIR=/var/lib/tessera');
  });

  it('waits on stop longer than the shutdown grace period', () => {
    const env = read('deploy/systemd/tessera.env');
    const grace = Number(
      /^TESSERA_SHUTDOWN_GRACE_SECONDS=(\d+)/m.exec(env)?.[1] ?? configOptions.shutdownGraceSeconds.default,
    );
    expect(Number(value('TimeoutStopSec'))).toBeGreaterThan(grace);
    // The example environment names only settings Tessera reads.
    for (const [, name] of env.matchAll(/^#?([A-Z_]+)=/gm)) {
      if (name !== undefined) expect(knownVariables).toContain(name);
    }
  });
});
