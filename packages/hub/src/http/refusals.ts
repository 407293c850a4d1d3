// The hub's HTTP refusals: every status and body the negotiate endpoint, connection requests (WebSocket upgrade,
// Server-Sent Events, Long Polling, POST, DELETE), the origin check and authentication answer with when they turn
// a request down. Texts are ASP.NET Core's where it has the same refusal (HttpConnectionDispatcher), so the official
// client reports them as it does against ASP.NET. docs/hub-protocol.md "HTTP refusals" lists them; a test keeps the
// two equal.

/** The message of the 403 a request gets when its user is not the one the connection token is bound to. */
export const IDENTITY_CHANGED = 'The user identity cannot change during an active connection.';

/** A refusal with a fixed status and a `text/plain; charset=utf-8` body (none when the text is empty). */
export interface TextRefusal {
  readonly kind: 'text';
  readonly status: 400 | 403 | 404 | 405 | 409 | 413 | 500;
  /** The body; `{name}` placeholders are filled from the refusal's parameters. */
  readonly text: string;
}

/**
 * A negotiate refusal the official client reads from a `200` JSON body `{"error": text}` and reports as its error.
 *
 * @see TransportProtocols.md "POST [endpoint-base]/negotiate"
 */
export interface NegotiateErrorRefusal {
  readonly kind: 'negotiate-error';
  readonly status: 200;
  readonly text: string;
}

/**
 * An authentication refusal: the status of the `BearerTokenError` (401, 400 for a malformed `Authorization`
 * header, 403, or 503 when the validator cannot get its keys), its `WWW-Authenticate` challenge and an empty body,
 * as ASP.NET Core's authentication answers: the official client would put any body into its error message.
 *
 * @see RFC 6750 §3
 */
export interface ChallengeRefusal {
  readonly kind: 'challenge';
  readonly statuses: readonly (400 | 401 | 403 | 503)[];
  readonly text: '';
}

/** One entry of {@link hubRefusals}. */
export type RefusalDefinition = TextRefusal | NegotiateErrorRefusal | ChallengeRefusal;

/** Every HTTP refusal of the hub, by name. */
export const hubRefusals = {
  /** A browser `Origin` that is neither the hub's own nor in `allowedOrigins` (any request, any upgrade). */
  originNotAllowed: { kind: 'text', status: 403, text: '' },
  /** A bad, expired or missing token, or an anonymous caller of a hub that needs a user. */
  authenticationFailed: { kind: 'challenge', statuses: [401, 400, 403, 503], text: '' },
  /** A cookie-authenticated negotiate or upgrade without an allowed (or the page's own) `Origin` (CSRF). */
  cookieOriginNotAllowed: { kind: 'text', status: 403, text: '' },
  /** The caller does not satisfy the hub's policy. */
  policyNotSatisfied: { kind: 'text', status: 403, text: '' },
  /** Negotiate with another method than POST, or a connection request with another than GET, POST, DELETE. */
  methodNotAllowed: { kind: 'text', status: 405, text: 'Method not allowed.' },
  /** Negotiate without `negotiateVersion=1` or later (version 0 has no connection token). */
  negotiateVersionUnsupported: {
    kind: 'negotiate-error',
    status: 200,
    text: "The client requested version '{version}', but the server does not support this version.",
  },
  /** A connection request without `id`. */
  connectionIdRequired: { kind: 'text', status: 400, text: 'Connection ID required' },
  /** An `id` that is no live connection token (also a closed connection once its Long Polling grace is over). */
  connectionNotFound: { kind: 'text', status: 404, text: 'No Connection with that ID' },
  /** A request on a connection by another identity (or none) than the one that negotiated it. */
  identityChanged: { kind: 'text', status: 403, text: IDENTITY_CHANGED },
  /** A transport the hub does not offer (`transports`). */
  transportNotSupported: { kind: 'text', status: 404, text: 'Transport not supported.' },
  /** A request for another transport than the one the connection started with. */
  transportChanged: { kind: 'text', status: 400, text: 'Cannot change transports mid-connection.' },
  /** A second Server-Sent Events GET or WebSocket upgrade on a connection that has its transport. */
  connectionInUse: {
    kind: 'text',
    status: 409,
    text: 'Another active request is already using this connection.',
  },
  /** DELETE on a connection whose transport is not Long Polling. */
  deleteNotSupported: {
    kind: 'text',
    status: 400,
    text: 'Cannot terminate this connection using the DELETE endpoint.',
  },
  /** POST on a WebSocket connection (its client sends over the socket). */
  postOnWebSocket: {
    kind: 'text',
    status: 405,
    text: 'POST requests are not allowed for WebSocket connections.',
  },
  /** A POST while another POST on the same connection is being read. */
  sendInProgress: {
    kind: 'text',
    status: 409,
    text: 'Another message is already being sent on this connection.',
  },
  /** A POST body larger than `maxFrameBytes`; the connection ends. */
  payloadTooLarge: { kind: 'text', status: 413, text: 'Payload too large.' },
  /** An unexpected failure while handling the request (details go to the log only). */
  internalError: { kind: 'text', status: 500, text: 'Internal server error.' },
} as const satisfies Record<string, RefusalDefinition>;

/** The name of a refusal in {@link hubRefusals}. */
export type HubRefusalName = keyof typeof hubRefusals;

/** The names of the refusals answered with a fixed status and a text body. */
export type TextRefusalName = {
  [N in HubRefusalName]: (typeof hubRefusals)[N]['kind'] extends 'text' ? N : never;
}[HubRefusalName];

type Placeholders<T extends string> = T extends `${string}{${infer Name}}${infer Rest}`
  ? Name | Placeholders<Rest>
  : never;

/** The placeholder values a refusal's text needs: `{}` for a text without placeholders. */
export type RefusalParameters<N extends HubRefusalName> = {
  readonly [P in Placeholders<(typeof hubRefusals)[N]['text']>]: string;
};

/**
 * The body text of a refusal, its placeholders filled in.
 *
 * @example refusalText('negotiateVersionUnsupported', { version: '0' })
 */
export function refusalText<N extends HubRefusalName>(name: N, parameters: RefusalParameters<N>): string {
  const values = parameters as Readonly<Record<string, string>>;
  return hubRefusals[name].text.replace(/\{(\w+)\}/g, (match, key: string) => values[key] ?? match);
}
