export * from './errors/catalogue.js';
export * from './errors/identity-error.js';
export * from './errors/error-body.js';
export * from './scope.js';
export * from './wire.js';
export * from './errors/catalogue-markdown.js';
export * from './dpop.js';
