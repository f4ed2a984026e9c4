/**
 * A fuzz worker thread: runs the inputs it is given through the pipeline and reports after
 * each one (scripts/fuzz-run.ts watches those reports, and this thread's CPU time, to catch
 * hangs). Exceptions that escape the pipeline, inputs over the bound of CPU time and heap growth
 * past the check (after a full collection, so that when the collector last ran does not
 * matter) are reported as failures; the worker then goes on with the next input.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { loadCorpus, makeInput, shapeOf } from './fuzz-mutate.js';
import { runOne, threadCpuMs, threadId, type WorkerReport, type WorkerRequest } from './fuzz-run.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** CPU time of this thread, or wall time where it cannot be read. */
const cpuNow = (): number => threadCpuMs() ?? performance.now();

const port = parentPort;
if (port === null) throw new Error('fuzz-worker.js runs as a worker thread (scripts/fuzz-run.ts)');
const corpus = loadCorpus();

port.once('message', (req: WorkerRequest) => {
  port.postMessage({ type: 'thread', tid: threadId() } satisfies WorkerReport);
  void (async () => {
    for (let i = req.from; i < req.to; i++) {
      const input = makeInput(corpus, req.seed, i);
      const shape = shapeOf(input.source);
      const t0 = cpuNow();
      let report: WorkerReport;
      try {
        const r = await runOne(input);
        const ms = cpuNow() - t0;
        let heapMb = process.memoryUsage().heapUsed / (1024 * 1024);
        if (heapMb > req.heapCheckMb) {
          gc();
          heapMb = process.memoryUsage().heapUsed / (1024 * 1024);
        }
        if (ms > req.timeoutMs) report = { type: 'fail', index: i, shape, kind: 'slow', message: `took ${ms.toFixed(0)} ms of CPU time (bound ${req.timeoutMs} ms)`, ms };
        else if (heapMb > req.heapCheckMb) report = { type: 'fail', index: i, shape, kind: 'memory', message: `heap ${heapMb.toFixed(0)} MB after the input (bound ${req.heapCheckMb} MB)`, ms };
        else report = { type: 'done', index: i, shape, records: r.records, anomalies: r.anomalies, refused: r.refused, ms, heapMb };
      } catch (e) {
        const message = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
        report = { type: 'fail', index: i, shape, kind: 'exception', message, ms: cpuNow() - t0 };
      }
      port.postMessage(report);
    }
    port.postMessage({ type: 'finished' } satisfies WorkerReport);
  })();
});
