import type { TesseraConfig } from './config/config.js';
import type { Directory } from './directory/directory.js';
import type { DirectoryCache } from './directory/directory-cache.js';
import type { DerivedKeys } from './keys/derived-keys.js';
import type { KeyRing } from './keys/key-ring.js';
import type { DirectoryStore } from './store/directory-store.js';
import type { SignInStore } from './store/sign-in-store.js';
import type { RevocationList } from './tokens/revocations.js';
import type { AuthenticationMethods } from './users/authentication-methods.js';
import type { PasswordSignIn } from './users/password-sign-in.js';

/**
 * What endpoints and grants need from the running server, assembled once at the composition root
 * (`createTesseraServer`) and passed down.
 */
export interface ServerContext {
  readonly config: TesseraConfig;
  readonly store: DirectoryStore;
  /** Sessions, codes and refresh tokens (no directory version bumps). */
  readonly signIn: SignInStore;
  /** Revoked grants and access tokens, in memory (introspection, userinfo). */
  readonly revocations: RevocationList;
  readonly cache: DirectoryCache;
  /** Directory writes made by sign-in (consent grants, service principals of multi-tenant apps). */
  readonly directory: Directory;
  /** Keys derived from the master key. */
  readonly keys: DerivedKeys;
  readonly passwords: PasswordSignIn;
  /** Users' second factor (TOTP authenticators). */
  readonly authenticationMethods: AuthenticationMethods;
  /** The current key ring (replaced when keys rotate). */
  keyRing(): KeyRing;
  /** Public base URL, e.g. `https://localhost:8443` (no trailing slash). */
  baseUrl(): string;
  /** Unix seconds. */
  now(): number;
}
