#!/usr/bin/env node
import { buildCli } from './program.js';

await buildCli({
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  json: process.argv.includes('--json'),
}).parseAsync(process.argv);
