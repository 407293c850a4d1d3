import { generate, generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';

/**
 * TOTP (RFC 6238) as every authenticator app speaks it: HMAC-SHA-1, 6 digits, 30-second time steps from the Unix
 * epoch, a Base32 secret of 20 random bytes (RFC 4226 §4 R6: at least 128 bits; 160 recommended).
 */
export const TOTP_PERIOD_SECONDS = 30;

/** Digits of a code. */
export const TOTP_DIGITS = 6;

/**
 * Time steps accepted either side of the current one (RFC 6238 §5.2, §6: one step back for transmission delay,
 * one ahead for a clock running fast).
 */
export const TOTP_WINDOW_STEPS = 1;

/** The issuer authenticator apps show beside the account (the `otpauth://` URI's `issuer`). */
export const TOTP_ISSUER = 'Tessera';

/** A new authenticator secret: Base32 of 20 random bytes. */
export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/**
 * The `otpauth://totp/Tessera:{upn}?secret=…&issuer=Tessera&algorithm=SHA1&digits=6&period=30` URI an
 * authenticator app scans (Google Authenticator's Key Uri Format).
 */
export function totpUri(secret: string, userPrincipalName: string): string {
  return generateURI({
    issuer: TOTP_ISSUER,
    label: userPrincipalName,
    secret,
    algorithm: 'sha1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  });
}

/** The QR code of an `otpauth://` URI as an inline SVG `data:` URL (the sign-in pages allow `img-src data:`). */
export async function totpQrCodeDataUrl(uri: string): Promise<string> {
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}

/** The code of the time step `nowSeconds` falls in. */
export function totpCode(secret: string, nowSeconds: number): Promise<string> {
  return generate({
    secret,
    epoch: nowSeconds,
    algorithm: 'sha1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  });
}

/** True when `code` has the shape of a code (6 digits; spaces a user typed between groups are removed first). */
export function normaliseTotpCode(code: string): string | undefined {
  const digits = code.replaceAll(/\s/g, '');
  return new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(digits) ? digits : undefined;
}

/**
 * Finds the time step of `code` within {@link TOTP_WINDOW_STEPS} of `nowSeconds` (RFC 6238 §4.2:
 * T = floor(unixTime / 30)). Whether the step was used before is the caller's check.
 *
 * @returns the matching time step, or undefined when the code is malformed or matches no step of the window.
 */
export async function matchTotpCode(
  secret: string,
  code: string,
  nowSeconds: number,
): Promise<number | undefined> {
  const token = normaliseTotpCode(code);
  if (token === undefined) return undefined;
  const result = await verify({
    secret,
    token,
    epoch: nowSeconds,
    algorithm: 'sha1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    epochTolerance: TOTP_WINDOW_STEPS * TOTP_PERIOD_SECONDS,
  });
  return result.valid && 'timeStep' in result ? result.timeStep : undefined;
}
