import { createHmac, timingSafeEqual } from 'node:crypto';

/** What an interaction page carries between requests, sealed so the browser cannot change it. */
export interface InteractionState {
  /** The original authorization request parameters. */
  readonly params: Readonly<Record<string, string>>;
  /** The `{tenant}` path segment of the request. */
  readonly tenant: string;
  /** The session chosen or created during this interaction (login and account choice are done). */
  readonly sessionId?: string;
  /** Unix seconds after which the interaction is refused. */
  readonly expiresAt: number;
}

/** Seals interaction state: base64url JSON, `.`, base64url HMAC-SHA256. */
export function sealInteraction(key: Buffer, state: InteractionState): string {
  const body = Buffer.from(JSON.stringify(state)).toString('base64url');
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

/** Opens sealed interaction state; `undefined` when forged, malformed or expired. */
export function openInteraction(key: Buffer, sealed: string, now: number): InteractionState | undefined {
  const dot = sealed.indexOf('.');
  if (dot <= 0 || sealed.length > 32_768) return undefined;
  const body = sealed.slice(0, dot);
  const mac = Buffer.from(sealed.slice(dot + 1));
  const expected = Buffer.from(createHmac('sha256', key).update(body).digest('base64url'));
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
  try {
    const state = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as InteractionState;
    return state.expiresAt > now ? state : undefined;
  } catch {
    return undefined;
  }
}
