// Every workflow the worker registers. The bundler starts here: keep it free of Node imports.
export { backfillWorkflow } from './backfill';
export { chunkWorkflow } from './chunk';
export { backfillLeaseWorkflow } from './lease';
export * from './api';
