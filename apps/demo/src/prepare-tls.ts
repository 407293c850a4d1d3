/**
 * Creates (or renews) the development CA and `localhost` certificate of a data directory, then exits: run by
 * `main.ts` before the demo starts, because the demo's process must trust the CA from its first instruction.
 */
import { loadConfig } from '@tessera/server';
import { demoTls } from './trust.js';

await demoTls(loadConfig());
