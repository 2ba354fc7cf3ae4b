// The configuration layer: the one schema of every flag (flags.ts), reading flags from argv
// (parse.ts) and checking whole configs (check.ts). Training, sweeps, the dashboard, checkpoint
// metadata and the CLI all read it; it sits below them and imports nothing from them.
export * from '../util/schema.js';
export * from './flags.js';
export * from './parse.js';
export * from './check.js';
