import { SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { correlationIdOf } from '../http/errors.js';

/** Span attribute names of Tessera's own (beside the OpenTelemetry HTTP semantic conventions). */
export const TESSERA_SPAN_ATTRIBUTES = {
  correlationId: 'tessera.correlation_id',
  tenantId: 'tessera.tenant_id',
  errorCode: 'tessera.error_code',
} as const;

/** A tenant GUID in the first path segment (`/{tenant}/oauth2/v2.0/token`); names and aliases are not recorded. */
const TENANT_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * One OpenTelemetry server span per request, exported over OTLP/HTTP (JSON) by a batch processor. The provider is
 * Tessera's own and is not registered as the global one, so several servers in one process each export their
 * own spans. Spans carry the method, route pattern, status, correlation id, tenant id and the OAuth / Graph error
 * code; never a URL query, header or body, so no token or secret reaches the collector.
 */
export class RequestTracing {
  private readonly provider: NodeTracerProvider;
  private readonly tracer: Tracer;
  private readonly spans = new WeakMap<FastifyRequest, Span>();

  /**
   * @param endpoint the OTLP/HTTP traces URL (`http://collector:4318/v1/traces`).
   */
  constructor(endpoint: string) {
    this.provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'tessera' }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
    });
    this.tracer = this.provider.getTracer('@tessera/server');
  }

  /** Adds the hooks that start a span when a request arrives and end it when its response is sent. */
  register(app: FastifyInstance, errorCodeOf: (request: FastifyRequest) => string | undefined): void {
    app.addHook('onRequest', (request, _reply, done) => {
      this.spans.set(
        request,
        this.tracer.startSpan(request.method, {
          kind: SpanKind.SERVER,
          attributes: { [ATTR_HTTP_REQUEST_METHOD]: request.method },
        }),
      );
      done();
    });
    app.addHook('onResponse', (request, reply, done) => {
      const span = this.spans.get(request);
      if (span !== undefined) {
        const route = request.routeOptions.url;
        if (route !== undefined) {
          span.updateName(`${request.method} ${route}`);
          span.setAttribute(ATTR_HTTP_ROUTE, route);
        }
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, reply.statusCode);
        span.setAttribute(TESSERA_SPAN_ATTRIBUTES.correlationId, correlationIdOf(request));
        const tenant = (request.params as { tenant?: unknown } | undefined)?.tenant;
        if (typeof tenant === 'string' && TENANT_ID_PATTERN.test(tenant)) {
          span.setAttribute(TESSERA_SPAN_ATTRIBUTES.tenantId, tenant.toLowerCase());
        }
        const errorCode = errorCodeOf(request);
        if (errorCode !== undefined) span.setAttribute(TESSERA_SPAN_ATTRIBUTES.errorCode, errorCode);
        if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      }
      done();
    });
  }

  /** Exports the spans still queued and stops the exporter. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}
