import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { bearerErrorResponse, type BearerTokenError } from '@tessera/resource';
import { hubRefusals, refusalText, type TextRefusalName } from './refusals.js';

/** Where an answer goes: a response, or the raw socket of an upgrade that is refused. */
export type AnswerTarget = ServerResponse | Duplex;

/** Extra response headers (CORS, `WWW-Authenticate`, …). */
export type ResponseHeaders = Readonly<Record<string, string>>;

/**
 * Answers a request: an empty body with `content-length: 0` and no content type, or a text body labelled
 * `text/plain` (the hub sends no other kind of body this way). Does nothing once headers are sent.
 */
export function respond(
  response: ServerResponse,
  status: number,
  body: string,
  headers: ResponseHeaders = {},
): void {
  if (response.headersSent) return;
  response
    .writeHead(status, {
      ...headers,
      ...(body === ''
        ? { 'content-length': '0' }
        : { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) }),
    })
    .end(body);
}

/** Answers with a JSON body (`application/json`). */
export function respondJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: ResponseHeaders,
): void {
  response.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Reason phrases of the statuses an upgrade can be refused with (RFC 9110 §15). */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Answers on a response, or writes a whole HTTP/1.1 response on the raw socket of a refused upgrade. */
export function reply(target: AnswerTarget, status: number, body: string, headers: ResponseHeaders): void {
  if ('writeHead' in target) {
    respond(target, status, body, headers);
    return;
  }
  const lines = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`];
  const all = {
    ...headers,
    ...(body === '' ? {} : { 'content-type': 'text/plain; charset=utf-8' }),
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
  };
  for (const [name, value] of Object.entries(all)) lines.push(`${name}: ${value}`);
  target.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/** The refusal each refused request or upgrade was answered with, for the hub's metrics. */
const refusals = new WeakMap<AnswerTarget, string>();

/** The name of the refusal `target` was answered with, if any. */
export function refusalOf(target: AnswerTarget): string | undefined {
  return refusals.get(target);
}

/** Records that `target` was answered with the refusal `name` (the catalogue's name). */
export function recordRefusal(target: AnswerTarget, name: string): void {
  refusals.set(target, name);
}

/** Answers one of the text refusals of the catalogue (`docs/hub-protocol.md` "HTTP refusals"). */
export function refuse(target: AnswerTarget, name: TextRefusalName, headers: ResponseHeaders): void {
  refusals.set(target, name);
  reply(target, hubRefusals[name].status, refusalText(name, {}), headers);
}

/**
 * Answers an authentication refusal (`authenticationFailed`): the status and `WWW-Authenticate` challenge of the
 * error, which carries `error` and `error_description`, and an empty body.
 *
 * @see RFC 6750 §3
 */
export function challenge(target: AnswerTarget, error: BearerTokenError, headers: ResponseHeaders): void {
  const answer = bearerErrorResponse(error);
  refusals.set(target, 'authenticationFailed');
  reply(target, answer.status, refusalText('authenticationFailed', {}), { ...headers, ...answer.headers });
}

/** Reads and drops a request body the hub does not use, so the connection can serve the next request. */
export function drain(request: IncomingMessage): void {
  request.resume();
}

/**
 * Reads a request body of at most `maxBytes`; `undefined` as soon as it is larger (the rest is read and dropped,
 * never kept).
 */
export function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      if (size > maxBytes) return;
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      chunks = [];
      resolve(undefined);
    });
    request.on('end', () => {
      if (size <= maxBytes) resolve(Buffer.concat(chunks));
    });
    request.on('error', reject);
  });
}
