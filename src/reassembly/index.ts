export type * from './types.js';
export { FlowTable } from './flow-table.js';
export { StreamDelivery } from './half-stream.js';
export { DEFAULT_FLOW_TABLE_OPTIONS } from './limits.js';
export { seqAdd, seqDiff } from './seq.js';
