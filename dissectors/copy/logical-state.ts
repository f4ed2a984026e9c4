/**
 * What a logical replication connection must remember between messages (pgoutput): the
 * Relation messages (a row change names its table only by relation ID), and whether a streamed
 * transaction is open (between Stream Start and Stream Stop, data messages carry an xid).
 *
 * DissectContext gains an optional `logicalReplication` field (declared here, backwards
 * compatible): src/pg may create one per connection to own and reset it; when it does not,
 * the state lives in a WeakMap keyed by the connection's context object.
 */
import type { DissectContext } from '../types.js';

export interface LogicalColumn {
  name: string;
  typeOid: number;
  typeModifier: number;
  /** Part of the replica identity key (flag 1). */
  key: boolean;
}

export interface LogicalRelation {
  relationId: number;
  namespace: string;
  name: string;
  /** relreplident: 'd' default, 'n' nothing, 'f' full, 'i' index. */
  replicaIdentity: string;
  columns: LogicalColumn[];
}

export interface LogicalReplicationState {
  relations: Map<number, LogicalRelation>;
  /** xid of the streamed transaction between Stream Start and Stream Stop, else null. */
  streamXid: number | null;
}

declare module '../types.js' {
  interface DissectContext {
    /** Logical replication memory of this connection (see dissectors/copy/logical-state.ts). */
    logicalReplication?: LogicalReplicationState;
  }
}

/** Relations remembered per connection: a hostile stream of Relation messages cannot grow memory past this. */
export const MAX_RELATIONS = 10_000;

const fallback = new WeakMap<DissectContext, LogicalReplicationState>();

export function newLogicalState(): LogicalReplicationState {
  return { relations: new Map(), streamXid: null };
}

export function logicalStateOf(ctx: DissectContext): LogicalReplicationState {
  if (ctx.logicalReplication) return ctx.logicalReplication;
  let s = fallback.get(ctx);
  if (!s) {
    s = newLogicalState();
    fallback.set(ctx, s);
  }
  return s;
}

export function rememberRelation(state: LogicalReplicationState, rel: LogicalRelation): void {
  const m = state.relations;
  m.delete(rel.relationId);
  if (m.size >= MAX_RELATIONS) {
    // Forget the relation seen longest ago (Map keeps insertion order).
    const oldest = m.keys().next();
    if (!oldest.done) m.delete(oldest.value);
  }
  m.set(rel.relationId, rel);
}
