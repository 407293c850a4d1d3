import { configurationMarkdown } from './config.js';

process.stdout.write(configurationMarkdown());
