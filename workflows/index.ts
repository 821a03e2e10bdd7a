// Entry point for the worker's workflow bundle: every workflow type the worker runs.
export { syncWorkflow } from './sync';
export { batchWorkflow } from './batch';
