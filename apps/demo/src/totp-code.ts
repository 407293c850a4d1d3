/**
 * Prints the current TOTP code (RFC 6238) of the demo user who has an authenticator, so the step-up can be done
 * without an authenticator app: `node apps/demo/dist/totp-code.js [userPrincipalName]` (the data directory from
 * `TESSERA_DATA_DIR`, default `./data`). Development only: it reads the secret from `demo/scenario.json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadConfig, totpCode } from '@tessera/server';
import { scenarioFile, type DemoScenario } from './seed/scenario.js';

/** TOTP time step, in seconds (RFC 6238 §4.1 default, what the identity server uses). */
const PERIOD_SECONDS = 30;

const file = scenarioFile(loadConfig().dataDir);
if (!existsSync(file)) {
  process.stderr.write(`No demo in this data directory (${file} is missing): run npm start first.\n`);
  process.exit(1);
}
const scenario = JSON.parse(readFileSync(file, 'utf8')) as DemoScenario;
const wanted = process.argv[2];
const totp = scenario.totp;
if (totp === undefined || (wanted !== undefined && wanted.toLowerCase() !== totp.userPrincipalName)) {
  process.stderr.write(`${wanted ?? 'No demo user'} has no authenticator registered by the demo.\n`);
  process.exit(1);
}
const nowSeconds = Math.floor(Date.now() / 1000);
const code = await totpCode(totp.secret, nowSeconds);
process.stdout.write(
  `${code}  (${totp.userPrincipalName}; valid ${PERIOD_SECONDS - (nowSeconds % PERIOD_SECONDS)} s more)\n`,
);
