import WebSocket from 'ws';

export const RS = '\u001e';

/** Negotiates with raw HTTP; returns status and body. */
export async function negotiate(
  url: string,
  init: { token?: string; origin?: string; query?: string } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${url}/negotiate?${init.query ?? 'negotiateVersion=1'}`, {
    method: 'POST',
    headers: {
      ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
      ...(init.origin === undefined ? {} : { origin: init.origin }),
    },
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, body, headers: response.headers };
}

/** Opens a raw WebSocket; resolves with it once open, or with the HTTP status of a refused upgrade. */
export function openSocket(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ socket?: WebSocket; status?: number; body?: string; received: Received }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), { headers });
    // Listen before 'open': the server may send right after the 101, in the same packet.
    const received = records(socket);
    socket.on('open', () => {
      resolve({ socket, received });
    });
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body, received });
      });
    });
    socket.on('error', () => undefined);
  });
}

/** Text records received on a raw socket, and its close. */
export interface Received {
  readonly messages: Record<string, unknown>[];
  readonly closed: Promise<number>;
}

/** Collects text records received on a raw socket. */
function records(socket: WebSocket): Received {
  const messages: Record<string, unknown>[] = [];
  socket.on('message', (data: Buffer) => {
    for (const part of data.toString().split(RS))
      if (part !== '') messages.push(JSON.parse(part) as Record<string, unknown>);
  });
  const closed = new Promise<number>((resolve) =>
    socket.on('close', (code) => {
      resolve(code);
    }),
  );
  return { messages, closed };
}
