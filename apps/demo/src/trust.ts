import { join } from 'node:path';
import { ensureDevTls, type TesseraConfig } from '@tessera/server';

/** The TLS files every demo server uses, and the CA its own clients must trust. */
export interface DemoTls {
  /** PEM key and certificate chain for `https`; undefined with `tls: off`. */
  readonly keyFile: string | undefined;
  readonly certFile: string | undefined;
  /** The development CA (`tls: dev`), which Node clients trust through `NODE_EXTRA_CA_CERTS`. */
  readonly caFile: string | undefined;
}

/** The TLS files of `config`: the development CA and `localhost` certificate under `<dataDir>/tls/` for `dev`. */
export async function demoTls(config: TesseraConfig): Promise<DemoTls> {
  if (config.tls === 'off') return { keyFile: undefined, certFile: undefined, caFile: undefined };
  if (config.tls === 'files') {
    return { keyFile: config.tlsKeyFile, certFile: config.tlsCertFile, caFile: undefined };
  }
  // The same directory the identity server uses, so the four servers share one certificate.
  const files = await ensureDevTls(join(config.dataDir, 'tls'));
  return { keyFile: files.keyFile, certFile: files.certFile, caFile: files.caFile };
}
