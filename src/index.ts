/**
 * pgsniff as a library, for use inside a test suite:
 *
 *   import { read, capture } from 'pgsniff';
 *   for await (const rec of read('dump.pcap', { messages: false })) {
 *     if (rec.kind === 'query' && rec.error) console.log(rec.sql, rec.error.sqlstate);
 *   }
 *
 * Both give async iterables of the same typed records the NDJSON export has. The file is read
 * only as fast as the records are consumed (the queue between them is bounded), and breaking out
 * of the loop stops the read or the capture.
 */
import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { UserError } from './core/errors.js';
import { analyzeFile, type AnalyzeOptions } from './pipeline/analyze.js';
import type { LiveOptions } from './pipeline/live.js';
import type { AnomalyRecord, MessageRecord, OutRecord, PipelineSink } from './pipeline/events.js';
import type { QueryRecord, SessionRecord } from './session/schema.js';

export type { AnalyzeOptions, AnalyzeSummary } from './pipeline/analyze.js';
export type { MessageRecord, AnomalyRecord, FrameInfo, PipelineSink, SinkNeeds, OutRecord } from './pipeline/events.js';
export type { QueryRecord, SessionRecord } from './session/schema.js';
export type { DecodedMessage, RawMessage, TypedValue, PgValue, ColumnDescription, ErrorFields } from '../dissectors/types.js';
export { queryRecordSchema, sessionRecordSchema } from './session/schema.js';
export { recordSchema, messageRecordSchema, anomalyRecordSchema, validateRecord, recordJsonSchema } from './pipeline/schema.js';
export { compileFilter, type Predicate } from './filter/index.js';
export { analyzeFile, PacketPipeline } from './pipeline/analyze.js';
export { UserError, isUserError } from './core/errors.js';

/** A record as exported: a decoded message, an executed query, a session, or an anomaly. */
export type PgsniffRecord =
  | MessageRecord
  | (QueryRecord & { kind: 'query' })
  | (SessionRecord & { kind: 'session' })
  | AnomalyRecord;

export interface ReadOptions extends Omit<AnalyzeOptions, 'signal'> {
  /** A display filter (the -Y language) applied to the records. */
  filter?: string;
}

export type CaptureOptions = Omit<LiveOptions, 'signal'> & { filter?: string };

const HIGH_WATER = 4096;

/** A bounded queue between a push-based producer and an async-iterating consumer. */
class RecordQueue implements PipelineSink {
  private items: OutRecord[] = [];
  private head = 0;
  private wake: (() => void) | null = null;
  private lowWaiters: Array<() => void> = [];
  done = false;
  error: unknown = null;
  constructor(private readonly keep: (r: OutRecord) => boolean) {}

  record(r: OutRecord): void {
    if (!this.keep(r)) return;
    this.items.push(r);
    this.signal();
  }

  /** Resolves once the consumer has caught up (the producer awaits it between chunks). */
  async low(): Promise<void> {
    while (this.items.length - this.head >= HIGH_WATER && !this.done) {
      await new Promise<void>((resolve) => this.lowWaiters.push(resolve));
    }
  }

  private onLow(): void {
    const ws = this.lowWaiters;
    this.lowWaiters = [];
    for (const w of ws) w();
  }

  finish(error: unknown = null): void {
    this.done = true;
    this.error = error;
    this.signal();
    this.onLow();
  }

  private signal(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async *drain(): AsyncGenerator<OutRecord> {
    for (;;) {
      while (this.head < this.items.length) {
        const r = this.items[this.head++];
        if (this.head === this.items.length) {
          this.items = [];
          this.head = 0;
          this.onLow();
        }
        yield r;
      }
      if (this.done) {
        if (this.error) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
  }
}

async function keepFor(filter: string | undefined): Promise<(r: OutRecord) => boolean> {
  if (!filter) return () => true;
  const { compileFilter } = await import('./filter/index.js');
  return compileFilter(filter);
}

/** Reads a pcap or pcapng file and yields its records in capture order. */
export async function* read(path: string, opts: ReadOptions = {}): AsyncGenerator<PgsniffRecord> {
  try {
    if (!statSync(path).isFile()) throw new UserError('BAD_INPUT', `${path} is not a file`);
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'EACCES' ? 'EACCES' : 'ENOENT', code === 'EACCES' ? `no permission to read ${path}` : `no such file: ${path}`);
  }
  const file = createReadStream(path, { highWaterMark: 256 * 1024 });
  const ac = new AbortController();
  const queue = new RecordQueue(await keepFor(opts.filter));
  // The file is read only as fast as records are consumed: each chunk waits for the queue to drain.
  async function* chunks(): AsyncGenerator<Buffer> {
    for await (const chunk of file) {
      await queue.low();
      if (ac.signal.aborted) return;
      yield chunk as Buffer;
    }
  }
  const stream = Readable.from(chunks(), { objectMode: false });
  const running = analyzeFile(stream, queue, { ...opts, sourceName: path, signal: ac.signal }).then(
    () => queue.finish(),
    (e: unknown) => queue.finish(e),
  );
  try {
    yield* queue.drain() as AsyncGenerator<PgsniffRecord>;
  } finally {
    ac.abort();
    queue.finish();
    file.destroy();
    await running;
  }
}

/** Captures live (root or CAP_NET_RAW) and yields records as they are decoded, until the loop breaks. */
export async function* capture(opts: CaptureOptions): AsyncGenerator<PgsniffRecord> {
  const { analyzeLive } = await import('./pipeline/live.js');
  const queue = new RecordQueue(await keepFor(opts.filter));
  const ac = new AbortController();
  const live = analyzeLive(queue, { ...opts, signal: ac.signal });
  const running = live.done.then(() => queue.finish(), (e: unknown) => queue.finish(e));
  try {
    yield* queue.drain() as AsyncGenerator<PgsniffRecord>;
  } finally {
    ac.abort();
    await running;
  }
}
