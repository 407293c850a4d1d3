/**
 * What the demo shows as it happens: one event per protocol step (a token issued, a request accepted or refused,
 * a hub connection), with the decoded claims of the token involved and the security rule the step shows. The
 * landing page streams these (`GET /demo/events`, Server-Sent Events) and the console prints them.
 */

/** The protocol step an event belongs to. */
export type FlowKind =
  'client_credentials' | 'on_behalf_of' | 'authorization_code' | 'admin_consent' | 'api' | 'hub' | 'step_up';

/** A JWT's header and claims, decoded without verification (for display only; the signature is dropped). */
export interface DecodedToken {
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
}

/** One step of a flow. */
export interface FlowEvent {
  /** Increasing from 1 within a run of the demo. */
  readonly id: number;
  /** ISO 8601 time of the step. */
  readonly at: string;
  readonly flow: FlowKind;
  readonly outcome: 'ok' | 'refused';
  /** One line: who did what. */
  readonly title: string;
  /** What the step means (the grant, the token), in a sentence or two. */
  readonly explanation: string;
  /** The security rules the step shows holding. */
  readonly rules: readonly string[];
  /** The token involved, decoded (never the token itself). */
  readonly token?: DecodedToken;
}

/** The input of {@link FlowLog.record}. */
export type FlowEventInput = Omit<FlowEvent, 'id' | 'at' | 'token'> & { readonly token?: string };

/**
 * Decodes a compact JWS's header and payload (RFC 7515 §7.1) for display; undefined for anything else. Never used
 * to make a decision: the APIs validate tokens with `@tessera/resource`.
 */
export function decodeToken(token: string): DecodedToken | undefined {
  const [header, payload] = token.split('.');
  if (header === undefined || payload === undefined) return undefined;
  try {
    const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    const h = decode(header);
    const c = decode(payload);
    if (typeof h !== 'object' || h === null || typeof c !== 'object' || c === null) return undefined;
    return { header: h as Record<string, unknown>, claims: c as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** The last {@link FlowLog.capacity} flow events, and their listeners. */
export class FlowLog {
  private readonly events: FlowEvent[] = [];
  private readonly listeners = new Set<(event: FlowEvent) => void>();
  private nextId = 1;

  /** @param capacity events kept for pages opened later (default 200). */
  constructor(readonly capacity = 200) {}

  /** Records a step; `token` (a JWT) is kept decoded only. A throwing listener does not stop the others. */
  record(input: FlowEventInput): FlowEvent {
    const { token, ...rest } = input;
    const decoded = token === undefined ? undefined : decodeToken(token);
    const event: FlowEvent = {
      id: this.nextId++,
      at: new Date().toISOString(),
      ...rest,
      ...(decoded === undefined ? {} : { token: decoded }),
    };
    this.events.push(event);
    if (this.events.length > this.capacity) this.events.shift();
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener is a display (a page, the console): its failure is not the flow's.
      }
    }
    return event;
  }

  /** The kept events, oldest first. */
  recent(): readonly FlowEvent[] {
    return [...this.events];
  }

  /** Calls `listener` for every later event; returns the function that stops it. */
  subscribe(listener: (event: FlowEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
