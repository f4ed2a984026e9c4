/**
 * Live capture through the pipeline: the capture process (src/capture/live-source.ts) captures,
 * the spool hands its packets to a PacketPipeline (and to a pcap writer with -w). Stops on
 * stop(), after -c packets or --duration seconds; a final `capture` record gives the kernel's
 * and pgsniff's counts.
 */
import { defaultCaptureFilter, openLiveSource, takePrestarted, type LiveSource, type LiveStats } from '../capture/live-source.js';
import { PcapWriter } from '../capture/pcap-writer.js';
import type { Packet } from '../capture/packet.js';
import { isoTime } from '../core/time.js';
import { PacketPipeline, type AnalyzeOptions, type AnalyzeSummary } from './analyze.js';
import type { CaptureRecord, PipelineSink } from './events.js';

export type { LiveStats };

export interface LiveOptions extends AnalyzeOptions {
  iface: string;
  /** BPF capture filter; default: tcp port 5432 or the -p ports. */
  captureFilter?: string | null;
  write?: string | null;
  count?: number | null;
  durationSec?: number | null;
  /** The kernel's capture buffer in bytes (tcpdump -B); default 32 MiB (capture-process.ts). */
  bufferSize?: number;
  /** Bytes captured and not yet decoded that pgsniff keeps before it drops (default 1 GiB). */
  spoolLimit?: number;
  /**
   * With --export: delivers what the export still holds and says how many rows it had to drop,
   * for the capture record (asked once, after the last records).
   */
  exportDropped?: () => Promise<number>;
  /** The capture's figures about once a second (kernel drops, backlog). */
  onStatus?: (s: LiveStats) => void;
}

/** What the TCP streams show of losses: each stretch of payload that never arrived is a gap anomaly. */
interface LiveLoss {
  gaps: number;
  bytes: number;
}

export type LiveSummary = AnalyzeSummary & { live: LiveStats; lost: LiveLoss; endedItself: string | null };

/** The capture as callers see it before it is open: names at once, settle() once it runs. */
interface LiveCaptureView {
  readonly iface: string;
  readonly filter: string;
  settle(quietMs?: number, maxMs?: number): Promise<void>;
  stats(): LiveStats | null;
}

export interface LiveAnalysis {
  readonly capture: LiveCaptureView;
  /** Resolves once the capture handle is open (print "capturing on" after it); rejects with the
   * UserError that prevented it (no tcpdump, no permission, unknown interface, bad filter). */
  readonly ready: Promise<void>;
  /** Resolves when the capture has stopped (stop(), count, duration), everything captured was
   * decoded and the pipeline has finished. */
  readonly done: Promise<LiveSummary>;
  stop(): void;
}

/** The final `capture` record. */
function captureRecord(source: { iface: string; filter: string; snaplen: number }, s: LiveStats, lastFrame: number | null): CaptureRecord {
  return {
    kind: 'capture',
    session: null,
    time: isoTime(Date.now() * 1000),
    frame: lastFrame,
    interface: source.iface,
    filter: source.filter,
    snaplen: source.snaplen,
    received: s.received,
    captured: s.captured,
    decoded: s.delivered,
    droppedByKernel: s.kernelDropped,
    droppedByInterface: s.ifDropped,
    droppedByPgsniff: s.pgsniffDropped,
    bytes: s.bytes,
    bytesDroppedByPgsniff: s.pgsniffDroppedBytes,
  };
}

export function analyzeLive(sink: PipelineSink, opts: LiveOptions): LiveAnalysis {
  const pipeline = new PacketPipeline(sink, { watchKeylog: true, ...opts });
  const filter = opts.captureFilter ?? defaultCaptureFilter(opts.ports);
  let writer = null as PcapWriter | null;
  let source = null as LiveSource | null;
  let stopRequested = false;
  let countReached = false;
  let timer: NodeJS.Timeout | null = null;

  const onPacket = (p: Packet): void => {
    if (countReached) return;
    writer?.write(p);
    pipeline.packet(p);
    if (opts.count && pipeline.packets >= opts.count) {
      countReached = true;
      source?.stop(false);
    }
  };

  const ready = (async () => {
    const handlers = {
      packet: onPacket,
      anomaly: pipeline.anomaly,
      // Caught up with the capture: what is complete goes out now, not when a batch fills.
      idle: () => sink.idle?.(),
      status: opts.onStatus,
    };
    // The command's entry point may have started this capture before the pipeline loaded.
    const early = opts.bufferSize === undefined && opts.spoolLimit === undefined ? takePrestarted(opts.iface, filter) : null;
    let s: LiveSource;
    if (early) {
      s = await early;
      s.attach(handlers);
    } else {
      s = await openLiveSource({ iface: opts.iface, filter, bufferSize: opts.bufferSize, spoolLimit: opts.spoolLimit }, handlers);
    }
    source = s;
    try {
      if (opts.write) writer = new PcapWriter(opts.write, s.linkType < 0 ? 1 : s.linkType, { snaplen: s.snaplen });
    } catch (e) {
      s.stop(false);
      await s.done.catch(() => undefined);
      throw e;
    }
    if (stopRequested) s.stop();
    else if (opts.durationSec) timer = setTimeout(stop, opts.durationSec * 1000);
  })();

  function stop(): void {
    if (stopRequested) return;
    stopRequested = true;
    if (timer) clearTimeout(timer);
    source?.stop();
  }
  opts.signal?.addEventListener('abort', stop, { once: true });

  const done = (async (): Promise<LiveSummary> => {
    await ready;
    const s = source!;
    let live: LiveStats;
    try {
      live = await s.done;
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', stop);
      await writer?.close();
    }
    await pipeline.finish(async () => {
      const rec = captureRecord(s, live, pipeline.packets > 0 ? pipeline.packets : null);
      const exportDropped = await opts.exportDropped?.();
      return exportDropped === undefined ? rec : { ...rec, droppedByExport: exportDropped };
    });
    const a = pipeline.analyzer;
    return {
      packets: pipeline.packets, connections: a.connections, messages: a.messages, anomalies: a.anomalies, capture: null, live,
      lost: { gaps: a.gaps, bytes: a.gapBytes }, endedItself: s.endedItself,
    };
  })();
  // A caller that awaits ready and sees it fail need not also await done.
  done.catch(() => undefined);
  ready.catch(() => undefined);

  const capture: LiveCaptureView = {
    iface: opts.iface,
    filter,
    settle: async (quietMs, maxMs) => {
      await ready;
      await source!.settle(quietMs, maxMs);
    },
    stats: () => source?.stats() ?? null,
  };
  return { capture, ready, done, stop };
}
