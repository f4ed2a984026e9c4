/**
 * Live capture with the kernel's facts: a separate capture process (as dumpcap is Wireshark's)
 * writes pcap files, and pgsniff reads them behind it (src/capture/spool.ts).
 *
 * Why a capture process (docs/BENCHMARK.md has the measurements):
 * - Capturing on Node's main thread (the `cap` addon) loses packets whenever decoding, output or
 *   garbage collection holds the thread: the kernel's buffer overflows. A separate process only
 *   moves packets from the kernel to a file, so the kernel's buffer is drained whatever the
 *   decoder does; the files are the buffer between the two (bounded, see Spool).
 * - pcap records carry libpcap's packet header: the kernel's timestamp, the captured and the
 *   original length. The snaplen is 262,144 (tcpdump's default), so the 65,549-byte frames of
 *   `lo` are kept whole.
 * - The process reports pcap_stats() (ps_recv, ps_drop, ps_ifdrop) on SIGUSR1 and at exit in
 *   tcpdump's words, and prints "listening on" once the handle is open and the filter set.
 *
 * The process is pgsniff-capture (native/pgsniff-capture.c, built by `npm install` where a C
 * compiler and libpcap-dev are present): libpcap's TPACKET_V3 ring with a 10 ms block timeout,
 * so packets arrive within milliseconds and the whole kernel buffer holds packets. Where it is not
 * built, tcpdump takes its place with -U --immediate-mode; immediate mode means TPACKET_V2,
 * whose fixed slots of the snaplen's size leave a 32 MiB buffer room for 128 packets, so on a
 * loaded machine the kernel drops more there (counted and reported all the same).
 * Either runs under `setpriv --pdeathsig KILL` where util-linux has it, so it cannot outlive
 * pgsniff if pgsniff is killed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { AnomalyHandler } from '../core/anomaly.js';
import { UserError } from '../core/errors.js';
import type { Packet, PacketHandler } from './packet.js';
import { Spool } from './spool.js';

/** What tcpdump and Wireshark keep of each packet by default: whole frames on every interface. */
export const LIVE_SNAPLEN = 262144;
/**
 * The kernel's capture buffer. The capture process drains it continuously, so it only has to
 * cover the capture process's own pauses; a larger one takes longer to allocate at start-up
 * (128 MiB: about 0.6 s on the benchmark machine, over the 0.5 s start-up budget).
 */
export const DEFAULT_KERNEL_BUFFER = 32 * 1024 * 1024;
/** Bytes the capture process may be ahead of the decoder before pgsniff drops (whole files). */
export const DEFAULT_SPOOL_LIMIT = 1024 * 1024 * 1024;
/** Size of one spool file in tcpdump's -C unit (1,000,000 bytes). */
const SPOOL_FILE_MB = 16;
/** How often an idle reader looks for new packets: well inside the 100 ms output budget. */
const POLL_MS = 10;
/** Chunks decoded before the reader yields to the event loop (output, timers, signals). */
const CHUNKS_PER_TURN = 4;
const STATS_MS = 1000;
/** pgsniff-capture's libpcap read timeout: a TPACKET_V3 block is handed over at most this long after its first packet. */
const BLOCK_TIMEOUT_MS = 10;
const START_TIMEOUT_MS = 15000;

export interface LiveSourceOptions {
  /** Interface name (`pgsniff -D`); `any` captures all with the Linux cooked header. */
  iface: string;
  /** Capture filter in pcap-filter (BPF) syntax; '' captures everything. */
  filter: string;
  snaplen?: number;
  /** Kernel buffer in bytes (tcpdump -B). */
  bufferSize?: number;
  /** Bound of the spool: bytes captured and not yet decoded. */
  spoolLimit?: number;
  /** Open the capture, but deliver nothing (and keep the process from waiting on it) until
   * attach(): for starting the capture before the rest of pgsniff has loaded. */
  hold?: boolean;
}

export interface LiveSourceHandlers {
  packet: PacketHandler;
  anomaly: AnomalyHandler;
  /** Everything captured so far has been delivered (the time to write output out). */
  idle?: () => void;
  /** The figures, about once a second while capturing. */
  status?: (s: LiveStats) => void;
}

/** What the capture knows of its losses; the kernel's figures are null until tcpdump reports them. */
export interface LiveStats {
  /** pcap_stats ps_recv: packets the kernel's filter accepted. */
  received: number | null;
  /** Packets the capture process wrote. */
  captured: number | null;
  /** pcap_stats ps_drop: packets the kernel dropped because its buffer was full. */
  kernelDropped: number | null;
  /** pcap_stats ps_ifdrop: packets the interface dropped. */
  ifDropped: number | null;
  /** Packets handed to the decoder (the last frame number). */
  delivered: number;
  /** Captured bytes of the delivered packets. */
  bytes: number;
  /** Packets (and their bytes) pgsniff dropped unread because the spool limit was reached. */
  pgsniffDropped: number;
  pgsniffDroppedBytes: number;
  /** How far the decoder is behind the capture: bytes not read yet, and the age of the last packet decoded. */
  backlogBytes: number;
  backlogSeconds: number;
}

export interface LiveSource {
  readonly iface: string;
  readonly filter: string;
  readonly snaplen: number;
  /** LINKTYPE_* of the packets (from the capture file's header). */
  readonly linkType: number;
  readonly running: boolean;
  /** Why the capture ended when nobody stopped it (tcpdump killed, interface gone), else null. */
  readonly endedItself: string | null;
  stats(): LiveStats;
  /** Resolves once everything captured has been decoded and no packet came for quietMs (or after maxMs). */
  settle(quietMs?: number, maxMs?: number): Promise<void>;
  /** Gives a held source (options.hold) its handlers: delivery starts with what was captured meanwhile. */
  attach(handlers: LiveSourceHandlers): void;
  /** Stops capturing. With drain (the default) what was captured is still decoded; without, it is discarded. */
  stop(drain?: boolean): void;
  /** Resolves with the final figures once the capture process has exited and the spool is read;
   * rejects with what a handler threw. */
  readonly done: Promise<LiveStats>;
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

/**
 * Interfaces as `tcpdump -D` lists them ("1.lo [Up, Running, Loopback]"): names and flags, for
 * `pgsniff -D` where the `cap` addon (which also gives addresses) is not built.
 */
export function listInterfacesWithTcpdump(): { name: string; description: string | null; flags: string }[] {
  const tcpdump = findTcpdump();
  if (tcpdump === null) {
    throw new UserError('NO_TCPDUMP', 'listing interfaces needs tcpdump or the cap addon: apt-get install tcpdump (or apt-get install libpcap-dev make g++ python3, then npm rebuild cap)');
  }
  const r = spawnSync(tcpdump, ['-D'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw openError('', '', r.stderr ?? '');
  return r.stdout.split('\n').map((l) => /^\d+\.(\S+)(?:\s+\(([^)]*)\))?(?:\s+\[(.*)\])?/.exec(l)).filter((m) => m !== null)
    .map((m) => ({ name: m[1]!, description: m[2] ?? null, flags: m[3] ?? '' }));
}

/** PostgreSQL's default port, which the default capture filter always includes (pipeline/analyze.ts's DEFAULT_SERVER_PORT). */
const POSTGRES_PORT = 5432;

/** The default capture filter: PostgreSQL's port and the -p ports. */
export function defaultCaptureFilter(ports: number[] = []): string {
  const all = [POSTGRES_PORT, ...ports.filter((p) => p !== POSTGRES_PORT)];
  return 'tcp and (' + all.map((p) => `port ${p}`).join(' or ') + ')';
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
 * loses packets under load; see the top of this file.)
 */
export function noCaptureProcess(): string {
  const build = fileURLToPath(new URL('../../../native/build.sh', import.meta.url));
  return `live capture needs a capture process and finds neither pgsniff-capture nor tcpdump: apt-get install gcc libc6-dev libpcap-dev, then sh ${build} (builds pgsniff-capture); or apt-get install tcpdump`;
}

/** Parses tcpdump's statistics (the SIGUSR1 line or the exit block); the last report wins. */
export function parseTcpdumpStats(text: string): { captured: number; received: number; dropped: number; ifDropped: number } | null {
  const re = /(\d+) packets? captured[,\s]+(\d+) packets? received by filter[,\s]+(\d+) packets? dropped by kernel(?:[,\s]+(\d+) packets? dropped by interface)?/g;
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) last = m;
  if (last === null) return null;
  return { captured: Number(last[1]), received: Number(last[2]), dropped: Number(last[3]), ifDropped: last[4] ? Number(last[4]) : 0 };
}

/** A one-line UserError from tcpdump's complaint about opening the capture. */
export function openError(iface: string, filter: string, stderr: string): UserError {
  const lines = stderr.split('\n').map((l) => l.replace(/^(tcpdump|pgsniff-capture): /, '').trim()).filter((l) => l !== '' && !l.startsWith('('));
  const msg = lines[0] ?? 'the capture process exited';
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

function nowUs(): number {
  return Date.now() * 1000;
}

/** Takes a held capture's process back into the event loop's count (see LiveSourceOptions.hold). */
const holdRefs = new WeakMap<LiveSourceOptions, () => void>();

/** Captures started early (prestartLiveSource) by interface and filter, until analyzeLive takes them. */
const early = new Map<string, { options: LiveSourceOptions; source: Promise<LiveSource> }>();

/**
 * Starts the capture at once, held, for openLiveSource to take later: the command's entry point
 * calls it before loading the pipeline, so the capture handle is open while Node.js loads the
 * rest of pgsniff. A failure here is reported when the capture is taken.
 */
export function prestartLiveSource(options: LiveSourceOptions): void {
  const o = { ...options, hold: true };
  const source = openLiveSource(o);
  source.catch(() => undefined);
  early.set(`${options.iface}\0${options.filter}`, { options: o, source });
}

/** The capture prestartLiveSource started for this interface and filter, now counted by the event loop; null if none. */
export function takePrestarted(iface: string, filter: string): Promise<LiveSource> | null {
  const key = `${iface}\0${filter}`;
  const e = early.get(key);
  if (!e) return null;
  early.delete(key);
  holdRefs.get(e.options)?.();
  return e.source;
}

/** A capture directory and process that must not outlive pgsniff (see exitCleanup). */
const active = new Set<{ proc: ChildProcess; dir: string }>();
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
 * Starts the capture process and resolves once its handle is open (tcpdump said "listening on")
 * and the first spool file has its header. Throws a UserError: NO_TCPDUMP, NO_INTERFACE, EACCES,
 * BAD_FILTER, BAD_ARGUMENT, UNSUPPORTED.
 */
export async function openLiveSource(options: LiveSourceOptions, initialHandlers?: LiveSourceHandlers): Promise<LiveSource> {
  let handlers: LiveSourceHandlers = initialHandlers ?? { packet: () => undefined, anomaly: () => undefined };
  const iface = options.iface;
  const filter = options.filter;
  const snaplen = options.snaplen ?? LIVE_SNAPLEN;
  const bufferSize = options.bufferSize ?? DEFAULT_KERNEL_BUFFER;
  const spoolLimit = options.spoolLimit ?? DEFAULT_SPOOL_LIMIT;
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
  let command: string;
  let args: string[];
  if (helper !== null) {
    command = helper;
    args = [iface, String(snaplen), String(bufferSize), String(BLOCK_TIMEOUT_MS), String(SPOOL_FILE_MB * 1_000_000), join(dir, base), filter];
  } else {
    command = tcpdump!;
    args = [
      '-i', iface, '-n', '-s', String(snaplen), '-B', String(Math.ceil(bufferSize / 1024)),
      '-U', '--immediate-mode', '-C', String(SPOOL_FILE_MB), '-w', join(dir, base),
    ];
    // Run as root, tcpdump drops to its own user after opening the device; it must stay able to
    // create the next spool file in pgsniff's directory.
    if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('-Z', 'root');
    args.push('--', filter);
  }
  const setpriv = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : null;
  // Its own process group: a Ctrl-C at the terminal reaches pgsniff alone, which then stops the
  // capture itself (and can tell a stop it asked for from a capture process that died).
  const spawnOpts = { stdio: ['ignore', 'ignore', 'pipe'] as ('ignore' | 'pipe')[], detached: true };
  const proc = setpriv
    ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', command, ...args], spawnOpts)
    : spawn(command, args, spawnOpts);
  const entry = { proc, dir };
  active.add(entry);
  // A held capture must not keep pgsniff alive if it exits before using it (a usage error).
  const held = options.hold === true;
  if (held) {
    proc.unref();
    (proc.stderr as unknown as { unref(): void }).unref();
  }
  holdRefs.set(options, () => {
    proc.ref();
    (proc.stderr as unknown as { ref(): void }).ref();
  });
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', exitCleanup);
  }
  let stderr = '';
  let exited = false;
  let exitText = '';
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

  const cleanup = (): void => {
    active.delete(entry);
    rmSync(dir, { recursive: true, force: true });
  };

  // Open: "listening on" on stderr, or an exit with tcpdump's reason.
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new UserError('UNSUPPORTED', `cannot capture on ${iface}: tcpdump did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      const onData = (): void => {
        if (!stderr.includes('listening on')) return;
        clearTimeout(timer);
        proc.stderr!.off('data', onData);
        resolve();
      };
      proc.stderr!.on('data', onData);
      proc.once('error', (e) => {
        clearTimeout(timer);
        reject(new UserError('NO_TCPDUMP', `cannot run ${command}: ${e.message}`));
      });
      void closed.then(() => {
        clearTimeout(timer);
        reject(openError(iface, filter, stderr));
      });
    });
  } catch (e) {
    if (!exited) proc.kill('SIGKILL');
    await closed;
    cleanup();
    throw e;
  }

  // The link type and snaplen, from the file header tcpdump writes when it opens the file.
  let linkType = -1;
  const first = join(dir, base);
  for (let waited = 0; waited < 2000 && linkType < 0; waited += 5) {
    const head = readHead(first);
    if (head) linkType = head.readUInt32LE(0) === 0xa1b2c3d4 ? head.readUInt32LE(20) & 0x03ffffff : head.readUInt32BE(20) & 0x03ffffff;
    else await new Promise((r) => setTimeout(r, 5));
  }

  let delivered = 0;
  let bytes = 0;
  let lastPacketAt = performance.now();
  let stopping = false;
  let discard = false;
  let failure: unknown = null;
  let finished = false;
  let finishing = false;
  let endedItself: string | null = null;
  const spool = new Spool(dir, base, spoolLimit, {
    packet: (p: Packet) => {
      if (discard) return;
      delivered++;
      bytes += p.data.length;
      lastPacketAt = performance.now();
      handlers.packet(p);
    },
    anomaly: handlers.anomaly,
  });

  const stats = (): LiveStats => {
    const k = parseTcpdumpStats(stderr);
    const pos = finished ? { backlogBytes: 0, droppedPackets: spoolDropped.packets, droppedBytes: spoolDropped.bytes } : spool.position();
    const behind = pos.backlogBytes > 0 && spool.lastTimeUs !== null ? Math.max(0, (nowUs() - spool.lastTimeUs) / 1e6) : 0;
    return {
      received: k?.received ?? null,
      captured: k?.captured ?? null,
      kernelDropped: k?.dropped ?? null,
      ifDropped: k?.ifDropped ?? null,
      delivered,
      bytes,
      pgsniffDropped: pos.droppedPackets,
      pgsniffDroppedBytes: pos.droppedBytes,
      backlogBytes: pos.backlogBytes,
      backlogSeconds: behind,
    };
  };
  const spoolDropped = { packets: 0, bytes: 0 };

  let resolveDone!: (s: LiveStats) => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<LiveStats>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });

  let statsTimer: NodeJS.Timeout | undefined;
  const startTimer = (): void => { statsTimer = setInterval(() => {
    if (!exited) proc.kill('SIGUSR1');
    try {
      spool.enforceLimit();
      handlers.status?.(stats());
    } catch (e) {
      fail(e);
    }
  }, STATS_MS); };

  function fail(e: unknown): void {
    if (failure === null) failure = e;
    stop(false);
  }

  async function finish(): Promise<void> {
    if (finishing) return;
    finishing = true;
    clearInterval(statsTimer);
    await closed;
    const pos = spool.position();
    spoolDropped.packets = pos.droppedPackets;
    spoolDropped.bytes = pos.droppedBytes;
    spool.close();
    finished = true;
    const s = stats();
    cleanup();
    if (failure !== null) rejectDone(failure);
    else resolveDone(s);
  }

  const pump = (): void => {
    try {
      if (discard) {
        void finish();
        return;
      }
      for (let turn = 0; ; turn++) {
        const r = spool.step(exited);
        if (r === 'data' || r === 'more') {
          if (r === 'more') spool.enforceLimit();
          if (turn + 1 >= CHUNKS_PER_TURN) {
            setImmediate(pump);
            return;
          }
          continue;
        }
        handlers.idle?.();
        if (r === 'end') void finish();
        else setTimeout(pump, POLL_MS);
        return;
      }
    } catch (e) {
      failure ??= e;
      discard = true;
      if (!exited) proc.kill('SIGINT');
      void finish();
    }
  };

  function stop(drain = true): void {
    if (!drain) discard = true;
    if (stopping) return;
    stopping = true;
    // tcpdump writes its last packets, prints the kernel's statistics and exits; the pump then
    // reads the spool to its end.
    if (!exited) proc.kill('SIGINT');
  }

  // A capture process that dies on its own (killed, device gone) ends the capture: what it
  // wrote is still decoded, and its last words say why.
  void closed.then(() => {
    if (!stopping && failure === null) {
      stopping = true;
      const why = stderr.split('\n').map((l) => l.replace(/^(tcpdump|pgsniff-capture): /, '').trim()).filter((l) => l !== '' && !/packets? (captured|received|dropped)|listening on/.test(l)).pop();
      endedItself = `the capture process (${helper !== null ? 'pgsniff-capture' : 'tcpdump'}) ended by itself (${exitText})${why ? `: ${why}` : ''}`;
    }
  });

  let attached = false;
  const attach = (h: LiveSourceHandlers): void => {
    if (attached) return;
    attached = true;
    handlers = h;
    holdRefs.get(options)?.();
    startTimer();
    setImmediate(pump);
  };
  if (!held) attach(handlers);

  return {
    iface,
    filter,
    snaplen,
    linkType,
    get running() {
      return !stopping && !exited;
    },
    get endedItself() {
      return endedItself;
    },
    stats,
    settle: (quietMs = 100, maxMs = 2000) =>
      new Promise<void>((resolve) => {
        const start = performance.now();
        const tick = (): void => {
          const now = performance.now();
          const quietSince = Math.max(lastPacketAt, start);
          if (finished || (spool.caughtUp && now - quietSince >= quietMs) || now - start >= maxMs) resolve();
          else setTimeout(tick, POLL_MS);
        };
        setTimeout(tick, Math.min(quietMs, maxMs));
      }),
    stop,
    done,
    attach,
  };
}

function readHead(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const b = Buffer.alloc(24);
    return readSync(fd, b, 0, 24, 0) === 24 ? b : null;
  } finally {
    closeSync(fd);
  }
}
