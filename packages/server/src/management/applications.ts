import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import type { Caller } from './authentication.js';

/** The resource paths under `/v1.0` this module answers (another method on them answers 405). */
export const APPLICATIONS_PATHS: readonly RegExp[] = [];

/** Registers the routes of applications, applications(appId='…'), their credential actions and owners . Not built yet. */
export function registerApplicationRoutes(
  _scope: FastifyInstance,
  _context: ServerContext,
  _authenticate: (request: FastifyRequest) => Promise<Caller>,
): void {}
