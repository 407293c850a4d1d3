import {
  IdentityError,
  RESPONSE_MODES,
  RESPONSE_TYPES,
  parseScope,
  type ResponseType,
} from '@tessera/protocol';
import type { AuthorizationContext } from './request.js';

/**
 * Step: `response_type` is one the platform supports; `response_mode` is valid and never `query` when tokens
 * travel; `token` / `id_token` only when the app's `implicitGrantSettings` allow them; an id_token from this
 * endpoint needs `openid` and a `nonce`; a `nonce` never holds a NUL character.
 *
 * @throws IdentityError 900144 (no `response_type` / `nonce`), 70005 (unknown type, implicit not enabled,
 *   no `openid`), 700054 (id_token not enabled), 70007 (bad response mode), 9002313 (a NUL in `nonce`).
 * @see OAuth 2.0 Multiple Response Type Encoding Practices §3, §5; OIDC Core §3.2.2.1, §15.5.2
 */
export function checkResponseType(ctx: AuthorizationContext): void {
  const client = ctx.client;
  if (client === undefined) throw new Error('checkClient must run first');
  const raw = ctx.params.response_type;
  if (raw === undefined || raw === '') throw new IdentityError(900144, { name: 'response_type' });
  // Multiple Response Types §5: the order of space-separated values does not matter.
  const normalised = raw
    .split(' ')
    .filter(Boolean)
    .sort((a, b) => (a === 'code' ? -1 : b === 'code' ? 1 : a.localeCompare(b)))
    .join(' ');
  if (!(RESPONSE_TYPES as readonly string[]).includes(normalised)) {
    throw new IdentityError(70005, {
      responseType: raw.slice(0, 64),
      reason: 'use code, token, id_token, id_token token or code id_token.',
    });
  }
  const responseType = normalised as ResponseType;
  const parts = responseType.split(' ');
  const mode = ctx.params.response_mode;
  if (mode !== undefined && !(RESPONSE_MODES as readonly string[]).includes(mode)) {
    throw new IdentityError(70007, {
      responseMode: mode.slice(0, 32),
      reason: 'use query, fragment or form_post.',
    });
  }
  if (mode === 'query' && (parts.includes('token') || parts.includes('id_token'))) {
    throw new IdentityError(70007, {
      responseMode: mode,
      reason: 'tokens are never sent in a query string; use fragment or form_post.',
    });
  }
  const implicit = client.web.implicitGrantSettings;
  if (parts.includes('token') && !implicit.enableAccessTokenIssuance) {
    throw new IdentityError(70005, {
      responseType: raw,
      reason: "response type 'token' is not enabled for the application.",
    });
  }
  if (parts.includes('id_token')) {
    if (!implicit.enableIdTokenIssuance) throw new IdentityError(700054, { clientId: client.appId });
    if (!parseScope(ctx.params.scope).some((scope) => scope.toLowerCase() === 'openid')) {
      throw new IdentityError(70005, {
        responseType: raw,
        reason: "response type 'id_token' requires the 'openid' scope.",
      });
    }
    if (ctx.params.nonce === undefined || ctx.params.nonce === '')
      throw new IdentityError(900144, { name: 'nonce' });
  }
  // The nonce is stored with the code, and PostgreSQL text holds no NUL: refused alike on every store.
  if (ctx.params.nonce?.includes('\u0000') === true) {
    throw new IdentityError(9002313, { reason: "'nonce' must not contain a NUL character." });
  }
  ctx.responseType = responseType;
}
