import { createContext, useContext } from 'react';
import type { User } from 'oidc-client-ts';
import type { Authentication, SignInOptions } from '../authentication.js';
import type { AuthenticationError } from '../errors.js';

/** What {@link useAuth} returns. */
export interface AuthState {
  readonly authentication: Authentication;
  /** The signed-in user, null when anonymous; undefined while the stored session is being read. */
  readonly user: User | null | undefined;
  readonly isAuthenticated: boolean;
  /** True until the stored session has been read. */
  readonly isLoading: boolean;
  /** The last renewal failure, cleared by the next sign-in. */
  readonly renewalError: AuthenticationError | undefined;
  readonly signIn: (options?: SignInOptions) => Promise<void>;
  readonly signOut: (options?: { returnUrl?: string }) => Promise<void>;
  readonly getAccessToken: (request?: {
    scopes?: readonly string[];
    forceRefresh?: boolean;
  }) => Promise<string>;
}

/** The React context {@link AuthProvider} fills. */
export const AuthContext = createContext<AuthState | undefined>(undefined);

/**
 * The authentication state of the nearest {@link AuthProvider}.
 *
 * @throws Error when no `AuthProvider` is above the component.
 */
export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (state === undefined) throw new Error('useAuth() needs an <AuthProvider> above it.');
  return state;
}
