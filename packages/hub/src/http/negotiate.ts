import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpConnectionManager } from '../connection/connection-manager.js';
import type { OriginDecision } from '../security/origin.js';
import { ALL_TRANSPORTS, type TransportKind } from '../transports/transport.js';
import type { RequestAdmission } from './admission.js';
import type { ConnectionRelay } from './connection-relay.js';
import { hubRefusals, refusalText } from './refusals.js';
import { drain, recordRefusal, respondJson, type ResponseHeaders } from './responses.js';

/** One transport the client may use, with the transfer formats it carries. */
export interface AvailableTransport {
  readonly transport: TransportKind;
  readonly transferFormats: readonly ('Text' | 'Binary')[];
}

/**
 * The body of a successful negotiate, version 1: the public `connectionId`, the secret `connectionToken` the
 * client sends as `id`, and the transports offered; `useStatefulReconnect` only when asked for and allowed.
 *
 * @see TransportProtocols.md "POST [endpoint-base]/negotiate"
 */
export interface NegotiationResponse {
  readonly negotiateVersion: 1;
  readonly connectionId: string;
  readonly connectionToken: string;
  readonly availableTransports: readonly AvailableTransport[];
  readonly useStatefulReconnect?: true;
}

/** What the negotiate endpoint offers. */
export interface NegotiateSettings {
  readonly transports: ReadonlySet<TransportKind>;
  readonly allowStatefulReconnects: boolean;
}

/**
 * `POST {path}/negotiate`: authenticates and admits the caller, checks `negotiateVersion`, creates the connection
 * and answers its {@link NegotiationResponse}. Authentication runs first, as ASP.NET Core's authorization runs
 * before the negotiate endpoint: no query value gets an unauthenticated caller another answer than the 401.
 *
 * @see TransportProtocols.md "POST [endpoint-base]/negotiate", docs/hub-protocol.md "HTTP refusals"
 */
export class NegotiateEndpoint {
  constructor(
    private readonly settings: NegotiateSettings,
    private readonly admission: RequestAdmission,
    private readonly connections: HttpConnectionManager,
    /** Records each new connection's node, so that any node serves its requests. */
    private readonly relay?: ConnectionRelay,
  ) {}

  async handle(
    request: IncomingMessage,
    response: ServerResponse,
    query: URLSearchParams,
    origin: OriginDecision,
    cors: ResponseHeaders,
  ): Promise<void> {
    drain(request);
    const user = await this.admission.admit(request, query, false, origin, response, cors);
    if (user === undefined) return;
    const requested = query.get('negotiateVersion') ?? '0';
    const version = Number(requested);
    if (!Number.isInteger(version) || version < 1) {
      recordRefusal(response, 'negotiateVersionUnsupported');
      respondJson(
        response,
        hubRefusals.negotiateVersionUnsupported.status,
        { error: refusalText('negotiateVersionUnsupported', { version: requested }) },
        cors,
      );
      return;
    }
    const stateful = this.settings.allowStatefulReconnects && query.get('useStatefulReconnect') === 'true';
    const connection = this.connections.create(user, stateful);
    await this.relay?.register(connection.connectionToken);
    const body: NegotiationResponse = {
      negotiateVersion: 1,
      connectionId: connection.connectionId,
      connectionToken: connection.connectionToken,
      availableTransports: this.availableTransports(),
      ...(stateful ? { useStatefulReconnect: true } : {}),
    };
    respondJson(response, 200, body, { ...cors, 'cache-control': 'no-store' });
  }

  private availableTransports(): AvailableTransport[] {
    return ALL_TRANSPORTS.filter((kind) => this.settings.transports.has(kind)).map((transport) => ({
      transport,
      transferFormats: transport === 'ServerSentEvents' ? ['Text'] : ['Text', 'Binary'],
    }));
  }
}
