import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import type { Caller } from './authentication.js';

/** The resource paths under `/v1.0` this module answers (another method on them answers 405). */
export const CONDITIONAL_ACCESS_POLICIES_PATHS: readonly RegExp[] = [];

/**
 * `/v1.0/identity/conditionalAccess/policies` (Graph `conditionalAccessPolicy`). Not yet answered (issue 11
 * item 4).
 *
 * @see https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy
 */
export function registerConditionalAccessPolicyRoutes(
  _scope: FastifyInstance,
  _context: ServerContext,
  _authenticate: (request: FastifyRequest) => Promise<Caller>,
): void {}
