import type { TesseraConfig } from './config/config.js';
import type { DirectoryCache } from './directory/directory-cache.js';
import type { KeyRing } from './keys/key-ring.js';
import type { DirectoryStore } from './store/directory-store.js';

/**
 * What endpoints and grants need from the running server, assembled once at the composition root
 * (`createTesseraServer`) and passed down.
 */
export interface ServerContext {
  readonly config: TesseraConfig;
  readonly store: DirectoryStore;
  readonly cache: DirectoryCache;
  /** The current key ring (replaced when keys rotate). */
  keyRing(): KeyRing;
  /** Public base URL, e.g. `https://localhost:8443` (no trailing slash). */
  baseUrl(): string;
  /** Unix seconds. */
  now(): number;
}
