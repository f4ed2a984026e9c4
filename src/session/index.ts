/**
 * The session layer's public surface: the tracker the pipeline runs per connection, the
 * registry its trackers share, and the record schemas and types users build on.
 */
export { SessionTracker, MAX_AWAITING, MAX_STATEMENTS_PER_QUERY, type TrackerOptions, type SessionEmit, type TlsSummary } from './tracker.js';
export { SessionRegistry, type CancelLink, type CancelSource, type CancelTarget } from './registry.js';
export {
  queryRecordSchema, sessionRecordSchema, sessionLayerRecordSchema, typedValueSchema, errorFieldsSchema, columnSchema,
  type QueryRecord, type SessionRecord, type AuthMethod, type TransactionStatus,
} from './schema.js';
export { splitSql, type SqlPiece } from './sql-split.js';
