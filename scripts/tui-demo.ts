/**
 * A small launcher for the TUI, independent of the CLI: `node dist/scripts/tui-demo.js --synthetic`
 * (optionally `--filler N` frames, `--wide` for a query of wide and zero-width characters, `--sessions N`, `--rounds N`, `--live` to act as a live
 * capture that runs until Ctrl-C, `-Y FILTER`) runs on the synthetic
 * conversation (test/helpers/tui-synthetic.ts); `node dist/scripts/tui-demo.js FILE` runs the real pipeline on a
 * capture file. The tests drive this under tmux.
 */
import { runTui } from '../src/tui/app.js';
import { feedSynthetic } from '../test/helpers/tui-synthetic.js';
import type { TuiSink } from '../src/tui/store.js';
import { analyzeFile } from '../src/pipeline/analyze.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const filter = arg('-Y');
  const live = args.includes('--live');
  if (args.includes('--synthetic')) {
    const filler = Number(arg('--filler') ?? 0);
    return runTui({
      title: 'synthetic', live, filter,
      start: async (sink: TuiSink, signal) => {
        await feedSynthetic(sink, signal, { sessions: Number(arg('--sessions') ?? 3), rounds: Number(arg('--rounds') ?? 4), fillerFrames: filler, yieldEvery: 2000, wide: args.includes('--wide') });
        // --live keeps "capturing" until Ctrl-C, as a live source would.
        if (live && !signal.aborted) await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      },
    });
  }
  const file = args.find((a, i) => !a.startsWith('-') && args[i - 1] !== '-Y');
  if (!file) {
    process.stderr.write('usage: demo.js --synthetic [--filler N] [--live] [-Y filter] | demo.js FILE [-Y filter]\n');
    return 2;
  }
  return runTui({ title: file, live: false, filter, capturePath: file, start: async (sink, signal) => { await analyzeFile(file, sink, { signal }); } });
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
