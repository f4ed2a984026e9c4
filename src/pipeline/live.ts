/**
 * Live capture through the pipeline: libpcap (src/capture/live.ts) pushes packets into a
 * PacketPipeline, optionally also into a pcap writer (-w). Stops on stop(), after -c packets
 * or --duration seconds.
 */
import { startLiveCapture, type LiveCapture, type LiveStats } from '../capture/live.js';
import { PcapWriter } from '../capture/pcap-writer.js';
import type { Packet } from '../capture/packet.js';
import { PacketPipeline, DEFAULT_SERVER_PORT, type AnalyzeOptions, type AnalyzeSummary } from './analyze.js';
import type { PipelineSink } from './events.js';

export interface LiveOptions extends AnalyzeOptions {
  iface: string;
  /** BPF capture filter; default: tcp port 5432 or the -p ports. */
  captureFilter?: string | null;
  write?: string | null;
  count?: number | null;
  durationSec?: number | null;
  /** libpcap's kernel buffer; default 128 MiB (tcpdump -B 131072): with 8 MiB, pauses such as
   * start-up and garbage collection overflow it at a few thousand transactions a second. */
  bufferSize?: number;
}

export const DEFAULT_LIVE_BUFFER = 128 * 1024 * 1024;

/**
 * What the capture missed, as the TCP streams show it: each stretch of payload that never
 * arrived is a gap anomaly. Kernel drops themselves are unknown (LiveStats.dropped), so this is
 * how a loss under load is reported.
 */
export interface LiveLoss {
  gaps: number;
  bytes: number;
}

export interface LiveAnalysis {
  readonly capture: LiveCapture;
  /** Resolves when the capture has stopped (stop(), count, duration) and the pipeline has finished. */
  readonly done: Promise<AnalyzeSummary & { live: LiveStats; lost: LiveLoss }>;
  stop(): void;
}

export function defaultCaptureFilter(ports: number[] = []): string {
  const all = [DEFAULT_SERVER_PORT, ...ports.filter((p) => p !== DEFAULT_SERVER_PORT)];
  return 'tcp and (' + all.map((p) => `port ${p}`).join(' or ') + ')';
}

export function analyzeLive(sink: PipelineSink, opts: LiveOptions): LiveAnalysis {
  const pipeline = new PacketPipeline(sink, { watchKeylog: true, ...opts });
  let writer: PcapWriter | null = null;
  let stopRequested = false;
  let resolveStop!: () => void;
  const stopped = new Promise<void>((r) => { resolveStop = r; });
  let failure: unknown = null;
  const onPacket = (p: Packet): void => {
    writer?.write(p);
    pipeline.packet(p);
    if (opts.count && pipeline.packets >= opts.count) stop();
  };
  const capture = startLiveCapture(
    { iface: opts.iface, filter: opts.captureFilter ?? defaultCaptureFilter(opts.ports), bufferSize: opts.bufferSize ?? DEFAULT_LIVE_BUFFER },
    { packet: onPacket, anomaly: pipeline.anomaly, error: (e) => { failure = e; stop(); } },
  );
  if (opts.write) writer = new PcapWriter(opts.write, capture.linkType, { snaplen: capture.snaplen });
  const timer = opts.durationSec ? setTimeout(() => stop(), opts.durationSec * 1000) : null;
  function stop(): void {
    if (stopRequested) return;
    stopRequested = true;
    if (timer) clearTimeout(timer);
    resolveStop();
  }
  opts.signal?.addEventListener('abort', stop, { once: true });
  const done = (async () => {
    await stopped;
    const live = capture.stats();
    capture.stop();
    await writer?.close();
    await pipeline.finish();
    if (failure) throw failure;
    const a = pipeline.analyzer;
    return {
      packets: pipeline.packets, connections: a.connections, messages: a.messages, anomalies: a.anomalies, capture: null, live,
      lost: { gaps: a.gaps, bytes: a.gapBytes },
    };
  })();
  return { capture, done, stop };
}
