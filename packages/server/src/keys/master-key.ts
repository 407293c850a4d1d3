import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/config.js';
import type { DatabaseTarget } from '../store/database.js';

/** Bytes of the master key (AES-256). */
const MASTER_KEY_BYTES = 32;

/** Where a master key came from; `generated` means a new file was written and the operator must be warned. */
export type MasterKeySource = 'environment' | 'file' | 'generated';

/**
 * Loads the master key that encrypts signing keys at rest: from `configured` (base64 or base64url of 32 bytes,
 * `TESSERA_MASTER_KEY`), else from `<dataDir>/master.key`, else generates that file (mode 0600).
 *
 * With PostgreSQL (`database` `postgres`, `DATABASE_URL` set) every node reads the same signing keys, so the key
 * must be configured: a file read or generated per node would differ between nodes (each would create keys only
 * it can decrypt), so none is read or generated.
 *
 * @param database the store's dialect (`docs/configuration.md`, `databaseUrl`); default `sqlite`.
 * @throws ConfigError when a configured or stored key is not 32 bytes, or with `postgres` when none is configured
 *   (naming `TESSERA_MASTER_KEY` and how to generate one).
 */
export function loadMasterKey(
  configured: string | undefined,
  dataDir: string,
  database: DatabaseTarget['dialect'] = 'sqlite',
): { key: Buffer; source: MasterKeySource; file?: string } {
  if (configured !== undefined && configured !== '')
    return { key: decodeKey(configured, 'TESSERA_MASTER_KEY'), source: 'environment' };
  const file = join(dataDir, 'master.key');
  if (database === 'postgres') {
    throw new ConfigError(
      'TESSERA_MASTER_KEY is not set. With DATABASE_URL (PostgreSQL) every node shares the token signing keys, ' +
        'so every node needs the same master key: generate one with `openssl rand -base64 32` and set ' +
        `TESSERA_MASTER_KEY to it on every node (a node that ran before with a generated ${file}: use that ` +
        "file's content).",
    );
  }
  if (existsSync(file))
    return { key: decodeKey(readFileSync(file, 'utf8').trim(), file), source: 'file', file };
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(MASTER_KEY_BYTES);
  writeFileSync(file, `${key.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { key, source: 'generated', file };
}

function decodeKey(text: string, where: string): Buffer {
  const key = Buffer.from(text.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, ''), 'base64url');
  if (key.length !== MASTER_KEY_BYTES) {
    throw new ConfigError(
      `The master key in ${where} must be ${MASTER_KEY_BYTES} bytes, base64-encoded (got ${key.length}).`,
    );
  }
  return key;
}

const FORMAT = 'v1';

/** Encrypts with AES-256-GCM under the master key: `v1.{iv}.{tag}.{ciphertext}`, each base64url. */
export function encryptWithMasterKey(masterKey: Buffer, plaintext: Buffer, associatedData: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return [FORMAT, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

/**
 * Decrypts {@link encryptWithMasterKey}'s output.
 *
 * @throws ConfigError when the master key is wrong or the data was altered (GCM authentication fails).
 */
export function decryptWithMasterKey(masterKey: Buffer, sealed: string, associatedData: string): Buffer {
  const [format, iv, tag, ciphertext] = sealed.split('.');
  if (format !== FORMAT || iv === undefined || tag === undefined || ciphertext === undefined) {
    throw new ConfigError('Unrecognised encrypted key format.');
  }
  const decipher = createDecipheriv('aes-256-gcm', masterKey, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(associatedData, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
  } catch {
    throw new ConfigError(
      'Cannot decrypt a signing key: the master key does not match the one it was encrypted with.',
    );
  }
}
