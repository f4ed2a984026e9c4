/**
 * The dissectors' public API: one decoded, typed object per PostgreSQL protocol message
 * (protocol 3.0 and 3.2), its one-line summary, its field tree, and the zod schemas.
 */
export { dissect, messageName } from './dissect.js';
export { lookup, ALL_ENTRIES } from './registry.js';
export { summarize, shortCode, SHORT_CODES } from './summary.js';
export { fieldTree, type FieldNode } from './tree.js';
export { decodedMessageSchema, messageSchemas, decodedMessageJsonSchema } from './schema.js';
export {
  F, allFields, AUTH_TYPES, TRANSACTION_STATUS, FORMAT_CODES, TARGETS, ERROR_FIELDS, REQUEST_CODES,
  FRONTEND_MESSAGES, BACKEND_MESSAGES, REDACTED, type FieldDef, type ValueTable,
} from './fields.js';
export { splitTag } from './ranges.js';
export { RAW_HEX_CAP } from './hex.js';
export { rawMessage, type RawMessageFields } from './raw-message.js';
export type * from './types.js';
