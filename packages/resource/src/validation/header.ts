import { BearerTokenError } from '../errors.js';
import { accessTokenTypeOf, type AccessTokenType } from './access-token-rules.js';

/** What the validator needs from a JWS protected header, checked. */
export interface CheckedHeader {
  readonly alg: string;
  readonly kid: string;
  readonly typ: AccessTokenType;
}

/** Header checkers keep this many accepted header segments (an authority signs with a handful of keys). */
const ACCEPTED_HEADERS_KEPT = 16;

/**
 * Makes the header check of one validator: decodes the protected header of a compact JWS and checks, before any
 * key is looked up (nothing is authenticated yet): `alg` in the allow-list, an access token `typ`, a `kid`. jose
 * decodes and checks the header again when it verifies; this early pass lets the key be resolved first (and
 * cached) and gives each refusal its own code.
 *
 * Every part must be canonical base64url (RFC 7515 §2, RFC 4648 §5 and §3.5): only the URL-safe alphabet, no `=`
 * padding, no `+` or `/`, and zero unused trailing bits, so that one token has exactly one spelling (decoders
 * that tolerate other spellings would otherwise accept many strings for one signature).
 *
 * The check is a pure function of the header segment, and every token signed by one key carries the same segment,
 * so accepted segments are remembered (at most {@link ACCEPTED_HEADERS_KEPT}; the memory is emptied when full).
 *
 * @throws BearerTokenError `token_malformed`, `algorithm_not_allowed` (RFC 8725 §3.1), `type_not_allowed`
 *   (RFC 9068 §4), `key_not_found` (no `kid`).
 */
export function createHeaderCheck(algorithms: ReadonlySet<string>): (token: string) => CheckedHeader {
  const accepted = new Map<string, CheckedHeader>();
  return (token) => {
    const dot = token.indexOf('.');
    const second = dot === -1 ? -1 : token.indexOf('.', dot + 1);
    if (dot <= 0 || second === -1 || token.includes('.', second + 1)) {
      throw new BearerTokenError('token_malformed', { detail: 'not three dot-separated parts' });
    }
    const segment = token.slice(0, dot);
    let checked = accepted.get(segment);
    if (checked === undefined) {
      if (!isCanonicalBase64url(token, 0, dot)) {
        throw new BearerTokenError('token_malformed', { detail: 'header is not canonical base64url' });
      }
      checked = checkHeaderSegment(segment, algorithms);
      if (accepted.size >= ACCEPTED_HEADERS_KEPT) accepted.clear();
      accepted.set(segment, checked);
    }
    // The payload is never empty in a JWT; an empty signature is left to the algorithm and signature checks.
    if (dot + 1 === second || !isCanonicalBase64url(token, dot + 1, second)) {
      throw new BearerTokenError('token_malformed', { detail: 'payload is not canonical base64url' });
    }
    if (second + 1 < token.length && !isCanonicalBase64url(token, second + 1, token.length)) {
      throw new BearerTokenError('token_malformed', { detail: 'signature is not canonical base64url' });
    }
    return checked;
  };
}

/** The value (0–63) of a base64url character code (RFC 4648 §5), or -1. */
function sextetOf(code: number): number {
  if (code >= 65 && code <= 90) return code - 65; // A-Z
  if (code >= 97 && code <= 122) return code - 71; // a-z
  if (code >= 48 && code <= 57) return code + 4; // 0-9
  if (code === 45) return 62; // -
  if (code === 95) return 63; // _
  return -1;
}

/**
 * Whether `text[start, end)` is non-empty canonical unpadded base64url: alphabet only, a length that is not 1 mod 4,
 * and zero pad bits in the last character (RFC 4648 §3.5), i.e. exactly what encoding its bytes gives.
 */
function isCanonicalBase64url(text: string, start: number, end: number): boolean {
  const length = end - start;
  if (length === 0 || length % 4 === 1) return false;
  for (let index = start; index < end; index += 1) {
    if (sextetOf(text.charCodeAt(index)) === -1) return false;
  }
  const last = sextetOf(text.charCodeAt(end - 1));
  if (length % 4 === 2) return (last & 0b1111) === 0;
  if (length % 4 === 3) return (last & 0b11) === 0;
  return true;
}

function checkHeaderSegment(segment: string, algorithms: ReadonlySet<string>): CheckedHeader {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new BearerTokenError('token_malformed', { detail: 'header is not base64url JSON', cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new BearerTokenError('token_malformed', { detail: 'header is not a JSON object' });
  }
  const { alg, typ, kid } = header as { alg?: unknown; typ?: unknown; kid?: unknown };
  if (typeof alg !== 'string' || !algorithms.has(alg)) {
    throw new BearerTokenError('algorithm_not_allowed', { detail: `alg ${String(alg)}` });
  }
  const type = accessTokenTypeOf(typ);
  if (type === undefined) throw new BearerTokenError('type_not_allowed', { detail: `typ ${String(typ)}` });
  if (typeof kid !== 'string' || kid.length === 0) {
    throw new BearerTokenError('key_not_found', { detail: 'no kid in the header' });
  }
  return { alg, kid, typ: type };
}
