/**
 * The flow table: TCP connections by 4-tuple, each direction reassembled by a HalfStream.
 * Limits, defaults and how each one degrades are documented in limits.ts.
 *
 * Connection identity follows tshark's tcp.stream: session ids are 0-based in order of each
 * connection's first segment; both directions share one entry; a SYN (without ACK) on a
 * closed connection, or one whose sequence number differs from what that direction already
 * used, starts a new connection (port reuse) with the next id. Closed connections stay in the
 * table, ignoring stray segments (late ACKs, retransmitted FINs), until they idle out, so that
 * such segments do not open phantom sessions.
 *
 * The server side is decided at the first segment and never revised (see limits.ts).
 */
import type { AnomalyHandler } from '../core/anomaly.js';
import type { TcpSegment } from '../net/segment.js';
import {
  CHECKSUM_OFFLOADED, CHECKSUM_OK, CHECKSUM_UNKNOWN, PacketSegment, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN,
} from '../net/segment.js';
import { CHECKS_SKIPPED, CHECKS_VERIFIED } from './half-stream.js';
import type {
  ConnectionEnd,
  ConnectionInfo,
  ConnectionSink,
  Delivery,
  Direction,
  EndReason,
  FlowTableApi,
  FlowTableOptions,
  StreamConsumer,
} from './types.js';
import { CONNECTION_BYTES, DEFAULT_FLOW_TABLE_OPTIONS, OPENED_CONNECTION_BYTES, SWEEP_INTERVAL_US, TIME_JUMP_US } from './limits.js';
import { HalfStream } from './half-stream.js';
import { seqAdd, seqDiff } from './seq.js';

type Half = HalfStream<Connection>;

/**
 * A connection in the table. Its consumer's sink (PostgreSQL framing, session state: kilobytes)
 * is opened at the connection's first delivered byte, or at its close when it never carried
 * one: until then the Connection itself stands in as the sink of both directions, so that
 * 100,000 SYN-only connections cost only their TCP state.
 */
class Connection implements ConnectionSink {
  readonly info: ConnectionInfo;
  private readonly table: FlowTable;
  /** Null once closed (see HalfStream.detach: a remembered closed connection keeps no sink alive); this connection itself until opened. */
  sink: ConnectionSink | null;
  /** Client to server. */
  readonly fe: Half;
  /**
   * Server to client: made when that side first sends, or when something must ask it (the
   * servers of a SYN flood never answer: 264 bytes each they need not hold). beMade is null until.
   */
  private beHalf: Half | null = null;
  closed = false;
  /** Both FINs were seen while a hole remained: the next segment closes the connection. */
  finGrace = false;
  /** The table's clock (see FlowTable.clock) at the last segment: what idling is measured on. */
  lastUs: number;
  /** The last segment's own frame and timestamp: what an idle close is dated by. */
  lastFrame: number;
  lastTimeUs: number;
  // Least-recently-active list (head = idlest).
  prev: Connection | null = null;
  next: Connection | null = null;
  // Table key, for removal.
  readonly keyLo: string;
  readonly keyHi: string;
  readonly keyPorts: number;

  constructor(info: ConnectionInfo, table: FlowTable, keyLo: string, keyHi: string, keyPorts: number) {
    this.info = info;
    this.table = table;
    this.sink = this;
    this.fe = table.newHalf('frontend', this);
    this.lastUs = info.startTimeUs;
    this.lastFrame = info.startFrame;
    this.lastTimeUs = info.startTimeUs;
    this.keyLo = keyLo;
    this.keyHi = keyHi;
    this.keyPorts = keyPorts;
  }

  /** The consumer's sink, opened now if it was not yet. */
  opened(): ConnectionSink {
    let sink = this.sink!;
    if (sink === this) {
      sink = this.table.openSink(this.info);
      this.sink = sink;
      this.fe.setSink(sink);
      this.beHalf?.setSink(sink);
    }
    return sink;
  }

  /** The first delivery of either direction: open the consumer's sink and hand it on. */
  data(d: Delivery): void {
    this.opened().data(d);
  }

  /** Never called: FlowTable.close ends a connection, unopened or not (the interface wants it). */
  close(end: ConnectionEnd): void {
    this.opened().close(end);
  }

  get be(): Half {
    return (this.beHalf ??= this.table.newHalf('backend', this));
  }

  get beMade(): Half | null {
    return this.beHalf;
  }

  /** Both directions ended (a direction never made has not). */
  get bothFinished(): boolean {
    return this.fe.finished && this.beHalf !== null && this.beHalf.finished;
  }

  get bothFin(): boolean {
    return this.fe.hasFin && this.beHalf !== null && this.beHalf.hasFin;
  }

  /** The direction a segment travels in. */
  half(seg: TcpSegment): Half {
    const c = this.info.client;
    return seg.srcPort === c.port && seg.src === c.ip ? this.fe : this.be;
  }
}

export class FlowTable implements FlowTableApi {
  private readonly consumer: StreamConsumer;
  private readonly onAnomaly: AnomalyHandler;
  private readonly opts: FlowTableOptions;
  private readonly serverPorts: Set<number>;

  /**
   * lower endpoint address -> higher endpoint address -> the connection between them, or when
   * there are several, a map by lowerPort * 65536 + higherPort. Most address pairs carry one
   * connection at a time (and a flood from many addresses, one each): no map for those.
   */
  private readonly table = new Map<string, Map<string, Connection | Map<number, Connection>>>();
  private count = 0;
  private nextId = 0;
  private lruHead: Connection | null = null;
  private lruTail: Connection | null = null;
  private holeHead: Half | null = null;
  private holeTail: Half | null = null;
  private totalBuffered = 0;
  /** Bytes charged for connections against maxConnectionBytes (see limits.ts). */
  private connectionBytes = 0;
  /**
   * The clock every timeout runs on: capture time, advanced by the timestamps' forward steps.
   * A timestamp far from the packets around it (a clock glitch, a hostile frame dated in 2106)
   * must neither expire every hole and connection at once nor, by making "now" the far future,
   * stop timeouts for the rest of the capture: a step of more than TIME_JUMP_US either way is
   * believed only once the next packet is nearer the new time than the old one (a real pause, a
   * capture resumed later, sparse traffic; "on the same side" was not enough: packets 10 s apart
   * confirmed a lone frame dated in 2106); a lone one is a 'time-jump' anomaly and moves nothing.
   * The clock never goes back.
   */
  private nowUs = -Infinity;
  /** The timestamp the clock last followed. */
  private clockRawUs = -Infinity;
  /** A far step waiting for the next packet to confirm it: its timestamp and frame (NaN: none). */
  private jumpRawUs = NaN;
  private jumpFrame = 0;
  private lastSweepUs = -Infinity;
  /** The connection of the previous segment: consecutive segments usually share one. */
  private last: Connection | null = null;
  private lastSessionId: number | null = null;
  private lastNoteValue = 0;

  constructor(consumer: StreamConsumer, onAnomaly: AnomalyHandler, options?: Partial<FlowTableOptions>) {
    this.consumer = consumer;
    this.onAnomaly = onAnomaly;
    this.opts = { ...DEFAULT_FLOW_TABLE_OPTIONS, ...options };
    this.serverPorts = new Set(this.opts.serverPorts);
  }

  /** @internal A connection's direction, made with the connection's sink (detached once it is closed). */
  newHalf(dir: Direction, conn: Connection): Half {
    const h = new HalfStream<Connection>(dir, conn, conn.info.id, conn.sink ?? conn, this.onAnomaly, this.opts.overlap !== 'first');
    if (conn.sink === null) h.detach();
    return h;
  }

  /** Connections in the table (open, and closed ones remembered for port reuse). */
  get connections(): number {
    return this.count;
  }

  /**
   * Session id of the connection the last segment() belonged to (also when that connection
   * was already closed and the segment was ignored), or null before any: lets a frame list
   * show each TCP frame's session without a second lookup.
   */
  get lastSession(): number | null {
    return this.lastSessionId;
  }

  /** What reassembly found about the last segment's payload (half-stream.ts SEG_*; 0 without payload). */
  get lastNote(): number {
    return this.lastNoteValue;
  }

  /** Bytes charged for the connections in the table, against maxConnectionBytes. */
  get connectionBytesCharged(): number {
    return this.connectionBytes;
  }

  /** Opens the consumer's sink of a connection (at its first delivered byte, or its close) and charges it. */
  openSink(info: ConnectionInfo): ConnectionSink {
    this.connectionBytes += OPENED_CONNECTION_BYTES;
    return this.consumer.open(info);
  }

  /** Out-of-order bytes buffered over all connections, as charged against maxBufferedTotal. */
  get bufferedBytes(): number {
    return this.totalBuffered;
  }

  segment(seg: TcpSegment): void {
    this.lastNoteValue = 0;
    const t = seg.timeUs;
    const step = t - this.clockRawUs;
    if (step > 0 && step <= TIME_JUMP_US && this.jumpRawUs !== this.jumpRawUs) {
      // The usual case: a small step forward.
      this.nowUs += step;
      this.clockRawUs = t;
    } else if (step <= 0 && step >= -TIME_JUMP_US && this.jumpRawUs !== this.jumpRawUs) {
      // Reordered timestamps: the clock waits.
    } else {
      this.clockStep(t, seg.frame);
    }
    const flags = seg.flags;
    const syn = (flags & TCP_SYN) !== 0;
    const synOnly = syn && (flags & TCP_ACK) === 0;

    let conn = this.find(seg);
    if (conn && synOnly) {
      if (conn.closed) {
        this.remove(conn);
        conn = undefined;
      } else if (conn.half(seg).seen && conn.half(seg).isn !== seg.seq) {
        // A new initial sequence number on a live 4-tuple: the old connection ended unseen.
        this.close(conn, 'port-reuse', seg.frame, seg.timeUs);
        this.remove(conn);
        conn = undefined;
      }
    }
    if (!conn) {
      conn = this.create(seg);
      this.lastSessionId = conn.info.id;
    } else {
      this.lastSessionId = conn.info.id;
      this.touch(conn, seg);
      if (conn.closed) return;
    }

    const h = conn.half(seg);
    if (h.checksums !== CHECKS_SKIPPED && seg instanceof PacketSegment && !this.checksumAccepted(h, seg)) {
      this.housekeeping(conn, seg);
      return;
    }
    h.seen = true;
    // The windows this side advertises bound what the other side can have in flight, and so
    // how long its out-of-order bytes may have to wait (see directionCap).
    const w = seg.window;
    if (w !== undefined) {
      let win = w;
      if (syn) {
        const ws = seg.wscale;
        if (ws !== undefined && ws >= 0) h.wscale = ws;
      } else if (h.wscale >= 0) {
        // Scaling is in force only when both SYNs announced it (RFC 7323 section 2.2).
        const other = h === conn.fe ? conn.beMade : conn.fe;
        if (other !== null && other.wscale >= 0) win = w << h.wscale;
      }
      if (win > h.maxWindow) h.maxWindow = win;
    }
    if (syn && !h.started) {
      h.isn = seg.seq;
      h.startAt(seqAdd(seg.seq, 1), 0);
      if (synOnly) conn.info.sawSyn = true;
    }
    if (syn && !synOnly) {
      // SYN+ACK acknowledges the client's SYN: the client's first byte is its ack number even
      // when the SYN itself was not captured.
      const other = h === conn.fe ? conn.be : conn.fe;
      if (!other.started && !other.seen) other.startAt(seg.ack, 0);
    }
    const other = h === conn.fe ? conn.beMade : conn.fe;
    // An ACK past a hole, seen earlier, is believed now that the connection moved on (see
    // acknowledgement): before a segment from its receiver, which cannot fill the hole.
    if (other !== null) {
      if (other.ackPending) this.applyPendingAck(other);
      if ((flags & TCP_ACK) !== 0 && other.started && seqDiff(seg.ack, other.nextSeq) > 0) this.acknowledgement(other, seg);
    }
    if ((flags & TCP_RST) !== 0) {
      // RST payload is diagnostic text (RFC 1122 4.2.2.12), not stream data.
      if (this.resetAccepted(conn, h, seg)) this.close(conn, 'rst', seg.frame, seg.timeUs);
    } else {
      this.feed(conn, h, seg, syn);
    }
    // ... and after a segment from its sender, which may be the retransmission that fills it.
    if (h.ackPending && !conn.closed && h.ackPendingFrame !== seg.frame) this.applyPendingAck(h);
    this.housekeeping(conn, seg);
  }

  /**
   * The receiver of `h` acknowledged bytes past h's next one (segment `seg`, from the other
   * side). Held bad-checksum data before the ACK is taken at once, before the segment's own data,
   * so a request reaches the session layer before its answer. A hole before the ACK can be given
   * up (HalfStream.giveUpAcknowledged), but not at once: a capture can show an ACK just before
   * the segment it acknowledges (two interfaces, or the receiving host's capture point), so the
   * ACK is believed at the connection's next segment, after that segment when it comes from the
   * sender. Until then it waits in h.ackPending (the furthest ACK wins).
   */
  private acknowledgement(h: Half, seg: TcpSegment): void {
    if (h.hasSuspects) {
      h.takeSuspects(seg.ack, this.suspectTaken(h, seg.frame));
      this.reconcile(h);
    }
    if (!h.holeBefore(seg.ack)) return;
    if (h.ackPending && seqDiff(seg.ack, h.ackPendingSeq) <= 0) return;
    h.ackPending = true;
    h.ackPendingSeq = seg.ack;
    h.ackPendingFrame = seg.frame;
    h.ackPendingTimeUs = seg.timeUs;
  }

  private applyPendingAck(h: Half): void {
    h.ackPending = false;
    if (h.owner.closed) return;
    h.giveUpAcknowledged(h.ackPendingSeq, h.ackPendingFrame, h.ackPendingTimeUs);
    this.reconcile(h);
    const conn = h.owner;
    if (conn.bothFinished) this.close(conn, 'fin', h.ackPendingFrame, h.ackPendingTimeUs);
  }

  /** After every segment: budgets, hole timeouts, idle sweeps. */
  private housekeeping(conn: Connection, seg: TcpSegment): void {
    const now = this.nowUs;
    if (this.connectionBytes > this.opts.maxConnectionBytes) this.enforceConnections(conn, seg.frame, seg.timeUs);
    this.expireHoles(seg.frame, seg.timeUs);
    this.enforceTotal(seg.frame, seg.timeUs);
    if (now - this.lastSweepUs >= SWEEP_INTERVAL_US) {
      this.lastSweepUs = now;
      this.sweepIdle();
    }
  }

  finish(frame: number, timeUs: number): void {
    this.dropJump();
    const open: Connection[] = [];
    for (let c = this.lruHead; c; c = c.next) if (!c.closed) open.push(c);
    open.sort((a, b) => a.info.id - b.info.id);
    for (const c of open) this.close(c, 'capture-end', frame, timeUs);
    this.table.clear();
    this.count = 0;
    this.connectionBytes = 0;
    this.lruHead = this.lruTail = null;
    this.last = null;
  }

  /**
   * Verifies a segment's checksum where the capture has real ones (issue 19: a RST or a FIN with
   * a bad checksum, which the receiver dropped, must not end the connection). Checksum offload
   * leaves the capturing host's own packets with zero or only the pseudo-header's sum: a
   * direction whose checksums look so, before any correct one, is not verified any more
   * (CHECKS_SKIPPED: one comparison per segment from then on, as for a loopback capture). In a
   * direction with a correct checksum, a RST, FIN or SYN that fails is ignored with a
   * 'bad-checksum' anomaly, and so is a pure ACK (silently: it carries nothing). A data segment
   * that fails is held (HalfStream.holdSuspect): a copy with a correct checksum wins over it, as
   * the receiver dropped the bad one; the receiver's ACK past it takes it, as the receiver got
   * those bytes (real captures hold offloaded data segments beside correct small ones: the
   * capturing host sums its pure ACKs itself, so this is the common way they end); what was taken
   * so is said, once per direction, to be unconfirmed. Wrong ones before any correct one prove
   * nothing and are taken.
   */
  private checksumAccepted(h: Half, seg: PacketSegment): boolean {
    const st = seg.checksum();
    if (st === CHECKSUM_OK) {
      h.checksums = CHECKS_VERIFIED;
      return true;
    }
    if (st === CHECKSUM_UNKNOWN) return true;
    if (h.checksums !== CHECKS_VERIFIED) {
      if (st === CHECKSUM_OFFLOADED) h.checksums = CHECKS_SKIPPED;
      return true;
    }
    const control = (seg.flags & (TCP_RST | TCP_FIN | TCP_SYN)) !== 0;
    if (!control) {
      const start = seg.payloadStart;
      const len = seg.payloadEnd - start;
      if (len === 0) return false;
      // Cut by the snaplen (no checksum to trust either way) or before the stream's start is known: taken.
      if (seg.missing > 0 || !h.started) return true;
      if (h.holdSuspect(seg.seq, seg.data, start, len, seg.frame, seg.timeUs, st === CHECKSUM_OFFLOADED)) {
        const end = seqAdd(seg.seq, len);
        if (!h.sentSet || seqDiff(end, h.sentEnd) > 0) {
          h.sentEnd = end;
          h.sentSet = true;
        }
        if (!h.badDataHeld) {
          h.badDataHeld = true;
          this.onAnomaly({
            code: 'bad-checksum',
            reason: `frame ${seg.frame} carries data with a wrong TCP checksum in a ${h.dir} stream whose other checksums are correct: held until the receiver acknowledges it or a copy with a correct checksum comes (said once for this direction)`,
            frame: seg.frame,
            timeUs: seg.timeUs,
            session: h.owner.info.id,
            dir: h.dir,
          });
        }
        this.enforceDirection(h.owner, h, seg.frame, seg.timeUs);
        this.reconcile(h);
      }
      return false;
    }
    this.onAnomaly({
      code: 'bad-checksum',
      reason: `frame ${seg.frame} has a wrong TCP checksum on a ${(seg.flags & TCP_RST) !== 0 ? 'RST' : (seg.flags & TCP_FIN) !== 0 ? 'FIN' : 'SYN'} in a ${h.dir} stream whose checksums are correct: the receiver dropped it, and so does pgsniff`,
      frame: seg.frame,
      timeUs: seg.timeUs,
      session: h.owner.info.id,
      dir: h.dir,
    });
    return false;
  }

  /** The callback by which a direction reports held bad-checksum data it took (see checksumAccepted). */
  private suspectTaken(h: Half, ackFrame: number | null): (n: number, firstFrame: number, firstTimeUs: number) => void {
    return (n, firstFrame, firstTimeUs) => {
      if (ackFrame !== null) {
        if (h.badDataAcked) return;
        h.badDataAcked = true;
      }
      this.onAnomaly({
        code: 'bad-checksum',
        reason: ackFrame !== null
          ? `data with a wrong TCP checksum in the ${h.dir} stream (from frame ${firstFrame}) was taken once the receiver acknowledged it in frame ${ackFrame}: its bytes are unconfirmed, as no copy with a correct checksum came (said once for this direction)`
          : `${n} data segment${n === 1 ? '' : 's'} with a wrong TCP checksum in the ${h.dir} stream (from frame ${firstFrame}) taken without the receiver's acknowledgement or a correct copy: their bytes are unconfirmed`,
        // Dated by the ACK that took it, or by the first segment taken without one.
        frame: ackFrame ?? firstFrame,
        timeUs: ackFrame !== null ? h.owner.lastTimeUs : firstTimeUs,
        session: h.owner.info.id,
        dir: h.dir,
      });
    };
  }

  /**
   * A RST ends the connection only where a receiver takes it: at the next sequence number
   * expected (RFC 5961 3.2, as Linux does since 3.6: an in-window RST elsewhere draws a
   * challenge ACK and is otherwise ignored), or at the end of what the sender sent when the
   * capture missed some of it, or from a side that never sent a byte (the answer to a SYN).
   */
  private resetAccepted(conn: Connection, h: Half, seg: TcpSegment): boolean {
    if (!h.started || seg.seq === h.nextSeq || (h.sentSet && seg.seq === h.sentEnd)) return true;
    this.onAnomaly({
      code: 'rst-ignored',
      reason: `RST at sequence ${seg.seq} in the ${h.dir} stream, where ${h.nextSeq} was expected: a receiver ignores it, and so does pgsniff`,
      frame: seg.frame,
      timeUs: seg.timeUs,
      session: conn.info.id,
      dir: h.dir,
    });
    return false;
  }

  /** The slow path of the clock (see nowUs): the first timestamp, a far step, or a packet after one. */
  private clockStep(t: number, frame: number): void {
    if (this.clockRawUs === -Infinity) {
      this.nowUs = t;
      this.clockRawUs = t;
      return;
    }
    const step = t - this.clockRawUs;
    const near = step <= TIME_JUMP_US && step >= -TIME_JUMP_US;
    const pending = this.jumpRawUs === this.jumpRawUs;
    if (pending) {
      const jump = this.jumpRawUs - this.clockRawUs;
      const fromJump = Math.abs(t - this.jumpRawUs);
      if (fromJump <= TIME_JUMP_US || (!near && (jump > 0) === (step > 0) && fromJump < Math.abs(step))) {
        // Confirmed: this packet is nearer the new time than the old one (a real pause, a capture
        // resumed; or sparse traffic, packets more than TIME_JUMP_US apart). Time passes forward only.
        if (jump > 0) this.nowUs += jump;
        this.clockRawUs = this.jumpRawUs;
        this.jumpRawUs = NaN;
        this.clockStep(t, frame);
        return;
      }
      if (fromJump > Math.abs(jump) && Math.abs(step) > Math.abs(jump)) {
        // Far from both the old time and the step waiting: this packet is the outlier (a lone
        // frame dated in 2106 after a sparse capture's step of a few seconds), not the step.
        this.reportJump(t, frame, step);
        return;
      }
      this.dropJump();
    }
    if (near) {
      if (step > 0) {
        this.nowUs += step;
        this.clockRawUs = t;
      }
      return;
    }
    this.jumpRawUs = t;
    this.jumpFrame = frame;
  }

  /** The pending far step was a lone one: report it; the clock never followed it. */
  private dropJump(): void {
    if (this.jumpRawUs !== this.jumpRawUs) return;
    this.reportJump(this.jumpRawUs, this.jumpFrame, this.jumpRawUs - this.clockRawUs);
    this.jumpRawUs = NaN;
  }

  private reportJump(rawUs: number, frame: number, stepUs: number): void {
    const s = stepUs / 1e6;
    this.onAnomaly({
      code: 'time-jump',
      reason: `frame ${frame}'s timestamp is ${Math.abs(s).toFixed(0)} s ${s > 0 ? 'after' : 'before'} the packets around it: not used for hole and idle timeouts`,
      frame,
      timeUs: rawUs,
      session: null,
    });
  }

  /** Payload, snaplen-lost tail and FIN of one segment into its direction. */
  private feed(conn: Connection, h: Half, seg: TcpSegment, syn: boolean): void {
    const dataSeq = syn ? seqAdd(seg.seq, 1) : seg.seq;
    // The decoder's segment gives its payload as a range of the packet (no view to make).
    let bytes: Buffer;
    let start: number;
    let len: number;
    if (seg instanceof PacketSegment) {
      bytes = seg.data;
      start = seg.payloadStart;
      len = seg.payloadEnd - start;
    } else {
      bytes = seg.payload;
      start = 0;
      len = bytes.length;
    }
    const missing = seg.missing > 0 ? seg.missing : 0;
    if (!h.started && len + missing > 0) {
      h.startAt(dataSeq, -1);
      this.onAnomaly({
        code: 'mid-stream',
        reason: `the ${h.dir} stream starts mid-way: its beginning was not captured`,
        frame: seg.frame,
        timeUs: seg.timeUs,
        session: conn.info.id,
        dir: h.dir,
      });
    }
    if (h.started) {
      if (len > 0) {
        h.accept(dataSeq, bytes, start, len, seg.frame, seg.timeUs);
        this.lastNoteValue = h.lastNote;
      }
      if (missing > 0) h.accept(seqAdd(dataSeq, len), null, 0, missing, seg.frame, seg.timeUs);
    }
    const fin = (seg.flags & TCP_FIN) !== 0;
    if (fin) h.fin(seqAdd(dataSeq, len + missing));
    // Where the sender's next byte would be (a RST from it is expected there).
    const sent = seqAdd(dataSeq, len + missing + (fin ? 1 : 0));
    if (!h.sentSet || seqDiff(sent, h.sentEnd) > 0) {
      h.sentEnd = sent;
      h.sentSet = true;
    }
    this.enforceDirection(conn, h, seg.frame, seg.timeUs);
    this.reconcile(h);
    if (conn.bothFinished) {
      this.close(conn, 'fin', seg.frame, seg.timeUs);
    } else if (conn.bothFin) {
      if (conn.finGrace) this.close(conn, 'fin', seg.frame, seg.timeUs);
      else conn.finGrace = true;
    }
  }

  /** Gives up `h`'s lowest holes (or takes its held suspects) while it holds more than directionCap. */
  private enforceDirection(conn: Connection, h: Half, frame: number, timeUs: number): void {
    if (h.buffered <= this.opts.maxBufferedPerDirection) return;
    const other = h === conn.fe ? conn.be : conn.fe;
    const cap = this.directionCap(other);
    while (h.buffered > cap) {
      const lost = h.flushFirstHole(frame, timeUs, 'per-direction buffer limit reached', this.suspectTaken(h, null));
      if (lost > 0) this.limitAnomaly(h, lost, frame, timeUs, `more than ${cap} out-of-order bytes buffered in one direction (the larger of ${this.opts.maxBufferedPerDirection} and twice the largest window the receiver advertised, ${other.maxWindow})`);
    }
  }

  /**
   * Out-of-order bytes one direction may hold: a sender can have at most the receiver's window
   * in flight past the lowest unacknowledged byte, so every retransmission that can still come
   * fits in that much (issue 13: a 1,000,000-row SELECT over loopback, whose windows reach
   * megabytes, lost DataRows to a fixed 4 MiB cap). Twice the largest window the receiver
   * (`receiver`) advertised, for window growth; never under maxBufferedPerDirection (windows
   * unscaled because the SYNs were not seen read small), never over maxBufferedTotal.
   */
  private directionCap(receiver: Half): number {
    const byWindow = 2 * receiver.maxWindow;
    const floor = this.opts.maxBufferedPerDirection;
    const cap = byWindow > floor ? byWindow : floor;
    return cap < this.opts.maxBufferedTotal ? cap : this.opts.maxBufferedTotal;
  }

  /** Directions whose lowest hole waited holeTimeoutUs without progress give it up. */
  private expireHoles(frame: number, timeUs: number): void {
    const limit = this.nowUs - this.opts.holeTimeoutUs;
    let h = this.holeHead;
    while (h && h.holeSinceUs <= limit) {
      h.flushFirstHole(frame, timeUs, 'hole not filled within the hole timeout', this.suspectTaken(h, null));
      this.reconcile(h);
      const conn = h.owner;
      if (conn.bothFinished) this.close(conn, 'fin', frame, timeUs);
      h = this.holeHead;
    }
  }

  private enforceTotal(frame: number, timeUs: number): void {
    const cap = this.opts.maxBufferedTotal;
    while (this.totalBuffered > cap) {
      // The oldest waiting hole is the least likely to fill.
      let h = this.holeHead;
      while (h && h.buffered === 0) h = h.holeNext;
      if (!h) break;
      const lost = h.flushFirstHole(frame, timeUs, 'total buffer limit reached', this.suspectTaken(h, null));
      if (lost > 0) this.limitAnomaly(h, lost, frame, timeUs, `more than ${cap} out-of-order bytes buffered over all connections`);
      this.reconcile(h);
    }
  }

  private limitAnomaly(h: Half, lost: number, frame: number, timeUs: number, why: string): void {
    this.onAnomaly({
      code: 'buffer-limit',
      reason: `${why}: the lowest hole (${lost} bytes) was given up`,
      frame,
      timeUs,
      session: h.owner.info.id,
      dir: h.dir,
      skipped: lost,
    });
  }

  private sweepIdle(): void {
    const limit = this.nowUs - this.opts.idleTimeoutUs;
    let c = this.lruHead;
    while (c && c.lastUs <= limit) {
      if (!c.closed) this.close(c, 'idle', c.lastFrame, c.lastTimeUs);
      this.remove(c);
      c = this.lruHead;
    }
  }

  /** Delivers what is buffered (holes become gaps) and closes the sink; the entry stays until removed. */
  private close(conn: Connection, reason: EndReason, frame: number, timeUs: number): void {
    if (conn.closed) return;
    conn.closed = true;
    const why = `connection closed (${reason})`;
    const fe = conn.fe;
    const be = conn.beMade;
    // (the callback only where there is held data to take: no closure per connection closed)
    fe.flushAll(frame, timeUs, why, fe.hasSuspects ? this.suspectTaken(fe, null) : undefined);
    if (be !== null) be.flushAll(frame, timeUs, why, be.hasSuspects ? this.suspectTaken(be, null) : undefined);
    this.reconcile(fe);
    if (be !== null) this.reconcile(be);
    const sink = conn.sink!;
    conn.sink = null;
    fe.detach();
    be?.detach();
    const end: ConnectionEnd = { reason, frame, timeUs };
    if (sink === conn) {
      // Nothing was ever delivered (a SYN-only or empty connection): no sink was opened.
      if (this.consumer.closeUnopened) this.consumer.closeUnopened(conn.info, end);
      else this.consumer.open(conn.info).close(end);
      return;
    }
    // A closed connection lets its sink go (detached above): only its TCP state stays charged.
    this.connectionBytes -= OPENED_CONNECTION_BYTES;
    sink.close(end);
  }

  /** Brings the total and the hole list up to date after `h` changed. */
  private reconcile(h: Half): void {
    this.totalBuffered += h.buffered - h.accounted;
    h.accounted = h.buffered;
    const waiting = !h.owner.closed && h.hasHole();
    if (waiting) {
      if (!h.inHoleList) {
        this.holeAppend(h);
      } else if (h.nextSeq !== h.holeAtSeq) {
        // Progress: the lowest hole is a new one, its wait starts now.
        this.holeUnlink(h);
        this.holeAppend(h);
      }
    } else if (h.inHoleList) {
      this.holeUnlink(h);
    }
  }

  private holeAppend(h: Half): void {
    h.inHoleList = true;
    h.holeSinceUs = this.nowUs;
    h.holeAtSeq = h.nextSeq;
    h.holePrev = this.holeTail;
    h.holeNext = null;
    if (this.holeTail) this.holeTail.holeNext = h;
    else this.holeHead = h;
    this.holeTail = h;
  }

  private holeUnlink(h: Half): void {
    h.inHoleList = false;
    if (h.holePrev) h.holePrev.holeNext = h.holeNext;
    else this.holeHead = h.holeNext;
    if (h.holeNext) h.holeNext.holePrev = h.holePrev;
    else this.holeTail = h.holePrev;
    h.holePrev = h.holeNext = null;
  }

  private find(seg: TcpSegment): Connection | undefined {
    const last = this.last;
    if (last) {
      const c = last.info.client;
      const s = last.info.server;
      if (
        (seg.srcPort === c.port && seg.dstPort === s.port && seg.src === c.ip && seg.dst === s.ip) ||
        (seg.srcPort === s.port && seg.dstPort === c.port && seg.src === s.ip && seg.dst === c.ip)
      ) {
        return last;
      }
    }
    const srcLow = seg.src < seg.dst || (seg.src === seg.dst && seg.srcPort <= seg.dstPort);
    const entry = srcLow ? this.table.get(seg.src)?.get(seg.dst) : this.table.get(seg.dst)?.get(seg.src);
    if (entry === undefined) return undefined;
    const ports = srcLow ? seg.srcPort * 65536 + seg.dstPort : seg.dstPort * 65536 + seg.srcPort;
    const found = entry instanceof Connection ? (entry.keyPorts === ports ? entry : undefined) : entry.get(ports);
    if (found) this.last = found;
    return found;
  }

  private create(seg: TcpSegment): Connection {
    const bytes = this.opts.maxConnectionBytes;
    while (this.lruHead && (this.count >= this.opts.maxConnections || this.connectionBytes + CONNECTION_BYTES > bytes)) {
      this.evict(this.lruHead, seg.frame, seg.timeUs);
    }
    const flags = seg.flags;
    const syn = (flags & TCP_SYN) !== 0;
    const ack = (flags & TCP_ACK) !== 0;
    let serverIsDst: boolean;
    let serverBy: ConnectionInfo['serverBy'];
    if (syn) {
      serverIsDst = !ack;
      serverBy = 'syn';
    } else if (this.serverPorts.has(seg.dstPort)) {
      serverIsDst = true;
      serverBy = 'port';
    } else if (this.serverPorts.has(seg.srcPort)) {
      serverIsDst = false;
      serverBy = 'port';
    } else {
      serverIsDst = seg.dstPort <= seg.srcPort;
      serverBy = 'guess';
    }
    // The server's endpoint object is shared with the connection before when it is the same
    // (a flood's hundreds of thousands of connections go to one server); nothing changes one.
    const src = serverIsDst ? { ip: seg.src, port: seg.srcPort } : this.serverEndpoint(seg.src, seg.srcPort);
    const dst = serverIsDst ? this.serverEndpoint(seg.dst, seg.dstPort) : { ip: seg.dst, port: seg.dstPort };
    const info: ConnectionInfo = {
      id: this.nextId++,
      client: serverIsDst ? src : dst,
      server: serverIsDst ? dst : src,
      serverBy,
      sawSyn: syn,
      startFrame: seg.frame,
      startTimeUs: seg.timeUs,
    };
    const srcLow = seg.src < seg.dst || (seg.src === seg.dst && seg.srcPort <= seg.dstPort);
    const lo = srcLow ? seg.src : seg.dst;
    const hi = srcLow ? seg.dst : seg.src;
    const ports = srcLow ? seg.srcPort * 65536 + seg.dstPort : seg.dstPort * 65536 + seg.srcPort;
    const conn = new Connection(info, this, lo, hi, ports);
    this.connectionBytes += CONNECTION_BYTES;
    let byHi = this.table.get(lo);
    if (!byHi) this.table.set(lo, (byHi = new Map()));
    const entry = byHi.get(hi);
    if (entry === undefined) {
      byHi.set(hi, conn);
    } else if (entry instanceof Connection) {
      // A second connection between the two addresses (find() missed, so other ports).
      byHi.set(hi, new Map([[entry.keyPorts, entry], [ports, conn]]));
    } else {
      entry.set(ports, conn);
    }
    this.count++;
    this.lruAppend(conn);
    this.last = conn;
    return conn;
  }

  private lastServer: ConnectionInfo['server'] | null = null;

  private serverEndpoint(ip: string, port: number): ConnectionInfo['server'] {
    const last = this.lastServer;
    if (last !== null && last.port === port && last.ip === ip) return last;
    return (this.lastServer = { ip, port });
  }

  /**
   * Drops the least recently active connection to make room: a closed one silently, an open one
   * closed with reason 'limit' and a 'connection-limit' anomaly.
   */
  private evict(victim: Connection, frame: number, timeUs: number): void {
    if (!victim.closed) {
      const why = this.count >= this.opts.maxConnections
        ? `more than ${this.opts.maxConnections} connections`
        : `connection state over its ${this.opts.maxConnectionBytes}-byte budget (${this.count} connections)`;
      this.onAnomaly({
        code: 'connection-limit',
        reason: `${why}: the least recently active one was closed`,
        frame,
        timeUs,
        session: victim.info.id,
      });
      this.close(victim, 'limit', frame, timeUs);
    }
    this.remove(victim);
  }

  /** A connection that opened its sink may take the table over its byte budget: the idlest others make room. */
  private enforceConnections(current: Connection, frame: number, timeUs: number): void {
    const bytes = this.opts.maxConnectionBytes;
    while (this.connectionBytes > bytes && this.lruHead && this.lruHead !== current) this.evict(this.lruHead, frame, timeUs);
  }

  private remove(conn: Connection): void {
    const byHi = this.table.get(conn.keyLo);
    const entry = byHi?.get(conn.keyHi);
    let removed = false;
    if (entry === conn) {
      byHi!.delete(conn.keyHi);
      removed = true;
    } else if (entry instanceof Map && entry.get(conn.keyPorts) === conn) {
      entry.delete(conn.keyPorts);
      removed = true;
      if (entry.size === 1) {
        // Back to one connection between the two addresses: held without a map again.
        byHi!.set(conn.keyHi, entry.values().next().value!);
      }
    }
    if (removed) {
      this.count--;
      this.connectionBytes -= CONNECTION_BYTES;
      if (byHi!.size === 0) this.table.delete(conn.keyLo);
    }
    this.lruUnlink(conn);
    if (this.last === conn) this.last = null;
  }

  /** Marks activity: the connection moves to the recent end of the list. */
  private touch(conn: Connection, seg: TcpSegment): void {
    conn.lastUs = this.nowUs;
    conn.lastFrame = seg.frame;
    conn.lastTimeUs = seg.timeUs;
    if (this.lruTail !== conn) {
      this.lruUnlink(conn);
      this.lruAppend(conn);
    }
  }

  private lruAppend(conn: Connection): void {
    conn.lastUs = this.nowUs;
    conn.prev = this.lruTail;
    conn.next = null;
    if (this.lruTail) this.lruTail.next = conn;
    else this.lruHead = conn;
    this.lruTail = conn;
  }

  private lruUnlink(conn: Connection): void {
    if (conn.prev) conn.prev.next = conn.next;
    else if (this.lruHead === conn) this.lruHead = conn.next;
    if (conn.next) conn.next.prev = conn.prev;
    else if (this.lruTail === conn) this.lruTail = conn.prev;
    conn.prev = conn.next = null;
  }
}
