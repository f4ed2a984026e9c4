/**
 * NDJSON export: one record a line. Lines are batched into ~64 KiB writes; on Linux,
 * process.stdout writes to files, pipes and terminals are synchronous, so a slow reader
 * (`| jq`) holds the pipeline back instead of letting memory grow.
 *
 * Message records, most of the output, are written straight from the wire bytes by
 * json/message-writer.ts, and query records from their executions by json/query-writer.ts,
 * when no display filter needs the record object; the rest are written member by member
 * (JsonWriter.object), or through JSON.stringify under a display filter.
 */
import { writeAllSync } from './write-fd.js';
import { JsonWriter } from './json/writer.js';
import { MessageWriter } from './json/message-writer.js';
import { writeExecution } from './json/query-writer.js';
import type { OutRecord, PipelineSink, SinkNeeds } from '../pipeline/events.js';
import type { Execution } from '../session/execution.js';
import type { TransactionStatus } from '../session/schema.js';
import type { DecodedMessage, DissectContext, RawMessage } from '../../dissectors/types.js';

type RecordFilter = (rec: OutRecord) => boolean;

interface NdjsonOptions {
  /** Which record kinds to write (default: all). */
  kinds?: ReadonlySet<OutRecord['kind']>;
  filter?: RecordFilter;
}

const BATCH = 64 * 1024;

export class NdjsonSink implements PipelineSink {
  /** Lines are encoded straight into this batch: no string concatenation, no Buffer per flush. */
  private readonly out = new JsonWriter(BATCH + 16 * 1024);
  private readonly messages = new MessageWriter(this.out);
  /**
   * Messages and query records are written from the wire message and the execution, without
   * their record objects; with a display filter, from the records (the filter reads them).
   */
  readonly needs: SinkNeeds;
  count = 0;

  /** `fd`: a file descriptor opened for writing (1 for stdout). */
  constructor(private readonly fd: number, private readonly opts: NdjsonOptions = {}) {
    const wantMessages = !opts.kinds || opts.kinds.has('message');
    const wantQueries = !opts.kinds || opts.kinds.has('query');
    this.needs = {
      messages: !wantMessages ? 'none' : opts.filter ? 'records' : 'raw',
      queries: !wantQueries ? 'none' : opts.filter ? 'records' : 'executions',
    };
  }

  rawMessage(session: number, raw: RawMessage, decode: () => DecodedMessage, ctx: DissectContext, tls: boolean): void {
    this.messages.write(session, raw, decode, ctx, tls);
    this.count++;
    if (this.out.pos >= BATCH) this.flush();
  }

  queryExecution(exec: Execution, session: number, status: TransactionStatus | null): void {
    writeExecution(this.out, exec, session, status);
    this.count++;
    if (this.out.pos >= BATCH) this.flush();
  }

  record(rec: OutRecord): void {
    if (this.opts.kinds && !this.opts.kinds.has(rec.kind)) return;
    if (this.opts.filter && !this.opts.filter(rec)) return;
    this.count++;
    // Written field by field: JSON.stringify would make a string per record. With a display
    // filter JSON.stringify stays: the reference the tests hold the writers to.
    if (this.opts.filter) this.out.utf8(JSON.stringify(rec));
    else this.out.object(rec as unknown as Record<string, unknown>);
    this.out.byte(0x0a);
    if (this.out.pos >= BATCH) this.flush();
  }

  flush(): void {
    const out = this.out;
    if (out.pos === 0) return;
    const n = out.pos;
    writeAllSync(this.fd, out.buf.subarray(0, n));
    out.reset();
  }

  /** Live capture caught up: the batch goes out now (a reader piping into jq sees records as they come). */
  idle(): void {
    this.flush();
  }

  end(): void {
    this.flush();
  }
}
