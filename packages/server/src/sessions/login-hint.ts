import { createHmac, timingSafeEqual } from 'node:crypto';

/** Version tag of the hint format (inside the encoding, so clients see one opaque base64url string). */
const HINT_VERSION = 'h1';
/** Characters of the base64url HMAC-SHA256 kept in a hint (128 bits). */
const MAC_CHARS = 22;
/** Longest hint opened, in characters: longer input is not one of ours. */
const MAX_HINT_CHARS = 256;

/**
 * The `login_hint` ID token claim (the Microsoft identity platform's optional claim of that name): an opaque,
 * reliable, base64url hint naming the user account, the same for every app, so an app may send it back as the
 * `login_hint` authorization parameter (SSO to the right account) or as `logout_hint` at the logout endpoint
 * (sign-out without an account picker). It holds the user's object id and an HMAC-SHA256 under `key`, so it cannot
 * be made for another account without an ID token that already carries it. About 80 characters.
 *
 * @param key the server's pairwise-subject key (the hint's MAC input is domain-separated from pairwise subjects).
 * @param userId the user's object id (`oid`).
 */
export function loginHintFor(key: Buffer, userId: string): string {
  const mac = hintMac(key, userId);
  return Buffer.from(`${HINT_VERSION}|${userId}|${mac}`).toString('base64url');
}

/**
 * The user object id a {@link loginHintFor} hint names; undefined for anything else (a UPN, a forged or altered
 * hint). Never throws.
 */
export function userOfLoginHint(key: Buffer, hint: string): string | undefined {
  if (hint.length > MAX_HINT_CHARS || !/^[A-Za-z0-9_-]+$/.test(hint)) return undefined;
  const decoded = Buffer.from(hint, 'base64url');
  if (decoded.toString('base64url') !== hint) return undefined; // one hint, one spelling
  const [version, userId, mac, ...rest] = decoded.toString('utf8').split('|');
  if (version !== HINT_VERSION || userId === undefined || mac === undefined || rest.length > 0)
    return undefined;
  const expected = Buffer.from(hintMac(key, userId));
  const given = Buffer.from(mac);
  return given.length === expected.length && timingSafeEqual(given, expected) ? userId : undefined;
}

function hintMac(key: Buffer, userId: string): string {
  return createHmac('sha256', key).update(`login_hint|${userId}`).digest('base64url').slice(0, MAC_CHARS);
}

/**
 * Authorization request parameters with a {@link loginHintFor} `login_hint` (what MSAL sends once an ID token
 * carries the claim) replaced by the user principal name it names, so account selection and the sign-in form's
 * prefill see the account; any other hint is left as it is.
 */
export async function withAccountLoginHint(
  key: Buffer,
  users: { user(id: string): Promise<{ readonly userPrincipalName: string } | undefined> },
  params: Readonly<Record<string, string>>,
): Promise<Record<string, string>> {
  const hint = params.login_hint;
  const userId = hint === undefined ? undefined : userOfLoginHint(key, hint);
  const user = userId === undefined ? undefined : await users.user(userId);
  return user === undefined ? { ...params } : { ...params, login_hint: user.userPrincipalName };
}
