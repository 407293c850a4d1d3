import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import type { Caller } from './authentication.js';

/** The resource paths under `/v1.0` this module answers (another method on them answers 405). */
export const AUTHENTICATION_METHODS_PATHS: readonly RegExp[] = [];

/**
 * `/v1.0/me/authentication/…` and `/v1.0/users/{id}/authentication/…` (Graph `authenticationMethod`). Not yet
 * answered (issue 11 item 4).
 *
 * @see https://learn.microsoft.com/graph/api/resources/authenticationmethods-overview
 */
export function registerAuthenticationMethodRoutes(
  _scope: FastifyInstance,
  _context: ServerContext,
  _authenticate: (request: FastifyRequest) => Promise<Caller>,
): void {}
