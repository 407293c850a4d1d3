/**
 * `@tessera/spa`: single-page app authentication on `oidc-client-ts` (docs/spa.md).
 */
export {};
