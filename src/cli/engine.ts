/**
 * V8 flags for throughput, which only the node command line can set.
 *
 *  --no-concurrent-recompilation: V8 optimizes hot functions on the main thread instead of a
 *    background one. On pgsniff's pipeline the code it makes that way runs about a tenth
 *    faster: read --json 5.0 -> 4.4 CPU s on the benchmark capture, 19.1 -> 16.3 on the
 *    1.15 GB one (so a gain that grows with the capture, not a start-up saving), read --text
 *    9.2 -> 8.0, stats 2.0 -> 1.8.
 *  --max-inlined-bytecode-size-cumulative=3000 (V8's default 920): lets TurboFan inline the
 *    whole per-message path (framer, connection, tracker, writer) into its callers: on top of
 *    the first, 1.15 GB read --json 16.3 -> 14.8 s, read --text 8.1 -> 7.8, stats 1.70 -> 1.61.
 *    6000 measured no better.
 * Setting them from inside the process (v8.setFlagsFromString) has no effect: the background
 * compiler and the inlining budget are fixed by the time any of our code runs.
 *
 * So `read` and `stats` on a file start a second Node.js process with the flags, and this one
 * waits for it: it costs one Node.js start-up (about 40 ms). The child gets a process group of
 * its own, and this process forwards SIGINT, SIGTERM and SIGHUP to it, so a Ctrl-C in a
 * terminal reaches it once (a second SIGINT would stop it before it flushed its output). Not
 * for what talks to the terminal or runs for long (the terminal UI, live capture, record,
 * check), where start-up and signals matter more than throughput. PGSNIFF_RELAUNCH=0 turns it
 * off; the child is marked so that it never relaunches itself.
 */
import { spawn } from 'node:child_process';

export const ENGINE_FLAGS = ['--no-concurrent-recompilation', '--max-inlined-bytecode-size-cumulative=3000'];
const MARK = 'PGSNIFF_RELAUNCHED';

/** Options that make `read` write lines instead of opening the terminal UI (see run.ts useTui). */
const LINE_OUTPUT = new Set(['--json', '--text', '--queries', '-V', '--verbose']);

/** Whether argv is a batch job on a file: `read FILE`/`-r FILE` or `stats FILE`, not live, not the terminal UI. */
export function isBatchJob(argv: readonly string[], stdoutTty: boolean, stdinTty: boolean): boolean {
  if (argv.some((a) => a === '-i' || a === '--interface' || a.startsWith('--interface=') || a === '-h' || a === '--help')) return false;
  const first = argv[0];
  if (first === 'stats') return true;
  if (first !== 'read' && first !== '-r') return false;
  return !(stdoutTty && stdinTty) || argv.some((a) => LINE_OUTPUT.has(a));
}

/**
 * Starts the command in a child process with ENGINE_FLAGS and returns true (this process then
 * exits as the child does); false when this process should run the command itself.
 */
export function relaunchWithEngineFlags(argv: readonly string[]): boolean {
  if (process.env[MARK] === '1' || process.env.PGSNIFF_RELAUNCH === '0' || process.platform === 'win32') return false;
  if (ENGINE_FLAGS.every((f) => process.execArgv.includes(f))) return false;
  // A debugger attached to this process would not see the work (and the child could not take the same port).
  if (process.execArgv.some((a) => a.startsWith('--inspect') || a.startsWith('--debug'))) return false;
  if (!isBatchJob(argv, process.stdout.isTTY === true, process.stdin.isTTY === true)) return false;
  const script = process.argv[1];
  if (script === undefined) return false;
  let child;
  try {
    child = spawn(process.execPath, [...process.execArgv, ...ENGINE_FLAGS, script, ...argv], {
      stdio: 'inherit',
      detached: true,
      env: { ...process.env, [MARK]: '1' },
    });
  } catch {
    return false;
  }
  const forward = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, forward);
  child.on('error', (e) => {
    process.stderr.write(`pgsniff: cannot start ${process.execPath}: ${e.message}\n`);
    process.exit(3);
  });
  child.on('exit', (code, signal) => {
    for (const s of signals) process.off(s, forward);
    if (signal !== null) {
      // Die of the same signal, as a shell expects of the command it ran.
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 3);
  });
  return true;
}
