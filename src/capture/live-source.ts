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
 * Neither can outlive pgsniff: pgsniff-capture asks the kernel for it (prctl), tcpdump runs under
 * `setpriv --pdeathsig KILL` where util-linux has it. Starting the process is
 * src/capture/capture-process.ts's part (kept apart so the command can start it before the rest
 * of pgsniff loads).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { AnomalyHandler } from '../core/anomaly.js';
import { UserError } from '../core/errors.js';
import { findTcpdump, openError, startCaptureProcess, takeEarlyCapture, type CaptureProcess } from './capture-process.js';
import type { Packet, PacketHandler } from './packet.js';
import { Spool } from './spool.js';

export { defaultCaptureFilter, findCaptureHelper, findTcpdump, openError } from './capture-process.js';

/** Bytes the capture process may be ahead of the decoder before pgsniff drops (whole files). */
const DEFAULT_SPOOL_LIMIT = 1024 * 1024 * 1024;
/** How often an idle reader looks for new packets: well inside the 100 ms output budget. */
const POLL_MS = 10;
/** Chunks decoded before the reader yields to the event loop (output, timers, signals). */
const CHUNKS_PER_TURN = 4;
const STATS_MS = 1000;

interface LiveSourceOptions {
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

interface LiveSourceHandlers {
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

/** Parses tcpdump's statistics (the SIGUSR1 line or the exit block); the last report wins. */
export function parseTcpdumpStats(text: string): { captured: number; received: number; dropped: number; ifDropped: number } | null {
  const re = /(\d+) packets? captured[,\s]+(\d+) packets? received by filter[,\s]+(\d+) packets? dropped by kernel(?:[,\s]+(\d+) packets? dropped by interface)?/g;
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) last = m;
  if (last === null) return null;
  return { captured: Number(last[1]), received: Number(last[2]), dropped: Number(last[3]), ifDropped: last[4] ? Number(last[4]) : 0 };
}

function nowUs(): number {
  return Date.now() * 1000;
}

/**
 * PGSNIFF_SPOOL_LIMIT_MB: the spool's bound in MB (1,000,000 bytes), for a temporary directory
 * with less room than the default 1 GiB (a tmpfs /tmp is memory). Null when not set.
 */
function spoolLimitFromEnv(): number | null {
  const v = process.env.PGSNIFF_SPOOL_LIMIT_MB;
  if (v === undefined || v === '') return null;
  const mb = Number(v);
  if (!Number.isInteger(mb) || mb < 1 || mb > 1_000_000) {
    throw new UserError('BAD_ARGUMENT', `PGSNIFF_SPOOL_LIMIT_MB must be a whole number of MB from 1 to 1000000, not "${v}"`);
  }
  return mb * 1_000_000;
}

/**
 * The capture the command's entry point started for this interface and filter
 * (capture-process.ts's startEarlyCapture, before the pipeline loaded), as a LiveSource that
 * delivers nothing until attach(); null if none was started.
 */
export function takePrestarted(iface: string, filter: string): Promise<LiveSource> | null {
  const cp = takeEarlyCapture(iface, filter);
  return cp === null ? null : sourceOf(cp, { iface, filter, hold: true });
}

/**
 * Starts the capture process and resolves once its handle is open ("listening on") and the first
 * spool file has its header. Throws a UserError: NO_TCPDUMP, NO_INTERFACE, EACCES, BAD_FILTER,
 * BAD_ARGUMENT, UNSUPPORTED.
 */
export async function openLiveSource(options: LiveSourceOptions, initialHandlers?: LiveSourceHandlers): Promise<LiveSource> {
  const cp = startCaptureProcess(options);
  return sourceOf(cp, options, initialHandlers);
}

async function sourceOf(cp: CaptureProcess, options: LiveSourceOptions, initialHandlers?: LiveSourceHandlers): Promise<LiveSource> {
  let handlers: LiveSourceHandlers = initialHandlers ?? { packet: () => undefined, anomaly: () => undefined };
  const { iface, filter, snaplen, proc, dir, base, closed } = cp;
  const held = options.hold === true;
  let spoolLimit: number;
  try {
    spoolLimit = options.spoolLimit ?? spoolLimitFromEnv() ?? DEFAULT_SPOOL_LIMIT;
    await cp.opened;
  } catch (e) {
    if (!cp.exited) proc.kill('SIGKILL');
    await closed;
    cp.removeDir();
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
    // Through `handlers` at each call: a held capture gets its real handlers at attach(), after this.
    anomaly: (a) => handlers.anomaly(a),
  });

  const stats = (): LiveStats => {
    const k = parseTcpdumpStats(cp.stderr);
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
    if (!cp.exited) proc.kill('SIGUSR1');
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
    cp.removeDir();
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
        const r = spool.step(cp.exited);
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
      if (!cp.exited) proc.kill('SIGINT');
      void finish();
    }
  };

  function stop(drain = true): void {
    if (!drain) discard = true;
    if (stopping) return;
    stopping = true;
    // tcpdump writes its last packets, prints the kernel's statistics and exits; the pump then
    // reads the spool to its end.
    if (!cp.exited) proc.kill('SIGINT');
  }

  // A capture process that dies on its own (killed, device gone) ends the capture: what it
  // wrote is still decoded, and its last words say why.
  void closed.then(() => {
    if (!stopping && failure === null) {
      stopping = true;
      const why = cp.stderr.split('\n').map((l) => l.replace(/^(tcpdump|pgsniff-capture): /, '').trim()).filter((l) => l !== '' && !/packets? (captured|received|dropped)|listening on/.test(l)).pop();
      endedItself = `the capture process (${cp.name}) ended by itself (${cp.exitText})${why ? `: ${why}` : ''}`;
    }
  });

  let attached = false;
  const attach = (h: LiveSourceHandlers): void => {
    if (attached) return;
    attached = true;
    handlers = h;
    cp.ref();
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
      return !stopping && !cp.exited;
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
