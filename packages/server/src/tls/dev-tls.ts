import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  certificatePublicKey,
  privateKeyPem,
  createCertificateAuthority,
  importPrivateKey,
  issueServerCertificate,
  type CertifiedKey,
} from '../keys/x509.js';

/** Files of the development TLS setup, under `<dataDir>/tls/`. */
export interface DevTlsFiles {
  /** The development CA certificate: trust it with `NODE_EXTRA_CA_CERTS`. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** True when this call created the CA (print how to trust it). */
  readonly createdCa: boolean;
}

const CA_VALID_DAYS = 825;
const SERVER_VALID_DAYS = 397;
/** Re-issue the server certificate this long before it expires, in ms. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

/**
 * Ensures a local development CA (`ca.pem`, `ca-key.pem`) and a `localhost` server certificate (`server.pem`,
 * `server-key.pem`; SAN `DNS:localhost`, `IP:127.0.0.1`, `IP:::1`) exist under `dir`, creating or renewing them.
 * Development only: the CA key sits beside the certificate, readable by this user alone (mode 0600).
 */
export async function ensureDevTls(dir: string): Promise<DevTlsFiles> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, 'ca.pem');
  const caKeyFile = join(dir, 'ca-key.pem');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server-key.pem');
  let ca: CertifiedKey;
  let createdCa = false;
  if (existsSync(caFile) && existsSync(caKeyFile) && !expiresSoon(caFile)) {
    const der = Buffer.from(
      readFileSync(caKeyFile, 'utf8')
        .replace(/-----[^-]+-----/g, '')
        .replace(/\s+/g, ''),
      'base64',
    );
    const privateKey = await importPrivateKey(der, 'ES256');
    const certificatePem = readFileSync(caFile, 'utf8');
    ca = {
      certificatePem,
      privateKeyPkcs8: der,
      keys: { privateKey, publicKey: await certificatePublicKey(certificatePem, 'ES256') },
    };
  } else {
    ca = await createCertificateAuthority('CN=Tessera Development CA', CA_VALID_DAYS);
    writeFileSync(caFile, ca.certificatePem, { mode: 0o644 });
    writeFileSync(caKeyFile, privateKeyPem(ca.privateKeyPkcs8), { mode: 0o600 });
    createdCa = true;
  }
  if (createdCa || !existsSync(certFile) || !existsSync(keyFile) || expiresSoon(certFile)) {
    const server = await issueServerCertificate(
      ca,
      { dns: ['localhost'], ip: ['127.0.0.1', '::1'] },
      SERVER_VALID_DAYS,
    );
    writeFileSync(certFile, server.certificatePem, { mode: 0o644 });
    writeFileSync(keyFile, privateKeyPem(server.privateKeyPkcs8), { mode: 0o600 });
  }
  return { caFile, certFile, keyFile, createdCa };
}

function expiresSoon(pemFile: string): boolean {
  const cert = new X509Certificate(readFileSync(pemFile));
  return Date.parse(cert.validTo) - Date.now() < RENEW_BEFORE_MS;
}
