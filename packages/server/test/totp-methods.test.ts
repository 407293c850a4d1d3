import { randomBytes, randomUUID } from 'node:crypto';
import { IdentityError } from '@tessera/protocol';
import { migrateToLatest, openDatabase } from '@tessera/server';
import { postgresAvailable } from '@tessera/testkit';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignInAttemptRepository } from '../src/store/repositories/sign-in-attempts.js';
import { SoftwareOathMethodRepository } from '../src/store/repositories/software-oath-methods.js';
import { AuthenticationMethods } from '../src/users/authentication-methods.js';
import { DatabaseSignInThrottle } from '../src/users/sign-in-throttle.js';
import { authenticationMethodKey, openTotpSecret } from '../src/users/totp-secrets.js';
import { matchTotpCode, totpCode } from '../src/users/totp.js';
import { refusal } from './support/identity-refusal.js';
import { storeDialects } from './support/store-dialects.js';

// The second factor on both dialects: RFC 6238 codes (otplib computes the expected ones independently), enrolment
// that stores nothing before a correct code, the replay guard (also between two nodes sharing one database), the
// per-user throttle, and the secret encrypted at rest (read from the row itself).

/** A fixed clock, Unix seconds, at the start of a 30-second step. */
const NOW = 1_800_000_000 - (1_800_000_000 % 30);

const pgUp = await postgresAvailable();
const dialects = storeDialects('tessera-totp-', pgUp);

/** The code otplib computes for `secret` at `epoch` (the authenticator app's view). */
const appCode = (secret: string, epoch: number) => generate({ secret, epoch });

describe('TOTP codes (RFC 6238)', () => {
  it('match the current step and one step either side, nothing further', async () => {
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    const code = await appCode(secret, NOW);
    expect(await totpCode(secret, NOW)).toBe(code);
    expect(await matchTotpCode(secret, code, NOW)).toBe(NOW / 30);
    expect(await matchTotpCode(secret, code, NOW + 30)).toBe(NOW / 30);
    expect(await matchTotpCode(secret, code, NOW - 30)).toBe(NOW / 30);
    expect(await matchTotpCode(secret, code, NOW + 60)).toBeUndefined();
    expect(await matchTotpCode(secret, code, NOW - 60)).toBeUndefined();
    expect(await matchTotpCode(secret, `${code.slice(0, 3)} ${code.slice(3)}`, NOW)).toBe(NOW / 30);
    for (const bad of ['', '12345', '1234567', 'abcdef', '12345\u0000', '１２３４５６'])
      expect(await matchTotpCode(secret, bad, NOW)).toBeUndefined();
  });

  it('RFC 6238 Appendix B: the SHA-1 test vector at T = 59 s', async () => {
    // The RFC's seed is the 20 ASCII bytes "12345678901234567890"; its 8-digit code 94287082 ends in these six.
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    expect(await totpCode(secret, 59)).toBe('287082');
  });
});

describe.each(dialects)('the second factor (%s)', (_name, available, open) => {
  let db: ReturnType<typeof openDatabase>;
  let otherNode: ReturnType<typeof openDatabase>;
  let cleanup: () => Promise<void>;
  const masterKey = randomBytes(32);
  const key = authenticationMethodKey(masterKey);
  const tenantId = randomUUID();

  const methodsOn = (database: ReturnType<typeof openDatabase>, maxFailures = 5) =>
    new AuthenticationMethods({
      methods: new SoftwareOathMethodRepository(database),
      key,
      throttle: new DatabaseSignInThrottle(new SignInAttemptRepository(database), 600_000),
      maxFailures,
    });

  async function newUser() {
    const id = randomUUID();
    const upn = `u${id.slice(0, 8)}@contoso.test`;
    await db
      .insertInto('users')
      .values({
        id,
        tenant_id: tenantId,
        user_principal_name: upn,
        upn_lower: upn,
        display_name: 'U',
        password_hash: 'x',
        account_enabled: 1,
        directory_roles: '[]',
        created_at: NOW,
        mail_nickname: null,
        given_name: null,
        surname: null,
        job_title: null,
        mail: null,
      })
      .execute();
    return { id, tenantId, userPrincipalName: upn };
  }

  beforeAll(async () => {
    if (!available) return;
    const opened = await open();
    cleanup = opened.cleanup;
    db = openDatabase(opened.target);
    await migrateToLatest(db);
    otherNode = openDatabase(opened.target);
    await db
      .insertInto('tenants')
      .values({ id: tenantId, display_name: 'Contoso', created_at: NOW })
      .execute();
  });
  afterAll(async () => {
    if (!available) return;
    await otherNode.destroy();
    await db.destroy();
    await cleanup();
  });

  it.runIf(available)(
    'enrolment shows an otpauth URI and a QR code, and stores nothing before a correct code',
    async () => {
      const methods = methodsOn(db);
      const user = await newUser();
      const enrolment = await methods.startEnrolment(user);
      const uri = new URL(enrolment.otpauthUri);
      expect(uri.protocol).toBe('otpauth:');
      expect(uri.host).toBe('totp');
      expect(decodeURIComponent(uri.pathname)).toBe(`/Tessera:${user.userPrincipalName}`);
      expect(uri.searchParams.get('secret')).toBe(enrolment.secret);
      expect(uri.searchParams.get('issuer')).toBe('Tessera');
      expect(enrolment.secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(enrolment.qrCodeDataUrl).toMatch(/^data:image\/svg\+xml;base64,/);
      expect(Buffer.from(enrolment.qrCodeDataUrl.split(',')[1] ?? '', 'base64').toString()).toContain('<svg');
      expect(enrolment.sealedSecret).not.toContain(enrolment.secret);

      const wrong = (Number(await appCode(enrolment.secret, NOW)) + 1) % 1_000_000;
      expect(
        await refusal(
          methods.completeEnrolment(user, enrolment.sealedSecret, String(wrong).padStart(6, '0'), NOW),
        ),
      ).toBe(500121);
      expect(await methods.isRegistered(user.id)).toBe(false);

      const code = await appCode(enrolment.secret, NOW);
      const method = await methods.completeEnrolment(user, enrolment.sealedSecret, code, NOW);
      expect(method).toMatchObject({ userId: user.id, tenantId, createdAt: NOW, lastUsedAt: NOW });
      expect(await methods.isRegistered(user.id)).toBe(true);
      // The enrolment's code is used: it does not sign in again.
      expect(await refusal(methods.verifyCode(user.id, code, NOW + 1))).toBe(9100090);
    },
  );

  it.runIf(available)('an enrolment sealed for another user does not decrypt for this one', async () => {
    const methods = methodsOn(db);
    const [alice, bob] = [await newUser(), await newUser()];
    const enrolment = await methods.startEnrolment(alice);
    expect(await methods.resumeEnrolment(bob, enrolment.sealedSecret)).toBeUndefined();
    const code = await appCode(enrolment.secret, NOW);
    expect(await refusal(methods.completeEnrolment(bob, enrolment.sealedSecret, code, NOW))).toBe(500121);
    expect(await methods.isRegistered(bob.id)).toBe(false);
  });

  it.runIf(available)(
    'the secret is encrypted at rest, under the key derived from the master key',
    async () => {
      const methods = methodsOn(db);
      const user = await newUser();
      const registered = await methods.register(user, NOW);
      if (registered === undefined) throw new Error('not registered');
      const row = await db
        .selectFrom('software_oath_methods')
        .selectAll()
        .where('user_id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(JSON.stringify(row)).not.toContain(registered.secret);
      expect(row.secret_encrypted).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(openTotpSecret(key, user.id, row.secret_encrypted)).toBe(registered.secret);
      expect(openTotpSecret(masterKey, user.id, row.secret_encrypted)).toBeUndefined();
      expect(
        openTotpSecret(authenticationMethodKey(randomBytes(32)), user.id, row.secret_encrypted),
      ).toBeUndefined();
      expect(await methods.register(user, NOW)).toBeUndefined();
    },
  );

  it.runIf(available)(
    'a used code, and any code of the same or an earlier step, is refused (9100090)',
    async () => {
      const methods = methodsOn(db);
      const user = await newUser();
      const registered = await methods.register(user, NOW);
      if (registered === undefined) throw new Error('not registered');
      const now = await appCode(registered.secret, NOW);
      await methods.verifyCode(user.id, now, NOW);
      expect(await refusal(methods.verifyCode(user.id, now, NOW))).toBe(9100090);
      expect(await refusal(methods.verifyCode(user.id, now, NOW + 29))).toBe(9100090);
      // The previous step's code is still inside the window, but earlier than the one accepted.
      expect(
        await refusal(methods.verifyCode(user.id, await appCode(registered.secret, NOW - 30), NOW)),
      ).toBe(9100090);
      const next = await appCode(registered.secret, NOW + 30);
      expect(await methods.verifyCode(user.id, next, NOW + 30)).toMatchObject({ lastUsedAt: NOW + 30 });
      const row = await db
        .selectFrom('software_oath_methods')
        .select(['last_time_step', 'last_used_at'])
        .where('user_id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ last_time_step: NOW / 30 + 1, last_used_at: NOW + 30 });
    },
  );

  it.runIf(available)('two nodes racing with the same code on one database accept it once', async () => {
    const user = await newUser();
    const registered = await methodsOn(db).register(user, NOW);
    if (registered === undefined) throw new Error('not registered');
    for (let round = 0; round < 5; round++) {
      const at = NOW + 30 * (round + 1);
      const code = await appCode(registered.secret, at);
      const nodes = [
        methodsOn(db, 100),
        methodsOn(otherNode, 100),
        methodsOn(db, 100),
        methodsOn(otherNode, 100),
      ];
      const results = await Promise.allSettled(nodes.map((node) => node.verifyCode(user.id, code, at)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect((r.reason as IdentityError).code).toBe(9100090);
      }
    }
  });

  it.runIf(available)(
    'wrong codes are throttled per user: after the limit even the right code is refused (50053)',
    async () => {
      const methods = methodsOn(db, 3);
      const [user, other] = [await newUser(), await newUser()];
      const registered = await methods.register(user, NOW);
      const otherRegistered = await methods.register(other, NOW);
      if (registered === undefined || otherRegistered === undefined) throw new Error('not registered');
      const right = await appCode(registered.secret, NOW);
      const wrong = String((Number(right) + 500_000) % 1_000_000).padStart(6, '0');
      for (let i = 0; i < 3; i++) expect(await refusal(methods.verifyCode(user.id, wrong, NOW))).toBe(500121);
      expect(await refusal(methods.verifyCode(user.id, right, NOW))).toBe(50053);
      // Nothing was accepted while locked: the right code still works once the window has passed.
      const row = await db
        .selectFrom('software_oath_methods')
        .select('last_time_step')
        .where('user_id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(row.last_time_step).toBe(0);
      // Another user is not affected.
      await methods.verifyCode(other.id, await appCode(otherRegistered.secret, NOW), NOW);
    },
  );

  it.runIf(available)("removal deletes the method (only the user's own id)", async () => {
    const methods = methodsOn(db);
    const [user, other] = [await newUser(), await newUser()];
    const registered = await methods.register(user, NOW);
    if (registered === undefined) throw new Error('not registered');
    expect(await methods.remove(other.id, registered.method.id)).toBeUndefined();
    expect(await methods.remove(user.id, registered.method.id)).toMatchObject({ id: registered.method.id });
    expect(await methods.isRegistered(user.id)).toBe(false);
    expect(await methods.currentCode(user.id, NOW)).toBeUndefined();
  });
});
