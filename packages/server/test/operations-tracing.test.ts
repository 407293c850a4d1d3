import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startInteractiveServer, startTestServer, type InteractiveServer } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// OpenTelemetry traces: with an OTLP/HTTP endpoint configured, one server span per request reaches the collector
// (here a local HTTP server reading the JSON export) with the route, status and correlation id, and no secret;
// without one, nothing is sent.

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number };
}
interface OtlpSpan {
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
}
interface OtlpExport {
  resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
}

function attribute(span: OtlpSpan, key: string): string | number | undefined {
  const found = span.attributes.find((entry) => entry.key === key)?.value;
  return found?.stringValue ?? (found?.intValue === undefined ? undefined : Number(found.intValue));
}

describe('OpenTelemetry request spans', () => {
  const bodies: string[] = [];
  let collector: Server;
  let endpoint: string;

  beforeAll(async () => {
    collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
  });
  afterAll(
    () =>
      new Promise<void>((resolve) =>
        collector.close(() => {
          resolve();
        }),
      ),
  );

  it('exports a server span per request with its correlation id, and never a secret', async () => {
    const home: InteractiveServer = await startInteractiveServer({
      config: { tls: 'off', otelTracesEndpoint: endpoint },
    });
    const correlationId = '5a6b7c8d-1111-4222-8333-944445555666';
    const { web, tenantId } = home.scenario;
    const refused = await fetch(`${home.server.url}/${tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'client-request-id': correlationId },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: web.appId,
        client_secret: `${web.secret}x`,
        scope: `${home.scenario.api.identifierUri}/.default`,
      }),
    });
    expect(refused.status).toBe(401);
    // Closing the server shuts the provider down, which flushes the batch.
    await home.server.close();

    expect(bodies.length).toBeGreaterThan(0);
    const spans = bodies.flatMap((body) =>
      (JSON.parse(body) as OtlpExport).resourceSpans.flatMap((resource) =>
        resource.scopeSpans.flatMap((scope) => scope.spans),
      ),
    );
    const span = spans.find((candidate) => candidate.name === 'POST /:tenant/oauth2/v2.0/token');
    expect(span, JSON.stringify(spans.map((candidate) => candidate.name))).toBeDefined();
    if (span === undefined) return;
    expect(span.kind).toBe(2); // SPAN_KIND_SERVER
    expect(attribute(span, 'tessera.correlation_id')).toBe(correlationId);
    expect(attribute(span, 'tessera.tenant_id')).toBe(tenantId);
    expect(attribute(span, 'tessera.error_code')).toBe('invalid_client');
    expect(attribute(span, 'http.request.method')).toBe('POST');
    expect(attribute(span, 'http.route')).toBe('/:tenant/oauth2/v2.0/token');
    expect(attribute(span, 'http.response.status_code')).toBe(401);
    for (const body of bodies) expect(body).not.toContain(web.secret);
  });

  it('sends nothing with tracing off', async () => {
    const before = bodies.length;
    const server = await startTestServer({ config: { tls: 'off' } });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await server.close();
    expect(bodies.length).toBe(before);
  });
});
