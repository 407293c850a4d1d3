// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { createPublicKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** Key algorithms Tessera generates: RSA 2048 with SHA-256 (RS256) or P-256 (ES256). */
export type GeneratedKeyAlgorithm = 'RS256' | 'ES256';

const keyParams = {
  RS256: {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  },
  ES256: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
} as const;

/** A key pair with its certificate, as PEM / PKCS#8 DER. */
export interface CertifiedKey {
  readonly certificatePem: string;
  /** PKCS#8 DER of the private key. */
  readonly privateKeyPkcs8: Buffer;
  readonly keys: CryptoKeyPair;
}

async function generateKeys(alg: GeneratedKeyAlgorithm): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(keyParams[alg], true, ['sign', 'verify']);
}

async function certified(keys: CryptoKeyPair, cert: x509.X509Certificate): Promise<CertifiedKey> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certificatePem: cert.toString('pem'), privateKeyPkcs8: pkcs8, keys };
}

/**
 * Generates a key pair and a self-signed certificate for it (used for token signing keys, whose certificate is
 * published as `x5c`, and for test client certificates).
 *
 * @param validDays certificate validity from now, in days.
 */
export async function createSelfSignedKey(
  alg: GeneratedKeyAlgorithm,
  subject: string,
  validDays: number,
): Promise<CertifiedKey> {
  const keys = await generateKeys(alg);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validDays * 86_400_000),
    signingAlgorithm: keyParams[alg],
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    ],
  });
  return certified(keys, cert);
}

/** Generates a certificate authority for development TLS (`CN=…`, CA:true, keyCertSign). */
export async function createCertificateAuthority(subject: string, validDays: number): Promise<CertifiedKey> {
  const keys = await generateKeys('ES256');
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validDays * 86_400_000),
    signingAlgorithm: keyParams.ES256,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return certified(keys, cert);
}

/**
 * Issues a TLS server certificate signed by `ca` for the given DNS names and IP addresses
 * (extended key usage serverAuth).
 */
export async function issueServerCertificate(
  ca: CertifiedKey,
  names: { dns: readonly string[]; ip: readonly string[] },
  validDays: number,
): Promise<CertifiedKey> {
  const keys = await generateKeys('ES256');
  const caCert = new x509.X509Certificate(ca.certificatePem);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${names.dns[0] ?? 'localhost'}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validDays * 86_400_000),
    signingAlgorithm: keyParams.ES256,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...names.dns.map((value) => ({ type: 'dns' as const, value })),
        ...names.ip.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return certified(keys, cert);
}

/** Imports a PKCS#8 private key (DER) back into a CryptoKeyPair-compatible private key for signing certs. */
export async function importPrivateKey(pkcs8: Buffer, alg: GeneratedKeyAlgorithm): Promise<CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', pkcs8, keyParams[alg], true, ['sign']);
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER
  return Buffer.from(bytes).toString('hex');
}

/** The public key of a PEM certificate as a WebCrypto key, for a key of algorithm `alg`. */
export async function certificatePublicKey(
  certificatePem: string,
  alg: GeneratedKeyAlgorithm,
): Promise<CryptoKey> {
  const spki = createPublicKey(certificatePem).export({ type: 'spki', format: 'der' });
  return webcrypto.subtle.importKey('spki', spki, keyParams[alg], true, ['verify']);
}

/** PEM text (`PRIVATE KEY`) of a PKCS#8 DER private key. */
export function privateKeyPem(pkcs8: Buffer): string {
  const body = pkcs8
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}
