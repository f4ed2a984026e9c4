/**
 * `npm run fuzz -- [ITERATIONS] [--seed N] [--start I] [--workers N] [--timeout MS] [--out DIR]`:
 * mutates the samples and the public captures (scripts/fuzz-mutate.ts) and runs every input
 * through the whole pipeline (scripts/fuzz-run.ts). An exception escaping the pipeline, an input
 * over the bound of CPU time (--timeout, ms of its worker thread), heap growth, or a shape whose
 * slowest input, run alone as `pgsniff read --json`, peaks over its --memory-limit is a failure:
 * the seed and index are printed and the input saved under os.tmpdir()/pgsniff-fuzz (or --out).
 * The report is per shape (scripts/fuzz-run.ts). Exit status 1 when anything failed.
 *
 * Reproduce one input: `npm run fuzz -- 1 --seed S --start I`.
 */
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runFuzz } from './fuzz-run.js';

function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let iterations = 10000;
  let seed = Math.floor(Math.random() * 2 ** 31);
  let start = 0;
  let workers = Math.max(1, Math.min(4, cpus().length));
  let timeoutMs = 5000;
  let out = join(tmpdir(), 'pgsniff-fuzz');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
      return v;
    };
    if (a === '--seed') seed = num();
    else if (a === '--start') start = num();
    else if (a === '--workers') workers = Math.max(1, num());
    else if (a === '--timeout') timeoutMs = num();
    else if (a === '--out') out = resolve(argv[++i] ?? '.');
    else if (/^\d+$/.test(a)) iterations = Number(a);
    else throw new Error(`unknown argument ${a}`);
  }
  process.stderr.write(`fuzz: seed ${seed}, inputs ${start}..${start + iterations - 1}, ${workers} workers, ${timeoutMs} ms CPU bound\n`);
  let lastReport = 0;
  return runFuzz({
    seed, iterations, start, workers, timeoutMs, saveDir: out,
    onProgress: (done, failures) => {
      const now = Date.now();
      if (now - lastReport < 10000) return;
      lastReport = now;
      process.stderr.write(`fuzz: ${done} inputs, ${failures} failures\n`);
    },
  }).then((s) => {
    process.stdout.write(
      `fuzz: seed ${s.seed}: ${s.inputs} inputs from ${s.corpus} captures in ${(s.ms / 1000).toFixed(1)} s ` +
      `(${(s.inputs / (s.ms / 1000)).toFixed(0)}/s); ${s.records} records, ${s.anomalies} anomalies, ${s.refused} inputs refused as no capture; ` +
      `slowest input ${s.maxInputMs.toFixed(0)} ms CPU (index ${s.slowestIndex}), largest worker heap ${s.maxHeapMb.toFixed(0)} MB, ` +
      `peak RSS of the run ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (its workers together); ${s.failures.length} failures\n`,
    );
    // Per shape: the slowest input, and the peak resident size of `pgsniff read --json` on it alone.
    for (const [name, sh] of Object.entries(s.shapes)) {
      const rss = sh.peakRssMb === null ? 'peak RSS not measured' : `peak RSS ${sh.peakRssMb} MB (ceiling ${sh.ceilingMb} MB${sh.peakRssMb > sh.ceilingMb ? ': OVER' : ''})`;
      process.stdout.write(`  ${name}: ${sh.inputs} inputs, slowest input ${sh.slowestMs.toFixed(0)} ms CPU (index ${sh.slowestIndex}), ${rss}\n`);
    }
    if (s.rssNote !== null) process.stdout.write(`  ${s.rssNote}\n`);
    for (const f of s.failures) {
      process.stdout.write(`FAIL ${f.kind} seed ${s.seed} index ${f.index} (${f.source}; ${f.mutations.join(', ')}): ${f.message.split('\n').slice(0, 4).join(' | ')}\n  saved ${f.saved}\n`);
    }
    return s.failures.length === 0 ? 0 : 1;
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`fuzz: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  },
);
