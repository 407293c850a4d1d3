import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { BrowserResponse } from './interactive.js';

/** An answer read off the wire by {@link rawHttpsRequest}. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** `Content-Type`, or '' when absent. */
  readonly contentType: string;
  /** The body, decoded as UTF-8. */
  readonly body: string;
  /** `Location`, as sent. */
  readonly location: string | undefined;
}

/**
 * One HTTPS request exactly as given (`node:https`, no URL normalisation, no retries): to 127.0.0.1 with SNI
 * `localhost` unless `options` say otherwise, sending `body` when given. For what `fetch` cannot send: a raw
 * path, no `Host`, a chosen source address.
 */
export function rawHttpsRequest(options: RequestOptions, body?: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', servername: 'localhost', ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          contentType: res.headers['content-type'] ?? '',
          body: Buffer.concat(chunks).toString('utf8'),
          location: res.headers.location,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A `fetch` that never follows redirects, read as a {@link BrowserResponse} (with no cookies kept). */
export async function fetchManual(url: string, init: RequestInit = {}): Promise<BrowserResponse> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const location = response.headers.get('location') ?? undefined;
  return { status: response.status, headers: response.headers, body: await response.text(), location };
}

/** POSTs `fields` as `application/x-www-form-urlencoded` (RFC 6749 §4.1.3, §4.4.2), with `headers` added. */
export function postForm(
  url: string,
  fields: Readonly<Record<string, string>>,
  headers: Readonly<Record<string, string>> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields),
  });
}

/** The parts of a JSON error response (RFC 6749 §5.2) a test compares. */
export interface ErrorResponseParts {
  readonly status: number;
  readonly error: unknown;
  readonly codes: unknown;
  /** The first line of `error_description` (the code-prefixed text, without the trace lines). */
  readonly text: string | undefined;
  /** Microsoft's `suberror` (e.g. `consent_required`): only when asked for. */
  readonly suberror?: unknown;
}

/**
 * Reads a JSON error response: status, `error`, `error_codes`, the first line of `error_description`, and
 * `suberror` too when `withSuberror`.
 */
export async function readErrorResponse(
  response: Response,
  options: { readonly withSuberror?: boolean } = {},
): Promise<ErrorResponseParts> {
  const body = (await response.json()) as Record<string, unknown>;
  const description = body.error_description;
  return {
    status: response.status,
    error: body.error,
    codes: body.error_codes,
    text: typeof description === 'string' ? description.split('\r\n')[0] : undefined,
    ...(options.withSuberror === true ? { suberror: body.suberror } : {}),
  };
}

/**
 * The {@link readErrorResponse} parts expected of an error: `status`, `error`, `code` and its description as the
 * server writes it (`TSS{code}: {description}`, the default `errorCodePrefix`).
 */
export function expectedErrorResponse(
  status: number,
  error: string,
  code: number,
  description: string,
): ErrorResponseParts {
  return { status, error, codes: [code], text: `TSS${code}: ${description}` };
}

/** The character references the server's pages write for text (HTML Living Standard §13.1.4). */
const HTML_REFERENCES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text as the server's HTML pages do (`&`, `<`, `>`, `"`, `'`), to find a message in a page. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_REFERENCES[c] ?? c);
}
