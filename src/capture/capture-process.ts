/**
 * Starting pgsniff's capture process: pgsniff-capture (native/pgsniff-capture.c, built at
 * `npm install`) or, where that is not built, tcpdump. It writes pcap files into a private
 * temporary directory, which src/capture/live-source.ts reads behind it.
 *
 * This module loads nothing but Node.js's own modules and core/errors.ts, on purpose: the
 * command's entry point (src/cli/live-early.ts) starts the capture with it before the rest of
 * pgsniff has loaded, so the capture handle opens as soon after the command's start as Node.js
 * allows, and a connection opened while pgsniff loads is captured whole. A capture process
 * started early is "held": not counted by the event loop (a command that ends with a usage
 * error does not wait for it) until live-source takes it (takeEarlyCapture).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../core/errors.js';

/** What tcpdump and Wireshark keep of each packet by default: whole frames on every interface. */
const LIVE_SNAPLEN = 262144;
/**
 * The kernel's capture buffer. The capture process drains it continuously, so it only has to
 * cover the capture process's own pauses; a larger one takes longer to allocate at start-up,
 * past the start-up budget (docs/BENCHMARK.md, "Live capture under load").
 */
const DEFAULT_KERNEL_BUFFER = 32 * 1024 * 1024;
/** Size of one spool file in tcpdump's -C unit (1,000,000 bytes). */
const SPOOL_FILE_MB = 16;
/** pgsniff-capture's libpcap read timeout: a TPACKET_V3 block is handed over at most this long after its first packet. */
const BLOCK_TIMEOUT_MS = 10;
const START_TIMEOUT_MS = 15000;
/** PostgreSQL's default port, which the default capture filter always includes (pipeline/analyze.ts's DEFAULT_SERVER_PORT). */
const POSTGRES_PORT = 5432;

/** The default capture filter: PostgreSQL's port and the -p ports. */
export function defaultCaptureFilter(ports: number[] = []): string {
  const all = [POSTGRES_PORT, ...ports.filter((p) => p !== POSTGRES_PORT)];
  return 'tcp and (' + all.map((p) => `port ${p}`).join(' or ') + ')';
}

/** The tcpdump binary, or null. Debian installs it in /usr/bin; some systems in /usr/sbin, often not on PATH. */
export function findTcpdump(): string | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const d of [...dirs, '/usr/sbin', '/usr/bin', '/sbin', '/usr/local/sbin']) {
    const p = join(d, 'tcpdump');
    if (existsSync(p)) return p;
  }
  return null;
}

/** pgsniff's own capture process (native/pgsniff-capture.c, built at `npm install`), or null when it was not built. */
export function findCaptureHelper(): string | null {
  const p = fileURLToPath(new URL('../../../native/build/pgsniff-capture', import.meta.url));
  try {
    accessSync(p, constants.X_OK);
    return p;
  } catch {
    return null;
  }
}

/**
 * What to install when there is no capture process: the exact commands, with the build script's
 * path. (The `cap` addon is no substitute: it captures on Node's main thread, which is what
 * loses packets under load; see src/capture/live-source.ts.)
 */
function noCaptureProcess(): string {
  const build = fileURLToPath(new URL('../../../native/build.sh', import.meta.url));
  return `live capture needs a capture process and finds neither pgsniff-capture nor tcpdump: apt-get install gcc libc6-dev libpcap-dev, then sh ${build} (builds pgsniff-capture); or apt-get install tcpdump`;
}

/** A one-line UserError from the capture process's complaint about opening the capture. */
export function openError(iface: string, filter: string, stderr: string): UserError {
  const lines = stderr.split('\n').map((l) => l.replace(/^(tcpdump|pgsniff-capture): /, '').trim()).filter((l) => l !== '' && !l.startsWith('('));
  const msg = lines[0] ?? 'the capture process exited';
  // The dynamic loader's words when libpcap (or a library it needs) is not installed.
  const lib = /error while loading shared libraries: ([^:\s]+)/.exec(stderr);
  if (lib) {
    return new UserError('NO_LIBPCAP', `the capture process cannot start: ${lib[1]!.split('/').pop()} cannot be loaded (libpcap and what it needs: apt-get install libpcap0.8)`);
  }
  if (/permission|not permitted|EPERM|EACCES/i.test(stderr)) {
    return new UserError('EACCES', `no permission to capture on ${iface}: run as root (or grant CAP_NET_RAW and CAP_NET_ADMIN to the capture process)`);
  }
  if (/no such device|doesn't exist|does not exist|no such interface/i.test(stderr)) {
    return new UserError('NO_INTERFACE', `no such interface: ${iface} (pgsniff -D lists them)`);
  }
  if (/filter|syntax error|unknown host|not a legal/i.test(stderr)) {
    return new UserError('BAD_FILTER', `bad capture filter "${filter}": ${msg}`);
  }
  return new UserError('UNSUPPORTED', `cannot capture on ${iface}: ${msg}`);
}

interface CaptureProcessOptions {
  iface: string;
  /** Capture filter in pcap-filter (BPF) syntax; '' captures everything. */
  filter: string;
  snaplen?: number;
  /** Kernel buffer in bytes (tcpdump -B). */
  bufferSize?: number;
  /** Started before the pipeline loads: not counted by the event loop until ref(). */
  hold?: boolean;
}

/** A running capture process and the directory it writes its spool files into. */
export interface CaptureProcess {
  readonly iface: string;
  readonly filter: string;
  readonly snaplen: number;
  /** 'pgsniff-capture' or 'tcpdump'. */
  readonly name: string;
  readonly proc: ChildProcess;
  readonly dir: string;
  /** The first spool file's name; the next ones are base1, base2, ... (tcpdump -C). */
  readonly base: string;
  /** What the process has said on stderr (the last 16 to 64 KiB). */
  readonly stderr: string;
  readonly exited: boolean;
  /** "exit status N" or "signal S", once exited. */
  readonly exitText: string;
  /** Resolves when the process has exited and its stderr is closed. */
  readonly closed: Promise<void>;
  /** Resolves once the handle is open and the filter set ("listening on"); rejects with a UserError. */
  readonly opened: Promise<void>;
  /** Counts the process in the event loop again (see CaptureProcessOptions.hold). */
  ref(): void;
  /** Removes the spool directory (after the process has exited and the spool has been read). */
  removeDir(): void;
}

/** Capture processes and directories that must not outlive pgsniff (see exitCleanup). */
const active = new Set<CaptureProcess>();
let exitHookInstalled = false;
function exitCleanup(): void {
  for (const a of active) {
    try {
      a.proc.kill('SIGKILL');
    } catch {
      // Already gone.
    }
    rmSync(a.dir, { recursive: true, force: true });
  }
}

/**
 * Starts the capture process (synchronously: the process is running when this returns). Throws
 * a UserError for bad options or when there is no capture process (NO_TCPDUMP); what the process
 * says about the interface, the filter or permissions comes through `opened`.
 */
export function startCaptureProcess(options: CaptureProcessOptions): CaptureProcess {
  const { iface, filter } = options;
  const snaplen = options.snaplen ?? LIVE_SNAPLEN;
  const bufferSize = options.bufferSize ?? DEFAULT_KERNEL_BUFFER;
  if (typeof iface !== 'string' || iface === '') throw new UserError('BAD_ARGUMENT', 'no interface given');
  if (!Number.isInteger(snaplen) || snaplen < 64 || snaplen > LIVE_SNAPLEN) {
    throw new UserError('BAD_ARGUMENT', `snaplen must be an integer from 64 to ${LIVE_SNAPLEN}`);
  }
  if (!Number.isInteger(bufferSize) || bufferSize < 1024 * 1024 || bufferSize > 0x7fffffff) {
    throw new UserError('BAD_ARGUMENT', 'capture buffer size must be an integer from 1 MiB to 2 GiB');
  }
  // PGSNIFF_CAPTURE_PROCESS=tcpdump picks tcpdump even where pgsniff-capture is built.
  const helper = process.env.PGSNIFF_CAPTURE_PROCESS === 'tcpdump' ? null : findCaptureHelper();
  const tcpdump = helper === null ? findTcpdump() : null;
  if (helper === null && tcpdump === null) throw new UserError('NO_TCPDUMP', noCaptureProcess());

  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-live-'));
  const base = 'capture.pcap';
  // Its own process group: a Ctrl-C at the terminal reaches pgsniff alone, which then stops the
  // capture itself (and can tell a stop it asked for from a capture process that died).
  const spawnOpts = { stdio: ['ignore', 'ignore', 'pipe'] as ('ignore' | 'pipe')[], detached: true };
  let proc: ChildProcess;
  if (helper !== null) {
    // pgsniff-capture asks the kernel itself to be killed when pgsniff dies (prctl), and exits
    // at once if pgsniff died before it asked: it compares its parent with PGSNIFF_CAPTURE_PARENT.
    proc = spawn(helper, [iface, String(snaplen), String(bufferSize), String(BLOCK_TIMEOUT_MS), String(SPOOL_FILE_MB * 1_000_000), join(dir, base), filter], {
      ...spawnOpts, env: { ...process.env, PGSNIFF_CAPTURE_PARENT: String(process.pid) },
    });
  } else {
    const args = [
      '-i', iface, '-n', '-s', String(snaplen), '-B', String(Math.ceil(bufferSize / 1024)),
      '-U', '--immediate-mode', '-C', String(SPOOL_FILE_MB), '-w', join(dir, base),
    ];
    // Run as root, tcpdump drops to its own user after opening the device; it must stay able to
    // create the next spool file in pgsniff's directory.
    if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('-Z', 'root');
    args.push('--', filter);
    // tcpdump cannot ask to die with pgsniff itself: setpriv (util-linux) asks for it.
    proc = existsSync('/usr/bin/setpriv')
      ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', tcpdump!, ...args], spawnOpts)
      : spawn(tcpdump!, args, spawnOpts);
  }
  const name = helper !== null ? 'pgsniff-capture' : 'tcpdump';
  const command = helper ?? tcpdump!;

  let stderr = '';
  let exited = false;
  let exitText = '';
  let spawnError: Error | null = null;
  // An 'error' event without a listener would throw from the event loop.
  proc.once('error', (e) => {
    spawnError = e;
  });
  const closed = new Promise<void>((resolve) => {
    proc.once('close', (code, signal) => {
      exited = true;
      exitText = signal ? `signal ${signal}` : `exit status ${code}`;
      resolve();
    });
  });
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (t: string) => {
    stderr += t;
    // Only the latest reports matter: keep the text short over a long capture.
    if (stderr.length > 65536) stderr = stderr.slice(-16384);
  });
  if (options.hold === true) {
    proc.unref();
    (proc.stderr as unknown as { unref(): void }).unref();
  }

  // Open: "listening on" on stderr, or an exit with the process's reason.
  const opened = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new UserError('UNSUPPORTED', `cannot capture on ${iface}: ${name} did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    // Counted only while someone waits on the process (ref() makes its pipe count).
    timer.unref();
    const onData = (): void => {
      if (!stderr.includes('listening on')) return;
      clearTimeout(timer);
      proc.stderr!.off('data', onData);
      resolve();
    };
    proc.stderr!.on('data', onData);
    void closed.then(() => {
      clearTimeout(timer);
      if (spawnError !== null) reject(new UserError('NO_TCPDUMP', `cannot run ${command}: ${spawnError.message}`));
      else reject(openError(iface, filter, stderr));
    });
  });
  // Held and never taken (the command failed first), a failure must not be an unhandled rejection.
  opened.catch(() => undefined);

  const cp: CaptureProcess = {
    iface,
    filter,
    snaplen,
    name,
    proc,
    dir,
    base,
    get stderr() {
      return stderr;
    },
    get exited() {
      return exited;
    },
    get exitText() {
      return exitText;
    },
    closed,
    opened,
    ref: () => {
      proc.ref();
      (proc.stderr as unknown as { ref(): void }).ref();
    },
    removeDir: () => {
      active.delete(cp);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  active.add(cp);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', exitCleanup);
  }
  return cp;
}

/** Capture processes started early (startEarlyCapture) by interface and filter, until live-source takes them. */
const early = new Map<string, CaptureProcess>();

/**
 * Starts the capture at once, held, for takeEarlyCapture: the command's entry point calls it
 * before loading the pipeline. Throws what startCaptureProcess throws.
 */
export function startEarlyCapture(iface: string, filter: string): void {
  early.set(`${iface}\0${filter}`, startCaptureProcess({ iface, filter, hold: true }));
}

/** The capture startEarlyCapture started for this interface and filter, now counted by the event loop; null if none. */
export function takeEarlyCapture(iface: string, filter: string): CaptureProcess | null {
  const key = `${iface}\0${filter}`;
  const cp = early.get(key);
  if (!cp) return null;
  early.delete(key);
  cp.ref();
  return cp;
}
