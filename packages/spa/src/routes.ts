/**
 * The route actions of the authentication pages, as Blazor WebAssembly's `RemoteAuthenticatorView` names them
 * (`Microsoft.AspNetCore.Components.WebAssembly.Authentication.RemoteAuthenticationActions`).
 */
export const AUTHENTICATION_ACTIONS = [
  'login',
  'login-callback',
  'login-failed',
  'logout',
  'logout-callback',
  'logged-out',
  'profile',
] as const;

/** One of {@link AUTHENTICATION_ACTIONS}. */
export type AuthenticationAction = (typeof AUTHENTICATION_ACTIONS)[number];

/** Default base path of the route actions: `/authentication/{action}`. */
export const DEFAULT_BASE_PATH = '/authentication';

/**
 * The action a path names under `basePath` (`/authentication/login-callback` → `login-callback`), or undefined
 * when the path is not an authentication route.
 */
export function actionOf(
  pathname: string,
  basePath: string = DEFAULT_BASE_PATH,
): AuthenticationAction | undefined {
  const base = basePath.replace(/\/+$/, '');
  if (!pathname.startsWith(`${base}/`)) return undefined;
  const rest = pathname.slice(base.length + 1).replace(/\/+$/, '');
  return (AUTHENTICATION_ACTIONS as readonly string[]).includes(rest)
    ? (rest as AuthenticationAction)
    : undefined;
}

/** The path of `action` under `basePath`: `/authentication/login`. */
export function actionPath(action: AuthenticationAction, basePath: string = DEFAULT_BASE_PATH): string {
  return `${basePath.replace(/\/+$/, '')}/${action}`;
}
