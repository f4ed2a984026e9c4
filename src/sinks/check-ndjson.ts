/**
 * `pgsniff check` and `stats` on an NDJSON export (what `read --json` or `record --json-out`
 * wrote): the query and session records are validated against their schemas and fed to a sink,
 * and so are anomaly records (what the capture lost decides what a verdict may claim); message
 * records are counted and passed over. The file is read a line at a time, so its size does not
 * matter. A line that is not JSON, or a record that does not match its schema, is a UserError
 * naming the line: the verdict of a check must not rest on input it misread.
 */
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { UserError } from '../core/errors.js';
import type { PipelineSink, OutRecord } from '../pipeline/events.js';

/** PCAP (both byte orders, µs and ns) and pcapng magic numbers. */
const CAPTURE_MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a]);

/** The first bytes of a file, to tell a capture from an NDJSON export. */
export function fileHead(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'EACCES' ? 'EACCES' : 'ENOENT', `cannot open ${path}: ${code ?? (e as Error).message}`);
  }
  try {
    const b = Buffer.alloc(64);
    const n = readSync(fd, b, 0, b.length, 0);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Decide from the first bytes whether a file is a capture or NDJSON. */
export function looksLikeNdjson(head: Buffer): boolean {
  if (head.length >= 4 && (CAPTURE_MAGICS.has(head.readUInt32BE(0)) || CAPTURE_MAGICS.has(head.readUInt32LE(0)))) return false;
  for (const b of head) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return b === 0x7b; // '{'
  }
  return false;
}

interface NdjsonReadSummary {
  lines: number;
  queries: number;
  sessions: number;
  anomalies: number;
  messages: number;
}

/**
 * `others`: also pass message, anomaly and capture records on (as they are, for a sink that only counts
 * them: the report's bytes per direction and anomaly table).
 */
export async function readNdjsonRecords(path: string, sink: PipelineSink, opts: { others?: boolean } = {}): Promise<NdjsonReadSummary> {
  // The schemas (zod) are loaded only for an export: on a capture, stats and check never need them.
  const [{ anomalyRecordSchema }, { queryRecordSchema, sessionRecordSchema }] = await Promise.all([
    import('../pipeline/schema.js'), import('../session/schema.js'),
  ]);
  const input = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  const sum: NdjsonReadSummary = { lines: 0, queries: 0, sessions: 0, anomalies: 0, messages: 0 };
  try {
    for await (const line of lines) {
      sum.lines++;
      if (line.trim() === '') continue;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch {
        throw new UserError('BAD_INPUT', `${path}:${sum.lines}: not a JSON record`);
      }
      const kind = typeof obj === 'object' && obj !== null ? (obj as { kind?: unknown }).kind : undefined;
      if (kind === 'query' || kind === 'session') {
        const schema = kind === 'query' ? queryRecordSchema : sessionRecordSchema;
        const r = schema.safeParse(obj);
        if (!r.success) {
          const issue = r.error.issues[0]!;
          throw new UserError('BAD_INPUT', `${path}:${sum.lines}: not a valid ${kind} record (${issue.path.join('.') || 'record'}: ${issue.message})`);
        }
        if (kind === 'query') sum.queries++;
        else sum.sessions++;
        sink.record(r.data as unknown as OutRecord);
      } else if (kind === 'anomaly') {
        const r = anomalyRecordSchema.safeParse(obj);
        if (!r.success) throw new UserError('BAD_INPUT', `${path}:${sum.lines}: not a valid anomaly record (${r.error.issues[0]!.path.join('.') || 'record'}: ${r.error.issues[0]!.message})`);
        sum.anomalies++;
        sink.record(r.data as unknown as OutRecord);
      } else if (kind === 'message' || kind === 'capture') {
        if (kind === 'message') sum.messages++;
        if (opts.others) sink.record(obj as OutRecord);
      }
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES') throw new UserError(code, `cannot read ${path}: ${code}`);
    throw e;
  } finally {
    lines.close();
    input.destroy();
  }
  await sink.end?.();
  return sum;
}
