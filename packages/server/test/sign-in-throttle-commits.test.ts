import { createHash, randomUUID } from 'node:crypto';
import { DirectoryStore, migrateToLatest, openDatabase } from '@tessera/server';
import { postgresAvailable } from '@tessera/testkit';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/directory/passwords.js';
import type { Database } from '../src/store/schema.js';
import { SignInAttemptRepository } from '../src/store/repositories/sign-in-attempts.js';
import { PasswordSignIn } from '../src/users/password-sign-in.js';
import { DatabaseSignInThrottle } from '../src/users/sign-in-throttle.js';
import { refusal } from './support/identity-refusal.js';
import { storeDialects } from './support/store-dialects.js';

// A password sign-in writes the throttle twice at most: its account and IP reservations are one transaction, its
// releases (the password was right) another — not one commit per statement, each a disk sync on SQLite. On
// SQLite the throttle work of concurrent sign-ins shares commits too. The lockout semantics stay those of one
// conditional statement per key: counted before verification, a locked key counts nothing on the other, a success
// takes back only its own attempts.
const WINDOW_MS = 600_000;
const PASSWORD = 'Correct-Horse-Battery-9';

const pgUp = await postgresAvailable();
const dialects = storeDialects('tessera-throttle-commits-', pgUp);

const hashKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

describe.each(dialects)('sign-in throttle commits (%s)', (name, available, open) => {
  let db: Kysely<Database>;
  let cleanup: () => Promise<void>;
  let passwordHash: string;
  const tenantId = randomUUID();
  /** Commits since the last reset: COMMIT statements plus writes run outside a transaction (autocommit). */
  const commits = { count: 0, depth: 0 };

  beforeAll(async () => {
    if (!available) return;
    const opened = await open();
    cleanup = opened.cleanup;
    db = openDatabase(opened.target, {
      onQuery: (_ms, kind) => {
        if (kind === 'begin') commits.depth += 1;
        else if (kind === 'commit' || kind === 'rollback') {
          commits.depth -= 1;
          if (kind === 'commit') commits.count += 1;
        } else if (commits.depth === 0 && ['insert', 'update', 'delete'].includes(kind)) commits.count += 1;
      },
    });
    await migrateToLatest(db);
    await db
      .insertInto('tenants')
      .values({ id: tenantId, display_name: 'Contoso', created_at: 1_800_000_000 })
      .execute();
    passwordHash = await hashPassword(PASSWORD);
  });
  afterAll(async () => {
    if (!available) return;
    await db.destroy();
    await cleanup();
  });
  beforeEach(() => {
    commits.count = 0;
  });

  async function newUser(): Promise<string> {
    const upn = `u${randomUUID().slice(0, 8)}@contoso.test`;
    await db
      .insertInto('users')
      .values({
        id: randomUUID(),
        tenant_id: tenantId,
        user_principal_name: upn,
        upn_lower: upn,
        display_name: 'U',
        password_hash: passwordHash,
        account_enabled: 1,
        directory_roles: '[]',
        created_at: 1_800_000_000,
        mail_nickname: null,
        given_name: null,
        surname: null,
        job_title: null,
        mail: null,
      })
      .execute();
    commits.count = 0;
    return upn;
  }

  const signIns = (limits = { maxFailuresPerAccount: 10, maxFailuresPerIp: 100 }) =>
    new PasswordSignIn(
      new DirectoryStore(db),
      new DatabaseSignInThrottle(new SignInAttemptRepository(db), WINDOW_MS),
      limits,
    );

  async function attempts(key: string): Promise<number | undefined> {
    const row = await db
      .selectFrom('sign_in_attempts')
      .select('attempts')
      .where('key_hash', '=', hashKey(key))
      .executeTakeFirst();
    return row?.attempts;
  }

  it.skipIf(!available)(
    'a successful sign-in commits twice (reservations, releases) and leaves no attempt counted',
    async () => {
      const upn = await newUser();
      const ip = `10.0.0.${String(Math.floor(Math.random() * 250))}`;
      const user = await signIns().verify({
        userName: upn,
        password: PASSWORD,
        clientIp: ip,
        nowMs: Date.now(),
      });
      expect(user.userPrincipalName).toBe(upn);
      expect(commits.count).toBe(2);
      expect(await attempts(`account:${upn}`)).toBe(0);
      expect(await attempts(`ip:${ip}`)).toBe(0);
    },
  );

  it.skipIf(!available)('a wrong password commits once and keeps both attempts counted', async () => {
    const upn = await newUser();
    const ip = randomUUID();
    expect(
      await refusal(signIns().verify({ userName: upn, password: 'wrong', clientIp: ip, nowMs: Date.now() })),
    ).toBe(50126);
    expect(commits.count).toBe(1);
    expect(await attempts(`account:${upn}`)).toBe(1);
    expect(await attempts(`ip:${ip}`)).toBe(1);
  });

  it.skipIf(!available)(
    'a locked IP counts nothing against the account, a locked account nothing against the IP',
    async () => {
      const passwords = signIns({ maxFailuresPerAccount: 1, maxFailuresPerIp: 1 });
      const [first, second] = [await newUser(), await newUser()];
      const [ipA, ipB] = [randomUUID(), randomUUID()];
      const nowMs = Date.now();
      expect(await refusal(passwords.verify({ userName: first, password: 'x', clientIp: ipA, nowMs }))).toBe(
        50126,
      );
      // ipA is locked: the second account's attempt is taken back in the same transaction.
      expect(
        await refusal(passwords.verify({ userName: second, password: PASSWORD, clientIp: ipA, nowMs })),
      ).toBe(50053);
      expect(await attempts(`account:${second}`)).toBe(0);
      // The first account is locked: nothing is counted against ipB, even with the right password.
      expect(
        await refusal(passwords.verify({ userName: first, password: PASSWORD, clientIp: ipB, nowMs })),
      ).toBe(50053);
      expect(await attempts(`ip:${ipB}`)).toBeUndefined();
      // The second account and ipB are both free: signs in.
      expect(
        (await passwords.verify({ userName: second, password: PASSWORD, clientIp: ipB, nowMs }))
          .userPrincipalName,
      ).toBe(second);
    },
  );

  it.skipIf(!available)(
    `16 concurrent sign-ins: each counted and taken back, ${name === 'SQLite' ? 'sharing commits' : 'two commits each'}`,
    async () => {
      const upn = await newUser();
      const ip = randomUUID();
      const passwords = signIns({ maxFailuresPerAccount: 16, maxFailuresPerIp: 16 });
      const users = await Promise.all(
        Array.from({ length: 16 }, () =>
          passwords.verify({ userName: upn, password: PASSWORD, clientIp: ip, nowMs: Date.now() }),
        ),
      );
      expect(users.map((u) => u.userPrincipalName)).toEqual(Array(16).fill(upn));
      // On SQLite the 16 reservations share one commit (asked for in one turn), releases share what they can.
      if (name === 'SQLite') expect(commits.count).toBeLessThanOrEqual(17);
      else expect(commits.count).toBe(32);
      // Every success took back its own.
      expect(await attempts(`account:${upn}`)).toBe(0);
      expect(await attempts(`ip:${ip}`)).toBe(0);
    },
  );
});
