import { randomUUID } from 'node:crypto';
import type { DirectoryStore } from '../../store/directory-store.js';
import { generateClientSecret, hashSecret, parseCertificate } from '../credentials.js';
import { DirectoryError } from '../errors.js';
import type { KeyCredential, PasswordCredential } from '../model.js';
import type { ApplicationService } from './applications.js';

/** What {@link CredentialService.addPassword} returns: the credential as stored, and the secret (shown once). */
export interface NewPassword {
  readonly credential: Omit<PasswordCredential, 'secretHash'>;
  readonly secretText: string;
}

/** Default client secret lifetime: 2 years, in seconds (the Entra portal's longest recommended choice). */
export const DEFAULT_SECRET_LIFETIME_SECONDS = 2 * 365 * 24 * 3600;

/** An application's credentials: client secrets (Graph `passwordCredential`) and certificates (`keyCredential`). */
export class CredentialService {
  constructor(
    private readonly store: DirectoryStore,
    private readonly nowSeconds: () => number,
    private readonly applications: ApplicationService,
  ) {}

  /**
   * Adds a server-generated client secret (Graph `addPassword`). The secret text is returned once, never stored.
   *
   * @param lifetimeSeconds default {@link DEFAULT_SECRET_LIFETIME_SECONDS}; may be negative in tests to make an
   *   already-expired secret.
   * @throws DirectoryError `not_found`, `invalid` for the built-in directory application.
   */
  async addPassword(input: {
    appId: string;
    displayName?: string;
    lifetimeSeconds?: number;
  }): Promise<NewPassword> {
    const app = await this.applications.requireOwn(input.appId);
    const secretText = generateClientSecret();
    const now = this.nowSeconds();
    const credential: PasswordCredential = {
      keyId: randomUUID(),
      displayName: input.displayName ?? 'Client secret',
      hint: secretText.slice(0, 3),
      secretHash: hashSecret(secretText),
      startAt: now,
      endAt: now + (input.lifetimeSeconds ?? DEFAULT_SECRET_LIFETIME_SECONDS),
    };
    await this.store.write((trx) => this.store.applications.insertPasswordCredential(trx, app, credential));
    const { secretHash: _hash, ...listed } = credential;
    return { credential: listed, secretText };
  }

  /**
   * Registers an X.509 certificate (Graph `addKey`); assertions signed by its key authenticate the app.
   *
   * @throws DirectoryError `invalid` for a malformed or unsupported certificate, `not_found`.
   */
  async addCertificate(input: {
    appId: string;
    certificatePem: string;
    displayName?: string;
  }): Promise<KeyCredential> {
    const app = await this.applications.requireOwn(input.appId);
    let parsed;
    try {
      parsed = parseCertificate(input.certificatePem);
    } catch (error) {
      throw new DirectoryError('invalid', `Not a usable X.509 certificate: ${(error as Error).message}`);
    }
    const credential: KeyCredential = {
      keyId: randomUUID(),
      displayName: input.displayName ?? parsed.subject,
      thumbprintSha1: parsed.thumbprintSha1,
      thumbprintSha256: parsed.thumbprintSha256,
      certificatePem: parsed.pem,
      startAt: parsed.notBefore,
      endAt: parsed.notAfter,
    };
    await this.store.write((trx) => this.store.applications.insertKeyCredential(trx, app, credential));
    return credential;
  }

  /**
   * Removes a client secret (Graph `removePassword`): it no longer authenticates, on every node.
   *
   * @throws DirectoryError `not_found` (application, or no secret `keyId` on it), `invalid` for the built-in
   *   directory application.
   * @see https://learn.microsoft.com/graph/api/application-removepassword
   */
  async removePassword(appId: string, keyId: string): Promise<void> {
    const app = await this.applications.requireOwn(appId);
    const removed = await this.store.write((trx) =>
      this.store.applications.deletePasswordCredential(trx, app, keyId),
    );
    if (!removed) throw new DirectoryError('not_found', `The application has no client secret '${keyId}'.`);
  }

  /**
   * Removes a certificate credential (Graph `removeKey`): assertions signed with its key no longer
   * authenticate, on every node. Graph's proof-of-possession token for this action is the caller's (the
   * management API's) to check.
   *
   * @throws DirectoryError `not_found` (application, or no certificate `keyId` on it), `invalid` for the
   *   built-in directory application.
   * @see https://learn.microsoft.com/graph/api/application-removekey
   */
  async removeKey(appId: string, keyId: string): Promise<void> {
    const app = await this.applications.requireOwn(appId);
    const removed = await this.store.write((trx) =>
      this.store.applications.deleteKeyCredential(trx, app, keyId),
    );
    if (!removed) throw new DirectoryError('not_found', `The application has no certificate '${keyId}'.`);
  }
}
