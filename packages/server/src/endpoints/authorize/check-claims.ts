import { IdentityError } from '@tessera/protocol';
import type { AuthorizationContext } from './request.js';

/** Longest `claims` parameter accepted, in characters (MSAL's, with client capabilities and a challenge: < 1 KB). */
export const MAX_CLAIMS_PARAMETER_LENGTH = 8192;

/** Most values one `polids` or `acrs` request may list. */
const MAX_VALUES = 32;

/** A policy id or an authentication context id (`c1` … `c99`, or a GUID): letters, digits, `-`, `_`, `.`. */
const CLAIM_VALUE = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * What the `claims` request asks of the access token that Tessera acts on: the conditional access policies it
 * must satisfy (`polids`, the claims challenge of a token endpoint refusal) and the authentication contexts
 * (`acrs`, a resource's step-up challenge). Other members (MSAL's `xms_cc` client capabilities, `id_token`
 * requests) are accepted and ignored.
 */
export interface AccessTokenClaimsRequest {
  readonly policyIds: readonly string[];
  readonly authenticationContexts: readonly string[];
}

/**
 * Step: parses the OIDC `claims` request parameter (OIDC Core §5.5): a JSON object whose `userinfo`, `id_token`
 * and `access_token` members, when present, are objects of claim requests — each `null` or an object with
 * optional `essential` (boolean), `value` (string) and `values` (array of strings). Of these, `access_token.polids`
 * and `access_token.acrs` (Entra's claims challenge, `claims-challenge.md`) are kept in `ctx.claimsRequest`.
 *
 * @throws IdentityError 9002313 (`invalid_request`) naming what is wrong: too long, not JSON, not an object, a
 *   member or a claim request of the wrong type, too many or malformed values.
 * @see https://learn.microsoft.com/entra/identity-platform/claims-challenge
 */
export function checkClaims(ctx: AuthorizationContext): void {
  const raw = ctx.params.claims;
  if (raw === undefined || raw === '') return;
  if (raw.length > MAX_CLAIMS_PARAMETER_LENGTH) {
    throw new IdentityError(9002313, {
      reason: `'claims' must be at most ${MAX_CLAIMS_PARAMETER_LENGTH} characters.`,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new IdentityError(9002313, { reason: "'claims' must be a JSON object (OIDC Core section 5.5)." });
  }
  const root = objectOf(parsed, "'claims'");
  for (const member of ['userinfo', 'id_token', 'access_token']) {
    const requests = root[member];
    if (requests === undefined) continue;
    const claims = objectOf(requests, `'claims.${member}'`);
    for (const [name, request] of Object.entries(claims)) checkClaimRequest(`${member}.${name}`, request);
  }
  const accessToken = root.access_token as Record<string, unknown> | undefined;
  ctx.claimsRequest = {
    policyIds: valuesOf(accessToken?.polids),
    authenticationContexts: valuesOf(accessToken?.acrs),
  };
}

/** A claim request: `null`, or `{ essential?: boolean, value?: string, values?: string[] }` (OIDC Core §5.5.1). */
function checkClaimRequest(path: string, request: unknown): void {
  if (request === null) return;
  const fields = objectOf(request, `'claims.${path.slice(0, 64)}'`);
  const where = `'claims.${path.slice(0, 64)}'`;
  if (fields.essential !== undefined && typeof fields.essential !== 'boolean')
    throw new IdentityError(9002313, { reason: `${where}.essential must be true or false.` });
  if (fields.value !== undefined && typeof fields.value !== 'string')
    throw new IdentityError(9002313, { reason: `${where}.value must be a string.` });
  if (
    fields.values !== undefined &&
    (!Array.isArray(fields.values) || fields.values.some((v) => typeof v !== 'string'))
  )
    throw new IdentityError(9002313, { reason: `${where}.values must be an array of strings.` });
}

/** The ids a `polids` / `acrs` request names (`value` and `values`), checked for count and shape. */
function valuesOf(request: unknown): string[] {
  if (request === undefined || request === null) return [];
  const { value, values } = request as { value?: string; values?: string[] };
  const all = [...(value === undefined ? [] : [value]), ...(values ?? [])];
  if (all.length > MAX_VALUES)
    throw new IdentityError(9002313, { reason: `'claims' may name at most ${MAX_VALUES} values per claim.` });
  for (const id of all) {
    if (!CLAIM_VALUE.test(id)) {
      throw new IdentityError(9002313, {
        reason:
          "'claims' values of 'polids' and 'acrs' are ids of letters, digits, '-', '_' and '.' (at most 64).",
      });
    }
  }
  return [...new Set(all)];
}

function objectOf(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new IdentityError(9002313, { reason: `${where} must be a JSON object.` });
  return value as Record<string, unknown>;
}
