import { randomUUID } from 'node:crypto';
import { IdentityError } from '@tessera/protocol';
import type { ServerContext } from '../context.js';
import type { User } from '../directory/model.js';
import type {
  SoftwareOathMethodRepository,
  StoredSoftwareOathMethod,
} from '../store/repositories/software-oath-methods.js';
import type { SignInThrottle } from './sign-in-throttle.js';
import { openTotpSecret, sealTotpSecret } from './totp-secrets.js';
import { matchTotpCode, newTotpSecret, totpCode, totpQrCodeDataUrl, totpUri } from './totp.js';

/** A user's software OATH (TOTP) authenticator, as Graph and the pages see it (never its secret). */
export interface SoftwareOathMethod {
  /** Graph `softwareOathAuthenticationMethod.id`. */
  readonly id: string;
  readonly userId: string;
  readonly tenantId: string;
  /** Unix seconds. */
  readonly createdAt: number;
  /** Unix seconds of the last accepted code; null before the first. */
  readonly lastUsedAt: number | null;
}

/** An authenticator being set up: what the enrolment page shows, and the sealed secret its step keeps. */
export interface TotpEnrolment {
  /** Base32 secret, shown as text for apps that cannot scan. */
  readonly secret: string;
  /** `otpauth://totp/Tessera:{upn}?…`. */
  readonly otpauthUri: string;
  /** The QR code of {@link otpauthUri}, an SVG `data:` URL. */
  readonly qrCodeDataUrl: string;
  /** The secret encrypted for this user (see `sealTotpSecret`): what the interaction step stores until verified. */
  readonly sealedSecret: string;
}

/** What {@link AuthenticationMethods} needs. */
export interface AuthenticationMethodsOptions {
  readonly methods: SoftwareOathMethodRepository;
  /** AES-256 key of the secrets (`authenticationMethodKey(masterKey)`). */
  readonly key: Buffer;
  /** The sign-in throttle (wrong codes count against `mfa:{userId}`). */
  readonly throttle: SignInThrottle;
  /** Wrong codes in one throttle window after which the user's second factor is locked (like passwords). */
  readonly maxFailures: number;
}

/**
 * Users' second factor: a TOTP authenticator (RFC 6238) per user, enrolled with a verified code, verified at
 * sign-in with a replay guard (a code of a time step at or before the last accepted one is refused, atomically
 * across nodes) and throttled per user with the sign-in throttle: after `maxFailures` wrong codes in a window the
 * user's codes are refused unchecked until the window passes.
 */
export class AuthenticationMethods {
  constructor(private readonly options: AuthenticationMethodsOptions) {}

  /** The user's authenticator, if any. */
  async softwareOathMethod(userId: string): Promise<SoftwareOathMethod | undefined> {
    const stored = await this.options.methods.findByUser(userId);
    return stored === undefined ? undefined : publicOf(stored);
  }

  /** Whether the user has registered a second factor. */
  async isRegistered(userId: string): Promise<boolean> {
    return (await this.options.methods.findByUser(userId)) !== undefined;
  }

  /** A new secret for `user` to set up, not stored anywhere yet. */
  async startEnrolment(user: Pick<User, 'id' | 'userPrincipalName'>): Promise<TotpEnrolment> {
    return this.enrolmentOf(user, newTotpSecret());
  }

  /** The enrolment of a sealed secret (the page shown again); undefined when it is not `user`'s. */
  async resumeEnrolment(
    user: Pick<User, 'id' | 'userPrincipalName'>,
    sealedSecret: string,
  ): Promise<TotpEnrolment | undefined> {
    const secret = openTotpSecret(this.options.key, user.id, sealedSecret);
    return secret === undefined ? undefined : this.enrolmentOf(user, secret);
  }

  /**
   * Completes an enrolment: the code must be the secret's current one (±1 step); only then is the method stored,
   * with that code's step as used, so the same code cannot sign in again. When the user meanwhile got a method
   * (another tab), the code is verified against that one instead.
   *
   * @param nowSeconds Unix seconds.
   * @throws IdentityError 50053 (locked), 500121 (wrong code), 9100090 (code already used).
   */
  async completeEnrolment(
    user: Pick<User, 'id' | 'tenantId'>,
    sealedSecret: string,
    code: string,
    nowSeconds: number,
  ): Promise<SoftwareOathMethod> {
    const secret = openTotpSecret(this.options.key, user.id, sealedSecret);
    return this.throttled(user.id, nowSeconds, async () => {
      if (secret === undefined) throw new IdentityError(500121);
      const timeStep = await matchTotpCode(secret, code, nowSeconds);
      if (timeStep === undefined) throw new IdentityError(500121);
      const method: StoredSoftwareOathMethod = {
        id: randomUUID(),
        tenantId: user.tenantId,
        userId: user.id,
        secretEncrypted: sealTotpSecret(this.options.key, user.id, secret),
        createdAt: nowSeconds,
        lastUsedAt: nowSeconds,
        lastTimeStep: timeStep,
      };
      if (await this.options.methods.insert(method)) return publicOf(method);
      return this.acceptCode(user.id, code, nowSeconds);
    });
  }

  /**
   * Verifies a sign-in code against the user's authenticator.
   *
   * @param nowSeconds Unix seconds.
   * @throws IdentityError 50053 (locked), 500121 (wrong code, or no authenticator), 9100090 (a code of a time step
   *   already accepted: a replay, or another node accepted it first).
   */
  async verifyCode(userId: string, code: string, nowSeconds: number): Promise<SoftwareOathMethod> {
    return this.throttled(userId, nowSeconds, () => this.acceptCode(userId, code, nowSeconds));
  }

  /**
   * Registers an authenticator without a verification code (operators: `tessera user mfa enrol`).
   *
   * @returns the method, its secret and `otpauth://` URI; undefined when the user has one already.
   */
  async register(
    user: Pick<User, 'id' | 'tenantId' | 'userPrincipalName'>,
    nowSeconds: number,
  ): Promise<{ method: SoftwareOathMethod; secret: string; otpauthUri: string } | undefined> {
    const secret = newTotpSecret();
    const method: StoredSoftwareOathMethod = {
      id: randomUUID(),
      tenantId: user.tenantId,
      userId: user.id,
      secretEncrypted: sealTotpSecret(this.options.key, user.id, secret),
      createdAt: nowSeconds,
      lastUsedAt: null,
      lastTimeStep: 0,
    };
    if (!(await this.options.methods.insert(method))) return undefined;
    return { method: publicOf(method), secret, otpauthUri: totpUri(secret, user.userPrincipalName) };
  }

  /** The user's authenticator's current code (operators and demos: `tessera user mfa code`); undefined: none. */
  async currentCode(userId: string, nowSeconds: number): Promise<string | undefined> {
    const stored = await this.options.methods.findByUser(userId);
    if (stored === undefined) return undefined;
    const secret = openTotpSecret(this.options.key, userId, stored.secretEncrypted);
    return secret === undefined ? undefined : totpCode(secret, nowSeconds);
  }

  /** Deletes the user's authenticator `id`; undefined when the user has none with that id. */
  async remove(userId: string, id: string): Promise<SoftwareOathMethod | undefined> {
    const deleted = await this.options.methods.delete(userId, id);
    return deleted === undefined ? undefined : publicOf(deleted);
  }

  private async acceptCode(userId: string, code: string, nowSeconds: number): Promise<SoftwareOathMethod> {
    const stored = await this.options.methods.findByUser(userId);
    const secret =
      stored === undefined ? undefined : openTotpSecret(this.options.key, userId, stored.secretEncrypted);
    if (stored === undefined || secret === undefined) throw new IdentityError(500121);
    const timeStep = await matchTotpCode(secret, code, nowSeconds);
    if (timeStep === undefined) throw new IdentityError(500121);
    if (timeStep <= stored.lastTimeStep) throw new IdentityError(9100090);
    if (!(await this.options.methods.acceptTimeStep(stored.id, timeStep, nowSeconds)))
      throw new IdentityError(9100090);
    return { ...publicOf(stored), lastUsedAt: nowSeconds };
  }

  /** Runs a code check as one throttled attempt: counted before, taken back only on success. */
  private async throttled<T>(userId: string, nowSeconds: number, check: () => Promise<T>): Promise<T> {
    const reservation = await this.options.throttle.reserve(
      `mfa:${userId}`,
      this.options.maxFailures,
      nowSeconds * 1000,
    );
    if (reservation === undefined) throw new IdentityError(50053);
    const result = await check();
    await this.options.throttle.release(reservation);
    return result;
  }

  private async enrolmentOf(
    user: Pick<User, 'id' | 'userPrincipalName'>,
    secret: string,
  ): Promise<TotpEnrolment> {
    const otpauthUri = totpUri(secret, user.userPrincipalName);
    return {
      secret,
      otpauthUri,
      qrCodeDataUrl: await totpQrCodeDataUrl(otpauthUri),
      sealedSecret: sealTotpSecret(this.options.key, user.id, secret),
    };
  }
}

function publicOf(stored: StoredSoftwareOathMethod): SoftwareOathMethod {
  return {
    id: stored.id,
    userId: stored.userId,
    tenantId: stored.tenantId,
    createdAt: stored.createdAt,
    lastUsedAt: stored.lastUsedAt,
  };
}

/**
 * Whether the user has registered a second factor (a TOTP authenticator): conditional access answers 50076
 * (registered: sign in with it) or 50079 (not registered: register one) when a policy requires MFA.
 */
export async function isMfaRegistered(context: ServerContext, userId: string): Promise<boolean> {
  return context.authenticationMethods.isRegistered(userId);
}
