/**
 * Running fuzz inputs through the whole pipeline, and the runner that keeps a pool of worker
 * threads busy with them.
 *
 * The bound on an input is CPU work, not time: the CPU time of the worker's own thread
 * (threadCpuMs), which a loaded machine does not inflate the way it stretches wall-clock time, so
 * a run's verdict does not depend on what else the machine is doing. The pipeline is
 * synchronous within a read chunk, so a hang cannot be caught by a timer in the same thread:
 * each worker reports after every input, and the main thread terminates a worker whose thread
 * has used more CPU than the bound since its last report, regenerates the input it was on
 * (inputs are a pure function of seed and index) and saves it. A worker's heap is capped
 * (resourceLimits), so unbounded memory ends as a worker error, saved the same way; the
 * worker also checks its heap between inputs against a lower bound, after a full collection.
 *
 * The report is per shape (shapeOf: many connections, declared lengths, pending requests,
 * conflicting overlaps, kept rows, open blocks, mutated captures): its inputs, its slowest input
 * and that input's CPU time, and its peak resident size. The workers share one process, whose
 * resident size says nothing of one shape, so after the run each shape's slowest input is run
 * again by itself, as users run it (`pgsniff read FILE --json`, with the input's --memory-limit
 * and --rows), under /usr/bin/time: a shape whose peak passes that --memory-limit (the
 * documented ceiling, README "Bad input and limits") is a memory failure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { isUserError } from '../src/core/errors.js';
import { analyzeFile } from '../src/pipeline/analyze.js';
import type { FrameInfo, MessageRecord, OutRecord, PipelineSink, SinkNeeds } from '../src/pipeline/events.js';
import { NdjsonSink } from '../src/sinks/ndjson.js';
import { TextSink } from '../src/sinks/text.js';
import { StatsSink } from '../src/sinks/stats.js';
import { formatStatsText } from '../src/sinks/stats-format.js';
import type { DecodedMessage, DissectContext, RawMessage } from '../dissectors/types.js';
import { DEFAULT_MEMORY_LIMIT_MB } from '../src/core/budget.js';
import { loadCorpus, makeInput, shapeOf, type CorpusEntry, type FuzzInput } from './fuzz-mutate.js';

interface OneResult {
  records: number;
  anomalies: number;
  /** The reader refused the input as a whole (not a capture, cut-short header): a UserError, which is fine. */
  refused: boolean;
}

let devNull: number | null = null;

/**
 * CPU milliseconds (user + system) used by one thread of this process: the calling thread
 * (tid null) or the thread `tid` (Linux: /proc/.../stat, in clock ticks of 10 ms); null where
 * that cannot be read.
 */
export function threadCpuMs(tid: number | null = null): number | null {
  try {
    const stat = readFileSync(tid === null ? '/proc/thread-self/stat' : `/proc/self/task/${tid}/stat`, 'latin1');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

/** The calling thread's id (Linux), for threadCpuMs from another thread; null elsewhere. */
export function threadId(): number | null {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return null;
  }
}

/** Both exports on every input: NDJSON (the export's own writer, messages from their bytes, and
 * every record through JSON.stringify too) and the text view (verbose trees on every fourth
 * input), written to /dev/null; on every other input also the statistics (SQL normalised by
 * libpg-query), whose report is formatted at the end. */
class FuzzSink implements PipelineSink {
  records = 0;
  anomalies = 0;
  private readonly text: TextSink;
  private readonly json: NdjsonSink;
  /** The NDJSON sink writes messages from their bytes; the record is still built, for the text view and the statistics. */
  readonly needs: SinkNeeds = { frames: true, messages: 'both' };
  constructor(verbose: boolean, private readonly stats: StatsSink | null) {
    devNull ??= openSync('/dev/null', 'w');
    this.text = new TextSink(devNull, { verbose });
    this.json = new NdjsonSink(devNull);
  }
  rawMessage(session: number, raw: RawMessage, decode: () => DecodedMessage, ctx: DissectContext, tls: boolean): void {
    this.json.rawMessage(session, raw, decode, ctx, tls);
  }
  frame(f: FrameInfo): void {
    this.text.frame(f);
  }
  message(rec: MessageRecord, raw: RawMessage, decoded: DecodedMessage): void {
    this.text.message(rec, raw, decoded);
  }
  record(rec: OutRecord): void {
    this.records++;
    if (rec.kind === 'anomaly') this.anomalies++;
    JSON.stringify(rec);
    if (rec.kind !== 'message') this.json.record(rec);
    this.text.record(rec);
    this.stats?.record(rec);
  }
  end(): void {
    this.json.end();
    this.text.end();
    if (this.stats) formatStatsText(this.stats.report());
  }
}

function* chunks(data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Every fifth input runs under the smallest memory limit: the budgets' give-up paths run (core/budget.ts). */
function memoryLimitOf(index: number): number | undefined {
  return index % 5 === 2 ? 128 : undefined;
}

/** Every third input keeps rows (--rows). */
function keepsRows(index: number): boolean {
  return index % 3 === 0;
}

/** One input through the whole pipeline; throws only what escaped the pipeline. */
export async function runOne(input: FuzzInput): Promise<OneResult> {
  const sink = new FuzzSink(input.index % 4 === 0, input.index % 2 === 1 ? await StatsSink.create() : null);
  const stream = Readable.from(input.chunk > 0 ? chunks(input.data, input.chunk) : [input.data], { objectMode: false });
  try {
    await analyzeFile(stream, sink, { sourceName: 'fuzz input', keepRows: keepsRows(input.index), memoryLimitMb: memoryLimitOf(input.index) });
    return { records: sink.records, anomalies: sink.anomalies, refused: false };
  } catch (e) {
    if (isUserError(e)) return { records: sink.records, anomalies: sink.anomalies, refused: true };
    throw e;
  }
}

interface FuzzFailure {
  index: number;
  kind: 'exception' | 'hang' | 'slow' | 'memory';
  message: string;
  source: string;
  mutations: string[];
  /** Where the input was saved. */
  saved: string;
}

interface FuzzOptions {
  seed: number;
  iterations: number;
  /** First input index (to continue a run). */
  start?: number;
  workers?: number;
  /** An input using more CPU time than this (ms of its worker thread) is a slow failure; silent
   * for 2 s of CPU more, a hang (worker terminated). */
  timeoutMs?: number;
  /** Heap cap of a worker. */
  heapLimitMb?: number;
  /** Heap in use between inputs above this is a memory failure. */
  heapCheckMb?: number;
  saveDir?: string;
  onProgress?: (done: number, failures: number) => void;
  /** Stop after this many failures (default 20). */
  maxFailures?: number;
  /** Measure each shape's peak resident size (default true; needs /usr/bin/time, else not measured). */
  measureRss?: boolean;
}

/** What a run saw of one shape (shapeOf). */
export interface ShapeSummary {
  inputs: number;
  /** Its slowest input (index, -1 before any) and that input's CPU time (ms of its worker thread). */
  slowestIndex: number;
  slowestMs: number;
  /** Peak resident size (MB) of `pgsniff read FILE --json` on the slowest input by itself; null when not measured. */
  peakRssMb: number | null;
  /** The ceiling it was held to: that input's --memory-limit. */
  ceilingMb: number;
}

interface FuzzSummary {
  seed: number;
  inputs: number;
  records: number;
  anomalies: number;
  refused: number;
  failures: FuzzFailure[];
  /** The most CPU time one input took (ms of its worker thread). */
  maxInputMs: number;
  /** The index of the slowest input (reproduce it with --start). */
  slowestIndex: number;
  maxHeapMb: number;
  ms: number;
  corpus: number;
  /** By shape (shapeOf), in the order first seen. */
  shapes: Record<string, ShapeSummary>;
  /** Why peak RSS was not measured, when it was not. */
  rssNote: string | null;
}

/** Messages between a fuzz worker and the runner. */
export type WorkerRequest = { seed: number; from: number; to: number; timeoutMs: number; heapCheckMb: number };
export type WorkerReport =
  | { type: 'done'; index: number; shape: string; records: number; anomalies: number; refused: boolean; ms: number; heapMb: number }
  | { type: 'fail'; index: number; shape: string; kind: 'exception' | 'slow' | 'memory'; message: string; ms: number }
  | { type: 'finished' }
  /** The worker's thread id, sent first: the runner watches that thread's CPU time. */
  | { type: 'thread'; tid: number | null };

function saveInput(dir: string, seed: number, input: FuzzInput, why: string): string {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `fuzz-seed${seed}-input${input.index}.pcap`);
  writeFileSync(base, input.data);
  writeFileSync(base + '.txt', `seed ${seed} index ${input.index}\nsource ${input.source}\nmutations ${input.mutations.join(', ')}\nread chunk ${input.chunk || 'whole'}\n${why}\n`);
  return base;
}

const WORKER_URL = new URL('./fuzz-worker.js', import.meta.url);
const LOAD_FAILED = -1;

/** Runs inputs [start, start + iterations) over a pool of workers. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const corpus: CorpusEntry[] = loadCorpus();
  if (corpus.length === 0) throw new Error('no fuzz corpus: samples/ is empty and the public captures are absent');
  const start = opts.start ?? 0;
  const end = start + opts.iterations;
  const workers = Math.max(1, opts.workers ?? 1);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const saveDir = opts.saveDir ?? join(tmpdir(), 'pgsniff-fuzz');
  const maxFailures = opts.maxFailures ?? 20;
  const summary: FuzzSummary = {
    seed: opts.seed, inputs: 0, records: 0, anomalies: 0, refused: 0, failures: [], maxInputMs: 0, slowestIndex: -1, maxHeapMb: 0, ms: 0,
    corpus: corpus.length, shapes: {}, rssNote: null,
  };
  const t0 = performance.now();
  // Work is handed out in blocks so a restarted worker knows where to go on.
  const BLOCK = 200;
  let next = start;
  const fail = (index: number, kind: FuzzFailure['kind'], message: string): void => {
    const input = makeInput(corpus, opts.seed, index);
    const saved = saveInput(saveDir, opts.seed, input, `${kind}: ${message}`);
    summary.failures.push({ index, kind, message, source: input.source, mutations: input.mutations, saved });
  };

  const lane = async (): Promise<void> => {
    while (next < end && summary.failures.length < maxFailures) {
      const from = next;
      const to = Math.min(end, from + BLOCK);
      next = to;
      let resume = from;
      let retries = 0;
      while (resume < to && summary.failures.length < maxFailures) {
        const r = await runBlock(resume, to, retries >= 3);
        if (r === LOAD_FAILED) {
          // The worker could not load the pipeline (dist/ being rebuilt under it): try again.
          retries++;
          await new Promise((ok) => setTimeout(ok, 2000));
          continue;
        }
        retries = 0;
        resume = r;
      }
    }
  };

  /** Runs [from, to) in a fresh worker; returns where to resume (after a hang or crash, the next
   * input), or LOAD_FAILED when the worker died before its first report and `blame` is false. */
  const runBlock = (from: number, to: number, blame: boolean): Promise<number> => new Promise((resolve) => {
    const w = new Worker(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: opts.heapLimitMb ?? 1024 } });
    let current = from;
    let settled = false;
    let tid: number | null = null;
    let started = false;
    // The worker thread's CPU time at its last report; wall time where thread CPU is unreadable.
    let mark = 0;
    const spent = (): number => {
      const cpu = tid === null ? null : threadCpuMs(tid);
      return cpu === null ? performance.now() - mark : cpu - mark;
    };
    const arm = (): void => {
      const cpu = tid === null ? null : threadCpuMs(tid);
      mark = cpu ?? performance.now();
    };
    // The worker's thread is stuck in one input (it cannot even answer): past the bound of CPU
    // work (2 s more than an input's own bound), it is ended. Under a loaded machine it simply
    // takes longer to get there.
    const watchdog = setInterval(() => {
      // Loading the pipeline is not an input's work: the watch starts with the worker's first word.
      if (!started || spent() <= timeoutMs + 2000) return;
      fail(current, 'hang', `no answer after ${timeoutMs + 2000} ms of CPU time`);
      finish(current + 1);
    }, 500);
    const finish = (resumeAt: number): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void w.terminate();
      resolve(resumeAt);
    };
    w.on('message', (m: WorkerReport) => {
      reported = true;
      if (m.type === 'thread') {
        tid = m.tid;
        started = true;
        arm();
        return;
      }
      if (m.type === 'finished') {
        finish(to);
        return;
      }
      summary.inputs++;
      if (m.ms > summary.maxInputMs) {
        summary.maxInputMs = m.ms;
        summary.slowestIndex = m.index;
      }
      const shape = (summary.shapes[m.shape] ??= { inputs: 0, slowestIndex: -1, slowestMs: -1, peakRssMb: null, ceilingMb: DEFAULT_MEMORY_LIMIT_MB });
      shape.inputs++;
      if (m.ms > shape.slowestMs) {
        shape.slowestMs = m.ms;
        shape.slowestIndex = m.index;
      }
      if (m.type === 'done') {
        summary.records += m.records;
        summary.anomalies += m.anomalies;
        if (m.refused) summary.refused++;
        summary.maxHeapMb = Math.max(summary.maxHeapMb, m.heapMb);
      } else {
        fail(m.index, m.kind, m.message);
      }
      current = m.index + 1;
      opts.onProgress?.(summary.inputs, summary.failures.length);
      arm();
    });
    let reported = false;
    w.on('error', (e) => {
      if (!reported && !blame) {
        finish(LOAD_FAILED);
        return;
      }
      // Out of heap, or something thrown outside runOne's promise.
      summary.inputs++;
      fail(current, 'memory', e instanceof Error ? e.message : String(e));
      finish(current + 1);
    });
    w.on('exit', (code) => {
      if (settled) return;
      summary.inputs++;
      fail(current, 'exception', `the worker exited (code ${code}) during the input`);
      finish(current + 1);
    });
    arm();
    const req: WorkerRequest = { seed: opts.seed, from, to, timeoutMs, heapCheckMb: opts.heapCheckMb ?? 512 };
    w.postMessage(req);
  });

  await Promise.all(Array.from({ length: workers }, lane));
  if (opts.measureRss ?? true) {
    if (!existsSync(TIME)) summary.rssNote = `${TIME} is absent: peak RSS per shape not measured`;
    else {
      for (const [name, shape] of Object.entries(summary.shapes)) {
        if (shape.slowestIndex < 0) continue;
        const input = makeInput(corpus, opts.seed, shape.slowestIndex);
        shape.ceilingMb = memoryLimitOf(input.index) ?? DEFAULT_MEMORY_LIMIT_MB;
        shape.peakRssMb = peakRssMb(input);
        if (shape.peakRssMb !== null && shape.peakRssMb > shape.ceilingMb) {
          fail(input.index, 'memory', `shape "${name}": peak RSS ${shape.peakRssMb} MB, over its ${shape.ceilingMb} MB --memory-limit (pgsniff read --json on this input alone)`);
        }
      }
    }
  }
  summary.ms = performance.now() - t0;
  return summary;
}

const TIME = '/usr/bin/time';
const MAIN = new URL('../src/cli/main.js', import.meta.url);

/**
 * Peak resident size (MB) of `pgsniff read FILE --json` (with the input's --memory-limit and
 * --rows) on `input` alone, by GNU time's %M (the CLI's relaunched engine included: the largest
 * process it waited for); null when it could not be read.
 */
function peakRssMb(input: FuzzInput): number | null {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-fuzz-rss-'));
  try {
    const file = join(dir, 'input.pcap');
    writeFileSync(file, input.data);
    const args = [process.execPath, MAIN.pathname, 'read', file, '--json'];
    const limit = memoryLimitOf(input.index);
    if (limit !== undefined) args.push('--memory-limit', String(limit));
    if (keepsRows(input.index)) args.push('--queries', '--rows');
    const r = spawnSync(TIME, ['-f', 'peak-rss-kb %M', ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 24 });
    const m = /peak-rss-kb (\d+)\s*$/.exec(r.stderr ?? '');
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
