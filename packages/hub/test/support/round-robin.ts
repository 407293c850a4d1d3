import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect as netConnect, type AddressInfo } from 'node:net';

/** A front that sends each request (and each WebSocket upgrade) to the next node in turn, as a plain balancer. */
export interface RoundRobinFront {
  /** `http://127.0.0.1:{port}` */
  readonly origin: string;
  /** Every request in order: the node index it went to, its method and URL (upgrades as `UPGRADE`). */
  readonly log: { readonly node: number; readonly method: string; readonly url: string }[];
  close(): Promise<void>;
}

/** Starts a round-robin front over the nodes at `origins` (`http://127.0.0.1:{port}` each). */
export async function startRoundRobin(origins: readonly string[]): Promise<RoundRobinFront> {
  const targets = origins.map((origin) => new URL(origin));
  const log: { node: number; method: string; url: string }[] = [];
  let next = 0;
  const pick = (method: string, url: string): URL => {
    const node = next++ % targets.length;
    log.push({ node, method, url });
    const target = targets[node];
    if (target === undefined) throw new Error('no node to send to');
    return target;
  };
  const server: Server = createServer((request, response) => {
    const target = pick(request.method ?? 'GET', request.url ?? '/');
    const outgoing = httpRequest({
      host: target.hostname,
      port: target.port,
      method: request.method,
      path: request.url,
      headers: request.headers,
      agent: false,
    });
    outgoing.on('response', (incoming) => {
      response.writeHead(incoming.statusCode ?? 502, incoming.headers);
      response.flushHeaders();
      incoming.pipe(response);
      incoming.on('error', () => response.destroy());
    });
    outgoing.on('error', () => {
      if (!response.headersSent) response.writeHead(502).end();
      else response.destroy();
    });
    response.on('close', () => outgoing.destroy());
    request.pipe(outgoing);
  });
  const upgraded = new Set<{ destroy(): void }>();
  server.on('upgrade', (request, socket, head) => {
    upgraded.add(socket);
    socket.on('close', () => upgraded.delete(socket));
    const target = pick('UPGRADE', request.url ?? '/');
    const upstream = netConnect(Number(target.port), target.hostname);
    const lines = [`${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/1.1`];
    for (let index = 0; index + 1 < request.rawHeaders.length; index += 2) {
      lines.push(`${request.rawHeaders[index]}: ${request.rawHeaders[index + 1]}`);
    }
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    log,
    async close() {
      for (const socket of upgraded) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}
