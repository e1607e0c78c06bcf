export * from './app-error';
export * from './error-code';
export * from './error-envelope';
