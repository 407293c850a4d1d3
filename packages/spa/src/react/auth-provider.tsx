import { useEffect, useMemo, useState, type ReactNode } from 'react';
import type { User } from 'oidc-client-ts';
import type { Authentication } from '../authentication.js';
import type { AuthenticationError } from '../errors.js';
import { AuthContext, type AuthState } from './auth-context.js';

/** Props of {@link AuthProvider}. */
export interface AuthProviderProps {
  /** The app's one `Authentication` (`createAuthentication(...)`, created outside React). */
  readonly authentication: Authentication;
  readonly children?: ReactNode;
}

/**
 * Makes `authentication` and its user available to {@link useAuth}; re-renders on sign-in, sign-out (also in
 * another tab) and renewal errors.
 */
export function AuthProvider({ authentication, children }: AuthProviderProps): ReactNode {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [renewalError, setRenewalError] = useState<AuthenticationError | undefined>(undefined);
  useEffect(() => {
    let active = true;
    void authentication.getUser().then((stored) => {
      if (active) setUser(stored);
    });
    const off = [
      authentication.events.on('signedIn', (next) => {
        setUser(next);
        setRenewalError(undefined);
      }),
      authentication.events.on('signedOut', () => {
        setUser(null);
      }),
      authentication.events.on('renewalError', setRenewalError),
    ];
    return () => {
      active = false;
      for (const remove of off) remove();
    };
  }, [authentication]);
  const value = useMemo<AuthState>(
    () => ({
      authentication,
      user,
      isAuthenticated: user !== null && user !== undefined,
      isLoading: user === undefined,
      renewalError,
      signIn: (options) => authentication.signIn(options),
      signOut: (options) => authentication.signOut(options),
      getAccessToken: (request) => authentication.getAccessToken(request),
    }),
    [authentication, user, renewalError],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}
