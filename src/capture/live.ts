/**
 * Live capture through libpcap, by way of the optional npm addon `cap`: what scripts/make-samples
 * captures with (in a private network namespace) and what `pgsniff -D` lists interfaces and
 * their addresses with. `pgsniff -i` does not use it (src/capture/live-source.ts says why).
 *
 * `cap` is loaded lazily: pgsniff must import and read files where the addon is missing or not
 * built, and only a live capture then fails, with a UserError saying what to install.
 *
 * What `cap` (0.2.x) does and does not give, and what this module does about it:
 * - It hands over only the captured length and a "did not fit the buffer" flag, not libpcap's
 *   packet header: neither the capture timestamp nor the length on the wire. Timestamps are
 *   therefore taken from the host clock when libpcap dispatches the packet (immediate mode is
 *   on, so that is within a fraction of a millisecond of arrival on an idle host, but packets
 *   read in one batch get nearly equal times). The clock is monotonic, so times never go
 *   backwards. The length on the wire is recovered from the IP header when a packet fills the
 *   whole buffer (see inferOrigLen).
 * - libpcap's snaplen is fixed at 65535 inside the addon; a smaller snaplen is applied by
 *   giving the addon a smaller buffer. On Linux `lo` (MTU 65536) a full-size TCP segment is a
 *   65549-byte frame, so such frames lose their last 14 bytes: capture on an interface with a
 *   smaller MTU (the sample generator uses a private network namespace) when that matters.
 * - No pcap_stats: stats() counts what was delivered and says that drops are unknown.
 * - The packet buffer is reused for every packet: Packet.data is valid only during the handler.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { Anomaly, AnomalyHandler } from '../core/anomaly.js';
import { UserError } from '../core/errors.js';
import type { Packet, PacketHandler } from './packet.js';

/** The part of the `cap` addon this module uses. */
interface CapInstance {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): boolean;
  on(event: 'packet', listener: (nbytes: number, truncated: boolean) => void): unknown;
  removeAllListeners(event?: string): unknown;
}
interface CapDevice {
  name: string;
  description?: string;
  addresses?: { addr?: string }[];
  flags?: string;
}
interface CapModule {
  Cap: { new (): CapInstance; deviceList(): CapDevice[] };
}

let capModule: CapModule | null | undefined;

function loadCap(): CapModule | null {
  if (capModule !== undefined) return capModule;
  try {
    const require = createRequire(import.meta.url);
    capModule = require('cap') as CapModule;
  } catch {
    capModule = null;
  }
  return capModule;
}

function requireCap(): CapModule {
  const cap = loadCap();
  if (!cap) {
    throw new UserError('NO_LIBPCAP', 'live capture needs libpcap: apt-get install libpcap-dev make g++ python3, then npm rebuild cap');
  }
  return cap;
}

/** True when the `cap` addon loads (live capture may still need root or CAP_NET_RAW). */
export function liveCaptureAvailable(): boolean {
  return loadCap() !== null;
}

interface InterfaceInfo {
  name: string;
  /** libpcap's description, null when it has none (most real interfaces on Linux). */
  description: string | null;
  /** IPv4 and IPv6 addresses, textual. */
  addresses: string[];
  loopback: boolean;
}

/** Interfaces libpcap can capture on, in libpcap's order (for `pgsniff -D`). */
export function listInterfaces(): InterfaceInfo[] {
  const cap = requireCap();
  return cap.Cap.deviceList().map((d) => ({
    name: d.name,
    description: d.description ?? null,
    addresses: (d.addresses ?? []).map((a) => a.addr).filter((a): a is string => typeof a === 'string'),
    loopback: typeof d.flags === 'string' && d.flags.includes('PCAP_IF_LOOPBACK'),
  }));
}

interface LiveCaptureOptions {
  /** Interface name as listInterfaces() gives it; `any` captures all (Linux cooked header). */
  iface: string;
  /** Capture filter in pcap-filter (BPF) syntax; '' or absent captures everything. */
  filter?: string;
  /** Bytes kept of each packet, at most 65535 (the addon's fixed libpcap snaplen). */
  snaplen?: number;
  /** libpcap's kernel buffer in bytes (default 8 MiB); packets beyond it are dropped by the kernel. */
  bufferSize?: number;
}

interface LiveCaptureHandlers {
  packet: PacketHandler;
  /** Capture-level anomalies: a packet cut short whose length on the wire could not be recovered. */
  anomaly?: AnomalyHandler;
  /** An exception thrown by a handler stops the capture and is passed here (else re-thrown
   * asynchronously, so it cannot unwind through the native addon). */
  error?: (e: unknown) => void;
}

interface LiveCaptureStats {
  /** Packets delivered to the handler. */
  delivered: number;
  /** Packets libpcap received and dropped: null because the `cap` addon does not expose
   * pcap_stats(), so kernel drops cannot be known. */
  received: number | null;
  dropped: number | null;
  ifDropped: number | null;
  /** Packets that filled the whole buffer (cut by snaplen). */
  cut: number;
}

export interface LiveCapture {
  readonly iface: string;
  readonly filter: string;
  /** LINKTYPE_* of the packets, for a pcap writer's header and the link decoder. */
  readonly linkType: number;
  /** The addon's name for it: ETHERNET, LINKTYPE_LINUX_SLL, NULL, RAW, ... */
  readonly linkTypeName: string;
  /** Effective snaplen (what a pcap writer should put in its header). */
  readonly snaplen: number;
  readonly running: boolean;
  stats(): LiveCaptureStats;
  /** Resolves when no packet has arrived for quietMs (or after maxMs at most), so a caller can
   * let the last packets of an exchange arrive before stop(). */
  settle(quietMs?: number, maxMs?: number): Promise<void>;
  /** Stops capturing and releases libpcap; idempotent. Packets still queued in the kernel are lost. */
  stop(): void;
}

const CAP_SNAPLEN = 65535;
const DEFAULT_BUFFER = 8 * 1024 * 1024;

/**
 * Every `cap` instance is kept alive for the life of the process. The addon initialises a
 * libuv poll handle on open() but never uv_close()s it, so when an instance is garbage-collected
 * its memory is freed while libuv still links it into the loop's handle queue, and the next
 * handle the process opens corrupts memory (seen here as a segfault). After a failed open() the
 * destructor would even stop a poll handle that was never initialised. An instance is a few
 * hundred bytes once closed; a process opens few.
 */
const retained: CapInstance[] = [];

/** LINKTYPE_* values (tcpdump.org/linktypes.html) of the addon's link type names. */
function linkTypeNumber(name: string): number {
  switch (name) {
    case 'NULL':
      return 0;
    case 'ETHERNET':
      return 1;
    case 'RAW':
      return 101; // DLT_RAW's number differs between systems; the file format's value does not
    case 'IEEE802_11_RADIO':
      return 127;
    case 'LINKTYPE_LINUX_SLL':
      return 113;
    default: {
      // Other types come back as "Unknown linktype N", N being the DLT. For everything pgsniff
      // decodes (SLL2 = 276 among them) DLT and LINKTYPE numbers coincide.
      const m = /^Unknown linktype (\d+)$/.exec(name);
      return m ? Number(m[1]) : -1;
    }
  }
}

/**
 * Length on the wire of a packet that filled the buffer, from its IP header's length field;
 * null when the link or network type is not one this knows. The addon does not pass libpcap's
 * len field, and without this a snaplen cut would look like a short, complete packet.
 */
export function inferOrigLen(linkType: number, data: Buffer, capLen: number): number | null {
  let off: number;
  let proto: number; // 4 or 6
  switch (linkType) {
    case 1: {
      // Ethernet, possibly with 802.1Q / 802.1ad tags.
      off = 12;
      let type = capLen >= 14 ? data.readUInt16BE(12) : -1;
      while ((type === 0x8100 || type === 0x88a8) && off + 6 <= capLen) {
        off += 4;
        type = data.readUInt16BE(off);
      }
      off += 2;
      proto = type === 0x0800 ? 4 : type === 0x86dd ? 6 : 0;
      break;
    }
    case 113: // Linux SLL: protocol at 14, header 16
      off = 16;
      proto = capLen >= 16 ? etherProto(data.readUInt16BE(14)) : 0;
      break;
    case 276: // Linux SLL2: protocol at 0, header 20
      off = 20;
      proto = capLen >= 20 ? etherProto(data.readUInt16BE(0)) : 0;
      break;
    case 0: {
      // BSD loopback: address family in host byte order; IPv6 has several values.
      off = 4;
      if (capLen < 4) return null;
      const fam = data.readUInt32LE(0) > 0xffff ? data.readUInt32BE(0) : data.readUInt32LE(0);
      proto = fam === 2 ? 4 : fam === 10 || fam === 24 || fam === 28 || fam === 30 ? 6 : 0;
      break;
    }
    case 101:
    case 12:
      off = 0;
      proto = capLen >= 1 ? data[0]! >> 4 : 0;
      break;
    default:
      return null;
  }
  if (proto === 4 && off + 4 <= capLen) return Math.max(capLen, off + data.readUInt16BE(off + 2));
  // IPv6 payload length excludes the 40-byte fixed header; 0 means a jumbogram (unknown).
  if (proto === 6 && off + 6 <= capLen) {
    const payload = data.readUInt16BE(off + 4);
    return payload === 0 ? null : Math.max(capLen, off + 40 + payload);
  }
  return null;
}

function etherProto(type: number): number {
  return type === 0x0800 ? 4 : type === 0x86dd ? 6 : 0;
}

/** Capture time from the host clock: wall-clock origin plus a monotonic offset, in µs. */
function nowUs(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Maps libpcap's messages to UserErrors; null when the message says nothing recognisable. */
function classifyOpenError(iface: string, msg: string): UserError | null {
  if (/permission|not permitted|EPERM|EACCES/i.test(msg)) {
    return new UserError(
      'EACCES',
      `no permission to capture on ${iface}: run as root or grant CAP_NET_RAW (setcap cap_net_raw+eip $(which node))`,
    );
  }
  if (/no such device|doesn't exist|does not exist|not found|no such interface/i.test(msg)) {
    return new UserError('NO_INTERFACE', `no such interface: ${iface} (pgsniff -D lists them)`);
  }
  return null;
}

/** Opens a handle (the instance is retained, see above), or throws the addon's error. */
function openCap(cap: CapModule, iface: string, filter: string, bufSize: number, buffer: Buffer): { c: CapInstance; linkName: string } {
  const c = new cap.Cap();
  retained.push(c);
  return { c, linkName: c.open(iface, filter, bufSize, buffer) };
}

/**
 * Starts capturing on an interface; packets are pushed to handlers.packet from the event loop,
 * frames numbered from 1, fileOffset -1. Throws UserError NO_LIBPCAP, NO_INTERFACE, EACCES,
 * BAD_FILTER or BAD_ARGUMENT; the capture keeps the process alive until stop().
 */
export function startLiveCapture(options: LiveCaptureOptions, handlers: LiveCaptureHandlers): LiveCapture {
  const cap = requireCap();
  const iface = options.iface;
  const filter = options.filter ?? '';
  const snaplen = Math.min(options.snaplen ?? CAP_SNAPLEN, CAP_SNAPLEN);
  const bufferSize = options.bufferSize ?? DEFAULT_BUFFER;
  if (typeof iface !== 'string' || iface === '') throw new UserError('BAD_ARGUMENT', 'no interface given');
  if (!Number.isInteger(snaplen) || snaplen < 64) {
    throw new UserError('BAD_ARGUMENT', `snaplen must be an integer from 64 to ${CAP_SNAPLEN}`);
  }
  if (!Number.isInteger(bufferSize) || bufferSize < 65536 || bufferSize > 0x7fffffff) {
    throw new UserError('BAD_ARGUMENT', 'capture buffer size must be an integer from 65536 bytes to 2 GiB');
  }

  // An interface libpcap does not list is refused before opening: the addon would print a
  // warning of its own to stderr and leave a handle behind.
  let devices: CapDevice[] = [];
  try {
    devices = cap.Cap.deviceList();
  } catch {
    // Listing can fail without permission on some systems; opening then tells what is wrong.
  }
  if (devices.length > 0 && !devices.some((d) => d.name === iface)) {
    throw new UserError('NO_INTERFACE', `no such interface: ${iface} (pgsniff -D lists them)`);
  }

  const buffer = Buffer.alloc(snaplen);
  let opened: { c: CapInstance; linkName: string };
  if (filter !== '') {
    // Try the filter on a small handle first: a failing open cannot be undone (see retained),
    // so a bad filter should cost a small kernel buffer, not the full one; and an open that
    // fails with the filter but works without it tells that the filter is what is wrong.
    let probe: { c: CapInstance; linkName: string };
    try {
      probe = openCap(cap, iface, filter, 65536, Buffer.alloc(64));
    } catch (e) {
      const msg = errorText(e);
      // Permission is checked before anything else libpcap does; other messages may come from
      // the filter compiler and are only trusted once an open without the filter has been tried.
      const denied = classifyOpenError(iface, msg);
      if (denied?.code === 'EACCES') throw denied;
      let plainWorks = false;
      try {
        const plain = openCap(cap, iface, '', 65536, Buffer.alloc(64));
        plain.c.close();
        plainWorks = true;
      } catch (e2) {
        const known2 = classifyOpenError(iface, errorText(e2));
        if (known2) throw known2;
      }
      if (plainWorks) throw new UserError('BAD_FILTER', `bad capture filter "${filter}": ${msg}`);
      throw new UserError('UNSUPPORTED', `cannot capture on ${iface}: ${msg}`);
    }
    probe.c.close();
  }
  try {
    opened = openCap(cap, iface, filter, bufferSize, buffer);
  } catch (e) {
    const msg = errorText(e);
    throw classifyOpenError(iface, msg) ?? new UserError('UNSUPPORTED', `cannot capture on ${iface}: ${msg}`);
  }

  const c = opened.c;
  const linkTypeName = opened.linkName;
  const linkType = linkTypeNumber(linkTypeName);
  if (linkType < 0) {
    c.close();
    throw new UserError('UNSUPPORTED', `cannot capture on ${iface}: link type ${linkTypeName}`);
  }

  let running = true;
  let frame = 0;
  let cut = 0;
  let lastPacketAt = performance.now();

  const fail = (e: unknown) => {
    stop();
    if (handlers.error) handlers.error(e);
    else
      process.nextTick(() => {
        throw e;
      });
  };

  c.on('packet', (nbytes, truncated) => {
    if (!running) return;
    lastPacketAt = performance.now();
    const timeUs = nowUs();
    frame++;
    const data = buffer.subarray(0, nbytes);
    let origLen = nbytes;
    if (truncated || nbytes >= buffer.length) {
      cut++;
      const inferred = inferOrigLen(linkType, buffer, nbytes);
      if (inferred !== null) origLen = inferred;
      else if (truncated && handlers.anomaly) {
        const a: Anomaly = {
          code: 'packet-truncated',
          reason: `packet cut at ${nbytes} bytes by the capture buffer; its length on the wire is unknown`,
          frame,
          timeUs,
          session: null,
        };
        try {
          handlers.anomaly(a);
        } catch (e) {
          fail(e);
          return;
        }
      }
    }
    const p: Packet = { frame, timeUs, linkType, data, origLen, interfaceId: 0, fileOffset: -1 };
    try {
      handlers.packet(p);
    } catch (e) {
      fail(e);
    }
  });

  function stop(): void {
    if (!running) return;
    running = false;
    c.close();
    c.removeAllListeners('packet');
  }

  return {
    iface,
    filter,
    linkType,
    linkTypeName,
    snaplen,
    get running() {
      return running;
    },
    stats: () => ({ delivered: frame, received: null, dropped: null, ifDropped: null, cut }),
    settle: (quietMs = 100, maxMs = 2000) =>
      new Promise<void>((resolve) => {
        // Quiet time counts from the call at the earliest: packets the caller just caused may
        // still be on their way through the kernel.
        const start = performance.now();
        const tick = () => {
          const now = performance.now();
          const quietSince = Math.max(lastPacketAt, start);
          if (!running || now - quietSince >= quietMs || now - start >= maxMs) resolve();
          else setTimeout(tick, Math.max(5, Math.min(quietMs - (now - quietSince), maxMs - (now - start))));
        };
        setTimeout(tick, quietMs);
      }),
    stop,
  };
}
