/**
 * A fuzz worker thread: runs the inputs it is given through the pipeline and reports after
 * each one (scripts/fuzz-run.ts watches those reports to catch hangs). Exceptions that escape
 * the pipeline, inputs slower than the bound and heap growth past the check are reported as
 * failures; the worker then goes on with the next input.
 */
import { parentPort } from 'node:worker_threads';
import { loadCorpus, makeInput } from './fuzz-mutate.js';
import { runOne, type WorkerReport, type WorkerRequest } from './fuzz-run.js';

const port = parentPort;
if (port === null) throw new Error('fuzz-worker.js runs as a worker thread (scripts/fuzz-run.ts)');
const corpus = loadCorpus();

port.once('message', (req: WorkerRequest) => {
  void (async () => {
    for (let i = req.from; i < req.to; i++) {
      const input = makeInput(corpus, req.seed, i);
      const t0 = performance.now();
      let report: WorkerReport;
      try {
        const r = await runOne(input);
        const ms = performance.now() - t0;
        const heapMb = process.memoryUsage().heapUsed / (1024 * 1024);
        if (ms > req.timeoutMs) report = { type: 'fail', index: i, kind: 'slow', message: `took ${ms.toFixed(0)} ms (bound ${req.timeoutMs} ms)`, ms };
        else if (heapMb > req.heapCheckMb) report = { type: 'fail', index: i, kind: 'memory', message: `heap ${heapMb.toFixed(0)} MB after the input (bound ${req.heapCheckMb} MB)`, ms };
        else report = { type: 'done', index: i, records: r.records, anomalies: r.anomalies, refused: r.refused, ms, heapMb };
      } catch (e) {
        const message = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
        report = { type: 'fail', index: i, kind: 'exception', message, ms: performance.now() - t0 };
      }
      port.postMessage(report);
    }
    port.postMessage({ type: 'finished' } satisfies WorkerReport);
  })();
});
