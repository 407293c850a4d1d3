import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliEnvironment, runTesseraCli } from '@tessera/testkit';
import { afterAll, describe, expect, it } from 'vitest';

// `tessera app create --require-dpop` and `tessera app update --[no-]require-dpop`: the application's Tessera
// property dpopBoundAccessTokens (RFC 9449 §5.2), as a separate process on a fresh data directory.
const dataDir = mkdtempSync(join(tmpdir(), 'tessera-dpop-cli-'));
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

async function cli<T>(...args: string[]): Promise<T> {
  const result = await runTesseraCli([...args, '--data', dataDir, '--json'], {
    env: cliEnvironment({ TESSERA_MASTER_KEY: Buffer.alloc(32, 9).toString('base64') }),
  });
  if (result.code !== 0) throw new Error(`tessera ${args.join(' ')}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

describe('the require-DPoP setting in the CLI', () => {
  it('app create --require-dpop, then app update --no-require-dpop and --require-dpop', async () => {
    await cli('tenant', 'create', '--name', 'Contoso', '--domain', 'dpop.test');
    const created = await cli<{ appId: string; dpopBoundAccessTokens?: boolean }>(
      'app',
      'create',
      '--tenant',
      'dpop.test',
      '--name',
      'Desktop',
      '--redirect-uri',
      'public=http://127.0.0.1/callback',
      '--require-dpop',
    );
    expect(created.dpopBoundAccessTokens).toBe(true);
    expect(
      await cli('app', 'update', '--tenant', 'dpop.test', '--app', created.appId, '--no-require-dpop'),
    ).toEqual({ appId: created.appId, dpopBoundAccessTokens: false });
    expect(
      await cli('app', 'update', '--tenant', 'dpop.test', '--app', created.appId, '--require-dpop'),
    ).toEqual({ appId: created.appId, dpopBoundAccessTokens: true });
    const nothing = await runTesseraCli(
      ['app', 'update', '--tenant', 'dpop.test', '--app', created.appId, '--data', dataDir],
      {
        env: cliEnvironment({ TESSERA_MASTER_KEY: Buffer.alloc(32, 9).toString('base64') }),
      },
    );
    expect(nothing.code).not.toBe(0);
    expect(nothing.stderr).toContain('Nothing to change: give --require-dpop or --no-require-dpop.');
  });
});
