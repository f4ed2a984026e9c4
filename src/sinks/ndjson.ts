/**
 * NDJSON export: one record a line. Lines are batched into ~64 KiB writes; on Linux,
 * process.stdout writes to files, pipes and terminals are synchronous, so a slow reader
 * (`| jq`) holds the pipeline back instead of letting memory grow.
 */
import { writeAllSync } from './write-fd.js';
import type { OutRecord, PipelineSink } from '../pipeline/events.js';

export type RecordFilter = (rec: OutRecord) => boolean;

export interface NdjsonOptions {
  /** Which record kinds to write (default: all). */
  kinds?: ReadonlySet<OutRecord['kind']>;
  filter?: RecordFilter;
}

const BATCH = 64 * 1024;

export class NdjsonSink implements PipelineSink {
  /** Lines are encoded straight into this batch: no string concatenation, no Buffer per flush. */
  private readonly batch = Buffer.allocUnsafe(BATCH);
  private fill = 0;
  count = 0;

  /** `fd`: a file descriptor opened for writing (1 for stdout). */
  constructor(private readonly fd: number, private readonly opts: NdjsonOptions = {}) {}

  record(rec: OutRecord): void {
    if (this.opts.kinds && !this.opts.kinds.has(rec.kind)) return;
    if (this.opts.filter && !this.opts.filter(rec)) return;
    this.count++;
    const line = JSON.stringify(rec);
    // Three UTF-8 bytes per UTF-16 unit bound any line's length without measuring it first.
    if (line.length * 3 + 1 > BATCH - this.fill) {
      this.flush();
      if (line.length * 3 + 1 > BATCH) {
        writeAllSync(this.fd, Buffer.from(line + '\n', 'utf8'));
        return;
      }
    }
    this.fill += this.batch.write(line, this.fill, 'utf8');
    this.batch[this.fill++] = 0x0a;
  }

  flush(): void {
    if (this.fill === 0) return;
    const n = this.fill;
    this.fill = 0;
    writeAllSync(this.fd, this.batch.subarray(0, n));
  }

  end(): void {
    this.flush();
  }
}
