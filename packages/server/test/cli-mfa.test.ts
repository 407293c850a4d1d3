import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '@tessera/server';
import { runTesseraCli } from '@tessera/testkit';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `tessera user mfa enrol | code | reset` as a separate process on a data directory: the secret and otpauth URI
// printed once, the current code the authenticator app would show, the secret encrypted in the database, and a
// reset that deletes the authenticator (audited).
const root = fileURLToPath(new URL('../../../', import.meta.url));
let dataDir: string;

async function cli(...args: string[]) {
  const { code, stdout, stderr } = await runTesseraCli([...args, '--data', dataDir, '--json'], { cwd: root });
  return { code, json: JSON.parse(stdout === '' ? '{}' : stdout) as Record<string, unknown>, stderr };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tessera-cli-mfa-'));
  expect((await cli('tenant', 'create', '--name', 'Contoso', '--domain', 'contoso.test')).code).toBe(0);
  const created = await cli(
    'user',
    'create',
    '--tenant',
    'contoso.test',
    '--upn',
    'alice@contoso.test',
    '--password',
    'Correct-Horse-9',
  );
  expect(created.code).toBe(0);
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

const user = ['--tenant', 'contoso.test', '--upn', 'alice@contoso.test'];

describe('tessera user mfa', () => {
  it('enrol prints the secret and otpauth URI; code prints the current code; reset deletes it', async () => {
    const none = await cli('user', 'mfa', 'code', ...user);
    expect(none.code).toBe(1);
    expect(none.json).toEqual({
      error: {
        code: 'invalid',
        message: 'alice@contoso.test has no authenticator (`tessera user mfa enrol`).',
      },
    });

    const enrolled = await cli('user', 'mfa', 'enrol', ...user);
    expect(enrolled.code).toBe(0);
    const secret = String(enrolled.json.secret);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(String(enrolled.json.otpauthUri));
    expect(`${uri.protocol}//${uri.host}${decodeURIComponent(uri.pathname)}`).toBe(
      'otpauth://totp/Tessera:alice@contoso.test',
    );
    expect(uri.searchParams.get('secret')).toBe(secret);

    const db = openDatabase({ dialect: 'sqlite', file: join(dataDir, 'tessera.db') });
    try {
      const rows = await db.selectFrom('software_oath_methods').selectAll().execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]?.id).toBe(enrolled.json.id);
      expect(JSON.stringify(rows)).not.toContain(secret);
    } finally {
      await db.destroy();
    }

    const now = Math.floor(Date.now() / 1000);
    const shown = await cli('user', 'mfa', 'code', ...user);
    expect(shown.code).toBe(0);
    const expected = await Promise.all([now - 30, now, now + 30].map((epoch) => generate({ secret, epoch })));
    expect(expected).toContain(shown.json.code);

    const again = await cli('user', 'mfa', 'enrol', ...user);
    expect(again.code).toBe(1);
    expect(again.json).toEqual({
      error: {
        code: 'invalid',
        message:
          'alice@contoso.test already has an authenticator; `tessera user mfa reset` deletes it first.',
      },
    });

    const reset = await cli('user', 'mfa', 'reset', ...user);
    expect(reset).toMatchObject({
      code: 0,
      json: { userPrincipalName: 'alice@contoso.test', deleted: enrolled.json.id },
    });
    expect((await cli('user', 'mfa', 'code', ...user)).code).toBe(1);
    const audit = openDatabase({ dialect: 'sqlite', file: join(dataDir, 'tessera.db') });
    try {
      const audits = await audit
        .selectFrom('directory_audits')
        .select(['activity_display_name', 'result'])
        .where('activity_display_name', '=', 'Admin deleted security info')
        .execute();
      expect(audits).toEqual([{ activity_display_name: 'Admin deleted security info', result: 'success' }]);
    } finally {
      await audit.destroy();
    }
  });

  it('unknown users are refused', async () => {
    const result = await cli(
      'user',
      'mfa',
      'enrol',
      '--tenant',
      'contoso.test',
      '--upn',
      'nobody@contoso.test',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
  });
});
