export * from './services.js';
export * from './test-server.js';
export * from './scenario.js';
export * from './certificates.js';
export * from './interactive.js';
export * from './browser.js';
