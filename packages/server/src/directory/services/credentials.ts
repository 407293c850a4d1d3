import { X509Certificate, randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import type { DirectoryStore } from '../../store/directory-store.js';
import { generateClientSecret, hashSecret, parseCertificate } from '../credentials.js';
import { DirectoryError } from '../errors.js';
import { isGuid } from '../identifiers.js';
import type { Application, KeyCredential, PasswordCredential } from '../model.js';
import type { ApplicationService } from './applications.js';

/** What {@link CredentialService.addPassword} returns: the credential as stored, and the secret (shown once). */
export interface NewPassword {
  readonly credential: Omit<PasswordCredential, 'secretHash'>;
  readonly secretText: string;
}

/** Default client secret lifetime: 2 years, in seconds (the Entra portal's longest recommended choice). */
export const DEFAULT_SECRET_LIFETIME_SECONDS = 2 * 365 * 24 * 3600;

/**
 * `aud` of a proof of possession for `addKey` / `removeKey`: the appId of Azure AD Graph, as Microsoft Graph
 * requires it.
 *
 * @see https://learn.microsoft.com/graph/application-rollkey-prooftoken
 */
export const PROOF_AUDIENCE = '00000002-0000-0000-c000-000000000000';

/** Longest lifetime of a proof of possession (`exp` − `nbf`), in seconds: Graph's 10 minutes. */
export const MAX_PROOF_LIFETIME_SECONDS = 600;

/** Allowed clock difference when checking a proof's `nbf` and `exp`, in seconds. */
const PROOF_CLOCK_SKEW_SECONDS = 60;

/** Smallest RSA modulus of a certificate credential, in bits. */
export const MIN_RSA_MODULUS_BITS = 2048;

/** EC curves a certificate credential may use (the JWS algorithms ES256, ES384, ES512). */
const EC_CURVES: readonly string[] = ['prime256v1', 'secp384r1', 'secp521r1'];

/** A certificate to register: PEM text, or base64 of the DER certificate (Graph's `keyCredential.key`). */
export interface CertificateInput {
  readonly certificate: string;
  readonly displayName?: string;
  /** The credential's id; default a new GUID. */
  readonly keyId?: string;
}

/**
 * A certificate credential from an uploaded X.509 certificate: DER (base64) or PEM, an RSA key of at least
 * {@link MIN_RSA_MODULUS_BITS} bits or an EC key on P-256, P-384 or P-521 and, when `notExpiredAt` is given, not
 * expired then (the management API's uploads; the CLI's operator may register any). Its `startAt` / `endAt` are
 * the certificate's validity.
 *
 * @param notExpiredAt Unix seconds.
 * @throws DirectoryError `invalid` for anything else.
 * @see https://learn.microsoft.com/graph/api/resources/keycredential
 */
export function certificateCredential(input: CertificateInput, notExpiredAt?: number): KeyCredential {
  const text = input.certificate.trim();
  let pem: string;
  try {
    const der = text.startsWith('-----BEGIN') ? undefined : Buffer.from(text, 'base64');
    if (der !== undefined && (der.length === 0 || der.toString('base64') !== text.replace(/\s+/g, ''))) {
      throw new Error('not base64');
    }
    pem = (der === undefined ? new X509Certificate(text) : new X509Certificate(der)).toString();
  } catch {
    throw new DirectoryError('invalid', 'Not a usable X.509 certificate: it is neither DER nor PEM.');
  }
  let parsed;
  try {
    parsed = parseCertificate(pem);
  } catch (error) {
    throw new DirectoryError('invalid', `Not a usable X.509 certificate: ${(error as Error).message}`);
  }
  const key = new X509Certificate(pem).publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) < MIN_RSA_MODULUS_BITS) {
    throw new DirectoryError(
      'invalid',
      `An RSA certificate key needs at least ${MIN_RSA_MODULUS_BITS} bits.`,
    );
  }
  if (key.asymmetricKeyType === 'ec' && !EC_CURVES.includes(details.namedCurve ?? '')) {
    throw new DirectoryError('invalid', 'An EC certificate key must be on P-256, P-384 or P-521.');
  }
  if (notExpiredAt !== undefined && parsed.notAfter <= notExpiredAt) {
    throw new DirectoryError('invalid', 'The certificate has expired.');
  }
  if (input.keyId !== undefined && !isGuid(input.keyId)) {
    throw new DirectoryError('invalid', `The keyId '${input.keyId.slice(0, 100)}' is not a GUID.`);
  }
  return {
    keyId: input.keyId?.toLowerCase() ?? randomUUID(),
    displayName: input.displayName ?? parsed.subject,
    thumbprintSha1: parsed.thumbprintSha1,
    thumbprintSha256: parsed.thumbprintSha256,
    certificatePem: parsed.pem,
    startAt: parsed.notBefore,
    endAt: parsed.notAfter,
  };
}

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
   * @param input.lifetimeSeconds default {@link DEFAULT_SECRET_LIFETIME_SECONDS}; may be negative in tests to make
   *   an already-expired secret. Ignored when `endAt` is given.
   * @param input.startAt when the secret starts to authenticate, Unix seconds; default now.
   * @param input.endAt when it stops, Unix seconds; after `startAt`.
   * @throws DirectoryError `not_found`, `invalid` for the built-in directory application or an `endAt` not
   *   after `startAt`.
   * @see https://learn.microsoft.com/graph/api/application-addpassword
   */
  async addPassword(input: {
    appId: string;
    displayName?: string;
    lifetimeSeconds?: number;
    startAt?: number;
    endAt?: number;
  }): Promise<NewPassword> {
    const app = await this.applications.requireOwn(input.appId);
    const secretText = generateClientSecret();
    const now = this.nowSeconds();
    const startAt = input.startAt ?? now;
    const endAt = input.endAt ?? startAt + (input.lifetimeSeconds ?? DEFAULT_SECRET_LIFETIME_SECONDS);
    if (input.endAt !== undefined && endAt <= startAt) {
      throw new DirectoryError(
        'invalid',
        'The end date of a password credential must be after its start date.',
      );
    }
    const credential: PasswordCredential = {
      keyId: randomUUID(),
      displayName: input.displayName ?? 'Client secret',
      hint: secretText.slice(0, 3),
      secretHash: hashSecret(secretText),
      startAt,
      endAt,
    };
    await this.store.write((trx) => this.store.applications.insertPasswordCredential(trx, app, credential));
    const { secretHash: _hash, ...listed } = credential;
    return { credential: listed, secretText };
  }

  /**
   * Registers an X.509 certificate (PEM or base64 DER; checked by {@link certificateCredential}); assertions
   * signed by its key authenticate the app. This is the trusted path (the CLI, and `addKey` once the proof is
   * checked by {@link addKey}).
   *
   * @throws DirectoryError `invalid` for a malformed, weak, expired or unsupported certificate, `not_found`.
   */
  async addCertificate(input: {
    appId: string;
    certificatePem: string;
    displayName?: string;
  }): Promise<KeyCredential> {
    const app = await this.applications.requireOwn(input.appId);
    const credential = certificateCredential({
      certificate: input.certificatePem,
      ...(input.displayName === undefined ? {} : { displayName: input.displayName }),
    });
    await this.store.write((trx) => this.store.applications.insertKeyCredential(trx, app, credential));
    return credential;
  }

  /**
   * Graph's `addKey`: registers a certificate for an application that already has one, proven by `proof`
   * ({@link checkProof}). An application without a certificate gets its first through `PATCH` of
   * `keyCredentials` ({@link ApplicationService.change}), as Graph says.
   *
   * @throws DirectoryError `not_found`, `invalid` (no valid proof, a certificate {@link certificateCredential}
   *   refuses, one already registered).
   * @see https://learn.microsoft.com/graph/api/application-addkey
   */
  async addKey(appId: string, certificate: CertificateInput, proof: string): Promise<KeyCredential> {
    const app = await this.applications.requireOwn(appId);
    await this.checkProof(app, proof);
    const credential = certificateCredential(certificate, this.nowSeconds());
    if (app.keyCredentials.some((key) => key.thumbprintSha256 === credential.thumbprintSha256)) {
      throw new DirectoryError('invalid', 'The certificate is already a credential of the application.');
    }
    await this.store.write((trx) => this.store.applications.insertKeyCredential(trx, app, credential));
    return credential;
  }

  /**
   * Checks a proof of possession for `addKey` / `removeKey`: a JWT signed (RS256, PS256 or ES256) with the key of
   * one of the application's current certificates, `aud` {@link PROOF_AUDIENCE}, `iss` the application's object
   * id, `nbf` and `exp` present, at most {@link MAX_PROOF_LIFETIME_SECONDS} apart, and now between them (60 s
   * skew).
   *
   * @throws DirectoryError `invalid` (Graph answers a bad proof with 400).
   * @see https://learn.microsoft.com/graph/application-rollkey-prooftoken
   */
  async checkProof(app: Application, proof: string): Promise<void> {
    const refused = new DirectoryError('invalid', 'The proof of possession is not valid.');
    const now = this.nowSeconds();
    const current = app.keyCredentials.filter((key) => key.startAt <= now && now < key.endAt);
    if (current.length === 0) {
      throw new DirectoryError(
        'invalid',
        'The application has no current certificate to prove possession of: add the first one with PATCH of keyCredentials.',
      );
    }
    for (const credential of current) {
      try {
        const { payload } = await jwtVerify(proof, new X509Certificate(credential.certificatePem).publicKey, {
          audience: PROOF_AUDIENCE,
          issuer: app.id,
          algorithms: ['RS256', 'PS256', 'ES256'],
          requiredClaims: ['nbf', 'exp'],
          currentDate: new Date(now * 1000),
          clockTolerance: PROOF_CLOCK_SKEW_SECONDS,
        });
        const lifetime = (payload.exp ?? 0) - (payload.nbf ?? 0);
        if (lifetime <= 0 || lifetime > MAX_PROOF_LIFETIME_SECONDS) throw refused;
        return;
      } catch (error) {
        if (error === refused) throw refused;
        if (error instanceof joseErrors.JOSEError) continue;
        throw error;
      }
    }
    throw refused;
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
   * authenticate, on every node. With `proof` (the management API always passes one), it is checked first by
   * {@link checkProof}; the CLI, run by an operator of the store, passes none.
   *
   * @throws DirectoryError `not_found` (application, or no certificate `keyId` on it), `invalid` for the
   *   built-in directory application or a bad proof.
   * @see https://learn.microsoft.com/graph/api/application-removekey
   */
  async removeKey(appId: string, keyId: string, proof?: string): Promise<void> {
    const app = await this.applications.requireOwn(appId);
    if (proof !== undefined) await this.checkProof(app, proof);
    const removed = await this.store.write((trx) =>
      this.store.applications.deleteKeyCredential(trx, app, keyId),
    );
    if (!removed) throw new DirectoryError('not_found', `The application has no certificate '${keyId}'.`);
  }
}
