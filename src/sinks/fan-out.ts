/**
 * One pipeline, several sinks (an NDJSON file and a check, the terminal's text and a ClickHouse
 * export): every record goes to every sink that takes it, once. The fan-out declares the union
 * of its sinks' needs (SinkNeeds) and routes by them: raw messages and executions to the sinks
 * that take those, message and query records only to the sinks that take records, so no record
 * is built when no sink takes it and none is delivered twice. (A summary tracker hands out no
 * executions: its query records then go to every sink that takes queries in any way.)
 */
import type { DecodedMessage, DissectContext, RawMessage } from '../../dissectors/types.js';
import type { Execution } from '../session/execution.js';
import type { TransactionStatus } from '../session/schema.js';
import {
  sinkNeeds, takesDirect, takesRecords, type FrameInfo, type MessageRecord, type OutRecord, type PipelineSink, type SinkNeeds,
} from '../pipeline/events.js';

/** The one way that covers the ways some sinks take (records, the direct one, both or neither). */
function union<D extends 'raw' | 'executions'>(direct: D, ways: ReadonlyArray<string>): 'records' | D | 'both' | 'none' {
  const records = ways.some((w) => takesRecords(w as 'records'));
  const other = ways.some((w) => takesDirect(w as 'records'));
  return records && other ? 'both' : records ? 'records' : other ? direct : 'none';
}

export class FanOut implements PipelineSink {
  readonly needs: SinkNeeds;
  private readonly framed: PipelineSink[];
  private readonly sized: PipelineSink[];
  private readonly rawTakers: PipelineSink[];
  private readonly messageTakers: PipelineSink[];
  private readonly executionTakers: PipelineSink[];
  private readonly queryTakers: PipelineSink[];
  /** Every sink that takes query records in some way: summary trackers hand out no executions, only records. */
  private readonly anyQueryTakers: PipelineSink[];
  /** The executions' sinks have the query record about to be built (the tracker builds it right after). */
  private executionTaken = false;

  constructor(private readonly sinks: readonly PipelineSink[]) {
    const needs = sinks.map((s) => ({ sink: s, needs: sinkNeeds(s) }));
    const pick = (f: (n: Required<SinkNeeds>) => boolean): PipelineSink[] => needs.filter((x) => f(x.needs)).map((x) => x.sink);
    this.framed = pick((n) => n.frames);
    this.sized = pick((n) => n.packetSizes);
    this.rawTakers = pick((n) => takesDirect(n.messages));
    this.messageTakers = pick((n) => takesRecords(n.messages));
    this.executionTakers = pick((n) => takesDirect(n.queries));
    this.queryTakers = pick((n) => takesRecords(n.queries));
    this.anyQueryTakers = pick((n) => n.queries !== 'none');
    this.needs = {
      frames: this.framed.length > 0,
      packetSizes: this.sized.length > 0,
      messages: union('raw', needs.map((x) => x.needs.messages)),
      queries: union('executions', needs.map((x) => x.needs.queries)),
    };
  }

  frame(f: FrameInfo): void {
    for (const s of this.framed) s.frame!(f);
  }

  packetSize(timeUs: number, length: number, srcPort: number, dstPort: number): void {
    for (const s of this.sized) s.packetSize!(timeUs, length, srcPort, dstPort);
  }

  rawMessage(session: number, raw: RawMessage, decode: () => DecodedMessage, ctx: DissectContext, tls: boolean): void {
    for (const s of this.rawTakers) s.rawMessage!(session, raw, decode, ctx, tls);
  }

  queryExecution(exec: Execution, session: number, status: TransactionStatus | null): void {
    for (const s of this.executionTakers) s.queryExecution!(exec, session, status);
    // A record follows only when some sink takes records (SinkNeeds 'both'); it is theirs alone.
    this.executionTaken = this.queryTakers.length > 0;
  }

  message(rec: MessageRecord, raw: RawMessage, decoded: DecodedMessage): void {
    for (const s of this.messageTakers) s.message?.(rec, raw, decoded);
  }

  record(rec: OutRecord): void {
    let to = this.sinks;
    if (rec.kind === 'message') to = this.messageTakers;
    else if (rec.kind === 'query') {
      to = this.executionTaken ? this.queryTakers : this.anyQueryTakers;
      this.executionTaken = false;
    }
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
