/**
 * `@tessera/spa/react`: React bindings of `@tessera/spa` — {@link AuthProvider}, {@link useAuth} and the route
 * guard {@link RequireAuth} (docs/spa.md).
 */
export { AuthContext, useAuth, type AuthState } from './auth-context.js';
export { AuthProvider, type AuthProviderProps } from './auth-provider.js';
export { RequireAuth, type RequireAuthProps } from './require-auth.js';
