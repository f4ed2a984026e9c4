/**
 * V8 flags for throughput, which only the node command line can set.
 *
 *  --no-concurrent-recompilation: V8 optimizes hot functions on the main thread, and the code
 *    it makes that way runs faster on pgsniff's pipeline, more so the larger the capture.
 *  --max-inlined-bytecode-size-cumulative=3000 (V8's default 920): lets TurboFan inline the
 *    whole per-message path (framer, connection, tracker, writer) into its callers.
 *  --min-semi-space-size=8 --max-semi-space-size=8, for `read --json` and `stats` only: a
 *    young generation fixed at 8 MiB per semi-space (cli/heap.ts keeps V8 from growing it), so
 *    a scavenge, which costs about the same whatever the garbage, comes after 8 MiB of it;
 *    read --text runs without (no faster with it, and larger).
 * What each flag gains, measured: docs/BENCHMARK.md, "V8 flags of the relaunched process".
 * Setting them from inside the process (v8.setFlagsFromString) has no effect: the background
 * compiler and the inlining budget are fixed by the time any of our code runs, and Node.js
 * does not take them from NODE_OPTIONS.
 *
 * So `read` and `stats` on a file start a second Node.js process with the flags, and this one
 * waits for it (one more Node.js start-up, which a large capture repays many times over, and a
 * capture under RELAUNCH_MIN_BYTES does not repay at all: docs/BENCHMARK.md, "Relaunch or not").
 * The child stays in this process's
 * process group, so what the terminal sends the job (Ctrl-C, Ctrl-\, Ctrl-Z, a hang-up)
 * reaches both, and job control works; signals sent to this process alone are passed on. A
 * batch job installs no signal handler, so a signal that arrives twice does what it does
 * once. Should this process be killed outright, the child notices within a second that its
 * parent changed and stops. Not for what talks to the terminal or runs for long (the terminal
 * UI, live capture, record, check), nor for a capture named by a file descriptor path
 * (/dev/fd/N: Node.js does not pass its low descriptors on). PGSNIFF_RELAUNCH=0 turns it off;
 * the child is marked so that it never relaunches itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { isatty } from 'node:tty';
import { parseCli, useTui } from './args.js';

export const ENGINE_FLAGS = ['--no-concurrent-recompilation', '--max-inlined-bytecode-size-cumulative=3000'];
const YOUNG_GENERATION_FLAGS = ['--min-semi-space-size=8', '--max-semi-space-size=8'];
/**
 * Captures smaller than this run in this process: on them the second start-up costs what the
 * flags gain (docs/BENCHMARK.md, "Relaunch or not": nothing gained on 19 MB, a quarter gained on
 * a 38 MB connection flood). PGSNIFF_RELAUNCH=1 relaunches whatever the size.
 */
export const RELAUNCH_MIN_BYTES = 32 * 1024 * 1024;
/** Set in the child's environment to the parent's pid. */
const MARK = 'PGSNIFF_RELAUNCHED_BY';
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/**
 * The flags for argv (parsed as the command will parse it) when it is a batch job on a file:
 * `read FILE` or `stats FILE`, not live capture, not the terminal UI, not a file descriptor
 * path; null for anything else. With `minBytes`, also null for a file smaller than that (or
 * that cannot be read: the command reports it); standard input ("-") is taken as large.
 */
export function engineFlags(argv: readonly string[], stdoutTty: boolean, stdinTty: boolean, minBytes = 0): string[] | null {
  let o;
  try {
    o = parseCli([...argv]);
  } catch {
    return null; // the command reports the mistake itself
  }
  if (o.help || o.version || o.iface !== null || o.file === null) return null;
  if (o.file.startsWith('/dev/') || o.file.startsWith('/proc/')) return null;
  if (minBytes > 0 && o.file !== '-' && !((statSync(o.file, { throwIfNoEntry: false })?.size ?? 0) >= minBytes)) return null;
  if (o.command === 'stats' || o.command === 'report') return [...ENGINE_FLAGS, ...YOUNG_GENERATION_FLAGS];
  if (o.command !== 'read' || useTui(o, stdoutTty, stdinTty)) return null;
  return o.json ? [...ENGINE_FLAGS, ...YOUNG_GENERATION_FLAGS] : ENGINE_FLAGS;
}

/** In the child: stop when the process that started it is gone (killed outright, it could pass nothing on). */
function watchParent(): void {
  const parent = Number(process.env[MARK]);
  if (!Number.isInteger(parent) || parent <= 1) return;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(129);
  }, 1000).unref();
}

/**
 * Starts the command in a child process with ENGINE_FLAGS and returns true (this process then
 * exits as the child does); false when this process should run the command itself.
 */
export function relaunchWithEngineFlags(argv: readonly string[]): boolean {
  if (process.env[MARK] !== undefined) {
    watchParent();
    return false;
  }
  if (process.env.PGSNIFF_RELAUNCH === '0' || process.platform !== 'linux') return false;
  if (ENGINE_FLAGS.every((f) => process.execArgv.includes(f))) return false;
  // A debugger attached to this process would not see the work (and the child could not take the same port).
  const nodeOptions = process.env.NODE_OPTIONS ?? '';
  if (process.execArgv.some((a) => a.startsWith('--inspect') || a.startsWith('--debug')) || nodeOptions.includes('--inspect')) return false;
  // isatty, not process.stdin: this process never opens a stream on the child's input.
  const flags = engineFlags(argv, isatty(1), isatty(0), process.env.PGSNIFF_RELAUNCH === '1' ? 0 : RELAUNCH_MIN_BYTES);
  if (flags === null) return false;
  const script = process.argv[1];
  if (script === undefined) return false;
  let child: ChildProcess | null = null;
  // Handlers first: a signal that comes while the child starts is passed on once it exists.
  const forward = (sig: NodeJS.Signals): void => {
    child?.kill(sig);
  };
  for (const s of FORWARDED) process.on(s, forward);
  try {
    child = spawn(process.execPath, [...process.execArgv, ...flags, script, ...argv], {
      stdio: 'inherit',
      env: { ...process.env, [MARK]: String(process.pid) },
    });
  } catch {
    for (const s of FORWARDED) process.off(s, forward);
    return false;
  }
  child.on('error', (e) => {
    process.stderr.write(`pgsniff: cannot start ${process.execPath}: ${e.message}\n`);
    process.exit(3);
  });
  child.on('exit', (code, signal) => {
    for (const s of FORWARDED) process.off(s, forward);
    if (signal !== null) {
      // Die of the same signal, as a shell expects of the command it ran.
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 3);
  });
  return true;
}
