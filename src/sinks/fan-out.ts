/**
 * One pipeline, several sinks (an NDJSON file and a check, the terminal's text and a ClickHouse
 * export): every record goes to every sink once. The raw-message and execution hooks are kept:
 * a sink that writes a message from its bytes (the NDJSON fast path) or needs only a few
 * messages (an exporter's StartupMessage) answers for itself, and only the sinks that did not
 * take a message get its record, so no record is built when all of them took it and none is
 * delivered twice.
 */
import type { DecodedMessage, DissectContext, RawMessage } from '../../dissectors/types.js';
import type { Execution } from '../session/execution.js';
import type { TransactionStatus } from '../session/schema.js';
import type { FrameInfo, MessageRecord, OutRecord, PipelineSink } from '../pipeline/events.js';

export class FanOut implements PipelineSink {
  /** The sinks that must still get the record the pipeline is about to build (all when null). */
  private pending: PipelineSink[] | null = null;
  readonly frame?: (f: FrameInfo) => void;
  readonly packetSize?: (timeUs: number, length: number, srcPort: number, dstPort: number) => void;

  constructor(private readonly sinks: readonly PipelineSink[]) {
    const framed = sinks.filter((s) => s.frame !== undefined);
    if (framed.length > 0) this.frame = (f) => { for (const s of framed) s.frame!(f); };
    // offered only when a sink counts packets: the pipeline then skips the call
    const sized = sinks.filter((s) => s.packetSize !== undefined);
    if (sized.length > 0) this.packetSize = (t, l, sp, dp) => { for (const s of sized) s.packetSize!(t, l, sp, dp); };
  }

  rawMessage(session: number, raw: RawMessage, decode: () => DecodedMessage, ctx: DissectContext, tls: boolean): boolean {
    const rest = this.sinks.filter((s) => s.rawMessage === undefined || !s.rawMessage(session, raw, decode, ctx, tls));
    if (rest.length === 0) return true;
    this.pending = rest.length === this.sinks.length ? null : rest;
    return false;
  }

  queryExecution(exec: Execution, session: number, status: TransactionStatus | null): boolean {
    const rest = this.sinks.filter((s) => s.queryExecution === undefined || !s.queryExecution(exec, session, status));
    if (rest.length === 0) return true;
    this.pending = rest.length === this.sinks.length ? null : rest;
    return false;
  }

  message(rec: MessageRecord, raw: RawMessage, decoded: DecodedMessage): void {
    for (const s of this.pending ?? this.sinks) s.message?.(rec, raw, decoded);
  }

  record(rec: OutRecord): void {
    const to = this.pending ?? this.sinks;
    // The record that follows a declined raw message or execution is the last one they concern.
    if (rec.kind === 'message' || rec.kind === 'query') this.pending = null;
    for (const s of to) s.record(rec);
  }

  idle(): void {
    for (const s of this.sinks) s.idle?.();
  }

  ready(): Promise<void> | null {
    const behind = this.sinks.map((s) => s.ready?.() ?? null).filter((p): p is Promise<void> => p !== null);
    return behind.length === 0 ? null : Promise.all(behind).then(() => undefined);
  }

  async end(): Promise<void> {
    for (const s of this.sinks) await s.end?.();
  }
}
