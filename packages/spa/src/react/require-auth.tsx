import { useEffect, type ReactNode } from 'react';
import { useAuth } from './auth-context.js';

/** Props of {@link RequireAuth}. */
export interface RequireAuthProps {
  readonly children?: ReactNode;
  /** What shows while the session is read or the sign-in starts; default nothing. */
  readonly fallback?: ReactNode;
  /** The URL to come back to; default the current path, query and fragment. */
  readonly returnUrl?: string;
}

/**
 * A route guard: renders `children` for a signed-in user, else starts the sign-in, which comes back to this URL
 * (Blazor's `[Authorize]` + `RedirectToLogin`).
 */
export function RequireAuth({ children, fallback = null, returnUrl }: RequireAuthProps): ReactNode {
  const { isAuthenticated, isLoading, signIn } = useAuth();
  useEffect(() => {
    if (isLoading || isAuthenticated) return;
    void signIn({ returnUrl: returnUrl ?? `${location.pathname}${location.search}${location.hash}` });
  }, [isLoading, isAuthenticated, signIn, returnUrl]);
  return isAuthenticated ? children : fallback;
}
