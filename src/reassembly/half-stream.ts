/**
 * One direction of a TCP connection: puts segments back in sequence order and hands them to the
 * connection's sink, one Delivery per frame's contribution.
 *
 * Invariants (between calls):
 * - once `started`, `nextSeq` is the sequence number of the next byte to deliver;
 * - buffered chunks are sorted, do not overlap each other and all start after `nextSeq`, so
 *   the first chunk is the far side of the lowest hole;
 * - bytes are delivered at most once. Where two copies of bytes not yet delivered overlap, the
 *   overlap policy decides (FlowTableOptions.overlap): 'last', the default, keeps the later
 *   copy (as a Linux receiver does for an in-order segment over data it queued out of order),
 *   'first' the earlier. Copies that differ are reported ('overlap-mismatch'), whichever wins.
 *   Bytes already delivered are not kept, so a retransmission of them is not compared.
 * The FlowTable owns the bookkeeping fields at the bottom (total accounting, list of directions
 * waiting on a hole); this class never touches other directions.
 */
import type { AnomalyHandler } from '../core/anomaly.js';
import type { ConnectionSink, Delivery, Direction } from './types.js';
import { CHUNK_OVERHEAD } from './limits.js';
import { seqAdd, seqDiff } from './seq.js';

/** A buffered piece of the stream; `bytes` null marks bytes known to be lost (snaplen cut). */
interface Chunk {
  seq: number;
  len: number;
  bytes: Buffer | null;
  frame: number;
  timeUs: number;
  /**
   * Its bytes came from a segment with a wrong TCP checksum (a held suspect taken, see
   * takeSuspects); for a suspect still held, whether its checksum is wrong rather than the one
   * offload leaves.
   */
  unconfirmed: boolean;
}

/** HalfStream.lastNote: in order; all bytes delivered before (retransmission); some of them
 * (partial retransmission); ahead of a hole (a previous segment not captured yet); filling a
 * hole (out of order: it came after later bytes). */
const SEG_IN_ORDER = 0;
const SEG_RETRANSMISSION = 1;
const SEG_PARTIAL_RETRANSMISSION = 2;
const SEG_AHEAD_OF_HOLE = 3;
const SEG_OUT_OF_ORDER = 4;

/** HalfStream.taking: what takeSuspects is accepting. */
const NOT_TAKING = 0;
const TAKING_UNCONFIRMED = 1;
const TAKING_OFFLOADED = 2;

/** HalfStream.checksums: not yet known, verified (a correct one was seen), skipped (offloaded). */
const CHECKS_UNKNOWN = 0;
export const CHECKS_VERIFIED = 1;
export const CHECKS_SKIPPED = 2;

export class HalfStream<Owner> {
  readonly dir: Direction;
  readonly owner: Owner;
  private readonly session: number;
  private sink: ConnectionSink;
  private readonly onAnomaly: AnomalyHandler;
  /** Overlap policy: true keeps the later copy of bytes not yet delivered, false the earlier. */
  private readonly keepLast: boolean;

  /** A segment travelled in this direction (port reuse detection). */
  seen = false;
  /** Initial sequence number from this direction's SYN, or -1 when no SYN was seen. */
  isn = -1;
  /** Whether this direction's TCP checksums are verified (see FlowTable.checksumAccepted). */
  checksums = CHECKS_UNKNOWN;
  /** Data with a wrong checksum was held here / taken after the receiver acknowledged it (each said once, see FlowTable.checksumAccepted). */
  badDataHeld = false;
  badDataAcked = false;
  /** The sequence number after the last byte (or FIN) the sender sent, once sentSet. */
  sentEnd = 0;
  sentSet = false;
  /** The window scale this direction's sender announced in its SYN, or -1. */
  wscale = -1;
  /** The largest window this direction's sender advertised (bytes, scaled when scaling is known): bounds what the other direction has in flight. */
  maxWindow = 0;
  /** The sequence number of the first byte is known (SYN, SYN+ACK's ack, or first data). */
  started = false;
  nextSeq = 0;
  /** The skip value the next delivery carries (see Delivery.skip). */
  private pendingSkip = 0;
  hasFin = false;
  finSeq = 0;
  /** Every byte up to the FIN was delivered (or declared lost): nothing more will come. */
  finished = false;
  /**
   * What the last accept() found about its segment (SEG_*), for a frame list's TCP notes
   * (Wireshark's tcp.analysis): the reassembler's own verdict, not a second guess.
   */
  lastNote = SEG_IN_ORDER;

  /** Live chunks are chunks[head..]; slots before head are cleared, and dropped in one splice
   * now and then, so that delivering the first chunk costs O(1), not an array shift. NO_CHUNKS
   * (shared, always empty) until store() first buffers: most directions never hold a chunk. */
  private chunks: Array<Chunk | null> = NO_CHUNKS;
  private head = 0;
  /**
   * Data segments with a wrong checksum in a verified direction, by sequence number, waiting
   * (holdSuspect): a copy with a correct checksum wins over them; the receiver's ACK past one
   * proves the bytes arrived and takes it. Null when none (the usual case).
   */
  private suspects: Chunk[] | null = null;
  /**
   * While takeSuspects accepts a suspect: TAKING_UNCONFIRMED (a wrong checksum) or TAKING_OFFLOADED
   * (the checksum offload leaves: the capturing host's own packet, sent as captured), else
   * NOT_TAKING. A suspect never overwrites a copy already buffered; what an unconfirmed one
   * delivers or buffers is marked (Delivery.unconfirmed).
   */
  private taking = NOT_TAKING;
  /** Bytes charged for the chunks (payload plus CHUNK_OVERHEAD each). */
  buffered = 0;

  // FlowTable bookkeeping: what of `buffered` is counted in its total, and its list of
  // directions waiting on a hole, ordered by when the hole started waiting.
  accounted = 0;
  /**
   * The hole list's links and the ACK waiting to be believed, in an object made when the
   * direction first waits on either (a connection flood's directions never do: per-connection
   * state that lives long is what the garbage collector copies, issue 19). The accessors below
   * keep FlowTable's view of them as plain fields.
   */
  private wait: HoleWait<Owner> | null = null;

  constructor(dir: Direction, owner: Owner, session: number, sink: ConnectionSink, onAnomaly: AnomalyHandler, keepLast = true) {
    this.keepLast = keepLast;
    this.dir = dir;
    this.owner = owner;
    this.session = session;
    this.sink = sink;
    this.onAnomaly = onAnomaly;
  }

  private waiting(): HoleWait<Owner> {
    return (this.wait ??= new HoleWait<Owner>());
  }
  get inHoleList(): boolean { return this.wait !== null && this.wait.inHoleList; }
  set inHoleList(v: boolean) { if (v || this.wait !== null) this.waiting().inHoleList = v; }
  get holePrev(): HalfStream<Owner> | null { return this.wait === null ? null : this.wait.holePrev; }
  set holePrev(v: HalfStream<Owner> | null) { if (v !== null || this.wait !== null) this.waiting().holePrev = v; }
  get holeNext(): HalfStream<Owner> | null { return this.wait === null ? null : this.wait.holeNext; }
  set holeNext(v: HalfStream<Owner> | null) { if (v !== null || this.wait !== null) this.waiting().holeNext = v; }
  get holeSinceUs(): number { return this.wait === null ? 0 : this.wait.holeSinceUs; }
  set holeSinceUs(v: number) { this.waiting().holeSinceUs = v; }
  get holeAtSeq(): number { return this.wait === null ? 0 : this.wait.holeAtSeq; }
  set holeAtSeq(v: number) { this.waiting().holeAtSeq = v; }
  /** An ACK past a hole waiting to be believed (FlowTable.acknowledgement): its number, frame and time. */
  get ackPending(): boolean { return this.wait !== null && this.wait.ackPending; }
  set ackPending(v: boolean) { if (v || this.wait !== null) this.waiting().ackPending = v; }
  get ackPendingSeq(): number { return this.wait === null ? 0 : this.wait.ackPendingSeq; }
  set ackPendingSeq(v: number) { this.waiting().ackPendingSeq = v; }
  get ackPendingFrame(): number { return this.wait === null ? 0 : this.wait.ackPendingFrame; }
  set ackPendingFrame(v: number) { this.waiting().ackPendingFrame = v; }
  get ackPendingTimeUs(): number { return this.wait === null ? 0 : this.wait.ackPendingTimeUs; }
  set ackPendingTimeUs(v: number) { this.waiting().ackPendingTimeUs = v; }

  /** Replaces the sink (the connection opens its consumer's sink at the first delivery). */
  setSink(sink: ConnectionSink): void {
    this.sink = sink;
  }

  /**
   * Lets go of the sink once the connection is closed: a closed connection stays in the flow
   * table for port-reuse detection (up to the idle timeout, for as many as maxConnections), and
   * the sink behind it (PostgreSQL framing, session state) would otherwise stay alive with it,
   * several kilobytes per remembered connection.
   */
  detach(): void {
    this.sink = DETACHED;
    this.chunks = NO_CHUNKS;
    this.head = 0;
    this.suspects = null;
  }

  /** Starts the direction at `seq`; skip -1 when its real start was not seen. */
  startAt(seq: number, skip: number): void {
    this.started = true;
    this.nextSeq = seq >>> 0;
    this.pendingSkip = skip;
  }

  /** Something is still expected before the direction can be complete: a hole before buffered data or before the FIN. */
  hasHole(): boolean {
    return this.chunks.length > this.head || (this.hasFin && !this.finished) || this.suspects !== null;
  }

  /** Bad-checksum data is held here (see holdSuspect). */
  get hasSuspects(): boolean {
    return this.suspects !== null;
  }

  /**
   * Holds a copy of a data segment whose checksum is wrong (a receiver drops such a segment,
   * and a forged one must not win over the real copy): it waits in `suspects`, charged like a
   * buffered chunk, until the receiver acknowledges its bytes (acknowledged()), a correct copy
   * delivers them, or the direction gives up waiting (flushFirstHole, flushAll). `offloaded`:
   * its checksum is the one checksum offload leaves (the capturing host's own packet, sent as
   * captured), so what it delivers, once taken, is not marked unconfirmed. Returns false when
   * nothing was held (its bytes were all delivered already).
   */
  holdSuspect(seq: number, bytes: Buffer, start: number, len: number, frame: number, timeUs: number, offloaded: boolean): boolean {
    if (seqDiff(seqAdd(seq, len), this.nextSeq) <= 0) return false;
    const copy = Buffer.allocUnsafeSlow(len);
    bytes.copy(copy, 0, start, start + len);
    const c: Chunk = { seq: seq >>> 0, len, bytes: copy, frame, timeUs, unconfirmed: !offloaded };
    const list = (this.suspects ??= []);
    let i = list.length;
    while (i > 0 && seqDiff(list[i - 1]!.seq, c.seq) > 0) i--;
    list.splice(i, 0, c);
    this.buffered += cost(copy, len);
    return true;
  }

  /**
   * The receiver acknowledged every byte before `ack` (an ACK in the other direction with a
   * correct or unknown checksum; FlowTable decides when to believe it): a hole before it is
   * given up, as a gap dated by the ACK's frame: the sender never retransmits acknowledged
   * bytes, so waiting for the hole timeout would only hold the stream back. Holes are given up
   * only up to the end of what the capture saw the sender send (an ACK past it, forged or for
   * segments the capture missed at the end, declares nothing) and never past the FIN. Returns
   * the bytes declared lost.
   */
  giveUpAcknowledged(ack: number, frame: number, timeUs: number): number {
    if (!this.sentSet) return 0;
    let limit = ack >>> 0;
    if (seqDiff(limit, this.sentEnd) > 0) limit = this.sentEnd;
    if (this.hasFin && seqDiff(limit, this.finSeq) > 0) limit = this.finSeq;
    let lost = 0;
    while (seqDiff(limit, this.nextSeq) > 0) {
      const first = this.chunks[this.head];
      if (!first) break;
      const to = seqDiff(first.seq, limit) < 0 ? first.seq : limit;
      const n = seqDiff(to, this.nextSeq);
      this.lose(n, frame, timeUs, `the receiver acknowledged them in frame ${frame}, so no retransmission can come`);
      lost += n;
      this.drain();
    }
    return lost;
  }

  /** Whether an ACK up to `ack` would give up a hole here (see giveUpAcknowledged). */
  holeBefore(ack: number): boolean {
    const first = this.chunks[this.head];
    return first !== undefined && this.sentSet && seqDiff(ack, this.nextSeq) > 0 && seqDiff(this.sentEnd, this.nextSeq) > 0;
  }

  /**
   * Takes the held suspects that start before `upTo` (all of them for null), in sequence
   * order: each is accepted as data, the parts of it already delivered by a correct copy
   * dropping out as retransmissions do, and a copy already buffered winning over it whatever
   * the overlap policy. What it delivers is marked (Delivery.unconfirmed), so that the records
   * built from it say so. `onTaken` hears of those that delivered bytes.
   */
  takeSuspects(upTo: number | null, onTaken: (n: number, firstFrame: number, firstTimeUs: number) => void): void {
    const list = this.suspects;
    if (list === null) return;
    let n = 0;
    let first = 0;
    let firstTimeUs = 0;
    let k = 0;
    for (; k < list.length; k++) {
      const c = list[k]!;
      if (upTo !== null && seqDiff(c.seq, upTo) >= 0) break;
      this.buffered -= cost(c.bytes, c.len);
      const before = this.nextSeq;
      const fresh = seqDiff(seqAdd(c.seq, c.len), before) > 0;
      this.taking = c.unconfirmed ? TAKING_UNCONFIRMED : TAKING_OFFLOADED;
      this.accept(c.seq, c.bytes, 0, c.len, c.frame, c.timeUs);
      this.taking = NOT_TAKING;
      if (fresh) {
        n++;
        if (first === 0) {
          first = c.frame;
          firstTimeUs = c.timeUs;
        }
      }
    }
    this.suspects = k >= list.length ? null : list.slice(k);
    if (n > 0) onTaken(n, first, firstTimeUs);
  }

  /**
   * Takes `len` bytes starting at sequence `seq`: bytes[start, start + len) (valid only during
   * the call; copied if they must wait) or, when `bytes` is null, `len` bytes known to be lost
   * (snaplen cut them). Ranges, not views: the in-order path hands the packet's own buffer on.
   */
  accept(seq: number, bytes: Buffer | null, start: number, len: number, frame: number, timeUs: number): void {
    if (this.hasFin) {
      // Bytes at or past the FIN's sequence number cannot be stream data (RFC 793: the FIN is
      // the last octet); a receiver would drop them, and so do we.
      const over = seqDiff(seqAdd(seq, len), this.finSeq);
      if (over > 0) {
        len -= over;
        if (len <= 0) return;
      }
    }
    const d0 = seqDiff(seq, this.nextSeq);
    this.lastNote = d0 < 0 ? (len <= -d0 ? SEG_RETRANSMISSION : SEG_PARTIAL_RETRANSMISSION)
      : d0 > 0 ? SEG_AHEAD_OF_HOLE : this.chunks.length > this.head ? SEG_OUT_OF_ORDER : SEG_IN_ORDER;
    for (;;) {
      const d = seqDiff(seq, this.nextSeq);
      if (d < 0) {
        // Retransmission or overlap with delivered bytes: the first copy already went out.
        if (len <= -d) return;
        seq = this.nextSeq;
        len += d;
        start -= d;
      } else if (d > 0) {
        this.store(seq, bytes, start, len, frame, timeUs);
        return;
      }
      if (this.chunks.length === this.head) {
        // The hot path: in order, nothing waiting. The payload goes out as it is.
        this.deliver(bytes, start, len, frame, timeUs, this.taking === TAKING_UNCONFIRMED);
        return;
      }
      const room = seqDiff(this.chunks[this.head]!.seq, this.nextSeq);
      if (room > len) {
        this.deliver(bytes, start, len, frame, timeUs, this.taking === TAKING_UNCONFIRMED);
        return;
      }
      // The segment runs into buffered bytes: compare the copies, then keep one.
      if (bytes !== null) {
        this.overlap(this.head, seq, bytes, start, len, frame, timeUs, false);
        if (this.keepsLast()) {
          // This copy whole; drain() trims the buffered chunks it covered.
          this.deliver(bytes, start, len, frame, timeUs, this.taking === TAKING_UNCONFIRMED);
          this.drain();
          return;
        }
      }
      this.deliver(bytes, start, room, frame, timeUs, this.taking === TAKING_UNCONFIRMED);
      this.drain();
      len -= room;
      if (len === 0) return;
      seq = seqAdd(seq, room);
      start += room;
    }
  }

  /** Records the FIN at sequence `seq` (the first FIN wins; later ones are retransmissions or noise). */
  fin(seq: number): void {
    if (this.hasFin) return;
    this.hasFin = true;
    this.finSeq = seq >>> 0;
    if (!this.started) this.finished = true;
    else this.checkFinished();
  }

  /**
   * Gives up the lowest hole: its size is reported as a gap (with `why`) and the bytes after it
   * are delivered. Returns the number of bytes declared lost.
   */
  flushFirstHole(frame: number, timeUs: number, why: string, onTaken?: (n: number, firstFrame: number, firstTimeUs: number) => void): number {
    if (this.suspects !== null) {
      // Held suspects are bytes, not a hole: waiting is given up by taking them.
      const c = this.chunks[this.head];
      const before = this.nextSeq;
      this.takeSuspects(c ? c.seq : null, onTaken ?? noop);
      if (this.nextSeq !== before) return 0;
    }
    const first = this.chunks[this.head];
    if (first) {
      const hole = seqDiff(first.seq, this.nextSeq);
      this.lose(hole, first.frame, first.timeUs, why);
      this.drain();
      return hole > 0 ? hole : 0;
    }
    if (this.hasFin && !this.finished) {
      const hole = seqDiff(this.finSeq, this.nextSeq);
      this.lose(hole, frame, timeUs, why);
      this.finished = true;
      return hole > 0 ? hole : 0;
    }
    return 0;
  }

  /**
   * End of the direction: every buffered byte is delivered, every hole becomes a gap, and a gap
   * with no bytes after it is still reported through an empty delivery.
   */
  flushAll(frame: number, timeUs: number, why: string, onTaken?: (n: number, firstFrame: number, firstTimeUs: number) => void): void {
    this.takeSuspects(null, onTaken ?? noop);
    while (this.hasHole()) this.flushFirstHole(frame, timeUs, why);
    if (this.pendingSkip > 0) this.deliver(EMPTY, 0, 0, frame, timeUs, false);
  }

  private checkFinished(): void {
    if (this.hasFin && !this.finished && seqDiff(this.nextSeq, this.finSeq) >= 0) this.finished = true;
  }

  /** Whether a later copy of bytes not yet delivered wins: the policy's, except for a suspect (a copy with a correct checksum wins over it). */
  private keepsLast(): boolean {
    return this.keepLast && this.taking === NOT_TAKING;
  }

  private deliver(bytes: Buffer | null, start: number, len: number, frame: number, timeUs: number, unconfirmed: boolean): void {
    if (bytes === null) {
      this.lose(len, frame, timeUs, 'payload cut by the capture snaplen');
      return;
    }
    // One delivery per direction for all connections (read during data() only): a fresh one
    // should a delivery ever be made while another is being read.
    let d = this.dir === 'frontend' ? FRONTEND_DELIVERY : BACKEND_DELIVERY;
    if (d.inUse) d = new StreamDelivery(this.dir);
    d.inUse = true;
    d.setRange(bytes, start, start + len);
    d.skip = this.pendingSkip;
    d.unconfirmed = unconfirmed;
    d.frame = frame;
    d.timeUs = timeUs;
    this.pendingSkip = 0;
    this.nextSeq = seqAdd(this.nextSeq, len);
    this.checkFinished();
    try {
      this.sink.data(d);
    } finally {
      // The reused delivery must not keep the packet past the call: the packet is a view of the
      // capture reader's 256 KiB chunk, and an idle direction would pin that chunk (issue 19: with
      // 1,000 idle connections, 51 MB of chunks outside every budget share). Released even when
      // the sink throws: the delivery is shared by every connection of every pipeline in the
      // process, and one left in use would pin its chunk and make every later delivery anew.
      d.release();
    }
  }

  /** `n` bytes at nextSeq will never be delivered: the next delivery carries them as skip. */
  private lose(n: number, frame: number, timeUs: number, why: string): void {
    if (n <= 0) return;
    // After an unseen start (-1) the position in the stream is unknown anyway: stay at -1.
    if (this.pendingSkip >= 0) this.pendingSkip += n;
    this.nextSeq = seqAdd(this.nextSeq, n);
    this.checkFinished();
    this.onAnomaly({
      code: 'gap',
      reason: `${n} bytes lost in the ${this.dir} stream: ${why}`,
      frame,
      timeUs,
      session: this.session,
      dir: this.dir,
      skipped: n,
    });
  }

  /** Delivers the buffered chunks that have become contiguous with nextSeq. */
  private drain(): void {
    const chunks = this.chunks;
    while (this.head < chunks.length) {
      const c = chunks[this.head]!;
      const d = seqDiff(c.seq, this.nextSeq);
      if (d > 0) break;
      chunks[this.head++] = null;
      this.buffered -= cost(c.bytes, c.len);
      if (c.len + d > 0) {
        this.deliver(c.bytes, d < 0 ? -d : 0, c.len + d, c.frame, c.timeUs, c.unconfirmed);
      }
    }
    if (this.head === chunks.length) {
      chunks.length = 0;
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= chunks.length) {
      chunks.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Buffers the parts of [seq, seq+len) that no earlier chunk covers (first copy wins). */
  private store(seq: number, bytes: Buffer | null, start: number, len: number, frame: number, timeUs: number): void {
    if (this.chunks === NO_CHUNKS) this.chunks = [];
    const chunks = this.chunks;
    const base = this.nextSeq;
    // Positions relative to nextSeq: all positive, ordered like the chunks.
    const s = seqDiff(seq, base);
    const e = s + len;
    let i = chunks.length;
    const last = i > this.head ? chunks[i - 1] : null;
    if (last && seqDiff(last.seq, base) + last.len > s) {
      // Not past the end: find the first chunk ending after s.
      let lo = this.head;
      let hi = chunks.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const c = chunks[mid]!;
        if (seqDiff(c.seq, base) + c.len > s) hi = mid;
        else lo = mid + 1;
      }
      i = lo;
    }
    // Collect the uncovered pieces first and insert them in one pass: a segment spanning many
    // small chunks must not cost one array shift per hole it fills.
    if (bytes !== null && i < chunks.length && seqDiff(chunks[i]!.seq, base) < e) {
      this.overlap(i, seq, bytes, start, len, frame, timeUs, this.keepsLast());
    }
    const at: number[] = [];
    const made: Chunk[] = [];
    let cur = s;
    while (i < chunks.length && cur < e) {
      const c = chunks[i]!;
      const cs = seqDiff(c.seq, base);
      if (cs > cur) {
        at.push(i);
        made.push(this.piece(base, cur, cs < e ? cs : e, s, bytes, start, frame, timeUs));
      }
      const ce = cs + c.len;
      if (ce > cur) cur = ce;
      i++;
    }
    if (cur < e) {
      at.push(i);
      made.push(this.piece(base, cur, e, s, bytes, start, frame, timeUs));
    }
    if (made.length === 1) {
      // In front of everything, into a cleared slot when there is one.
      if (at[0] === this.head && this.head > 0) chunks[--this.head] = made[0]!;
      else chunks.splice(at[0]!, 0, made[0]!);
    } else if (made.length > 1) {
      const from = at[0]!;
      const tail = chunks.slice(from);
      chunks.length = from;
      let k = 0;
      for (let j = 0; j <= tail.length; j++) {
        while (k < made.length && at[k] === from + j) chunks.push(made[k++]!);
        if (j < tail.length) chunks.push(tail[j]!);
      }
    }
  }

  /**
   * Compares [seq, seq+len) of a new copy (bytes[start..]) with the buffered chunks from index
   * `from` that it overlaps; reports the bytes that differ ('overlap-mismatch', with both
   * frames), and when `overwrite`, puts the new copy's bytes into the chunks (the later copy wins).
   */
  private overlap(from: number, seq: number, bytes: Buffer, start: number, len: number, frame: number, timeUs: number, overwrite: boolean): void {
    const chunks = this.chunks;
    let differ = 0;
    let otherFrame = 0;
    for (let i = from; i < chunks.length; i++) {
      const c = chunks[i]!;
      const cs = seqDiff(c.seq, seq);
      if (cs >= len) break;
      const a = cs > 0 ? cs : 0;
      const b = cs + c.len < len ? cs + c.len : len;
      if (b <= a || c.bytes === null) continue;
      const cb = c.bytes;
      let d = 0;
      for (let k = a; k < b; k++) if (cb[k - cs] !== bytes[start + k]) d++;
      if (d > 0) {
        differ += d;
        if (otherFrame === 0) otherFrame = c.frame;
        if (overwrite) {
          bytes.copy(cb, a - cs, start + a, start + b);
          c.frame = frame;
          c.timeUs = timeUs;
          // c.unconfirmed stays: a correct copy may cover only part of a suspect's chunk.
        }
      }
    }
    if (differ > 0) {
      this.onAnomaly({
        code: 'overlap-mismatch',
        reason: `${differ} overlapping bytes of the ${this.dir} stream differ between frames ${otherFrame} and ${frame}: frame ${this.keepsLast() ? frame : otherFrame}'s copy is kept`,
        frame,
        timeUs,
        session: this.session,
        dir: this.dir,
        skipped: differ,
      });
    }
  }

  /** A copied chunk for relative range [from, to) of a segment starting at relative `s` (at bytes[start]). */
  private piece(base: number, from: number, to: number, s: number, bytes: Buffer | null, start: number, frame: number, timeUs: number): Chunk {
    const len = to - from;
    let copy: Buffer | null = null;
    if (bytes) {
      // Unpooled: a pooled slice would pin its whole 8 KiB slab for as long as it waits.
      copy = Buffer.allocUnsafeSlow(len);
      bytes.copy(copy, 0, start + from - s, start + to - s);
    }
    this.buffered += cost(copy, len);
    return { seq: seqAdd(base, from), len, bytes: copy, frame, timeUs, unconfirmed: this.taking === TAKING_UNCONFIRMED };
  }
}

const EMPTY = Buffer.alloc(0);
/** The chunks of every direction that never buffered: never written to (store() replaces it first). */
const NO_CHUNKS: Array<Chunk | null> = [];
const noop = (): void => undefined;

/**
 * The Delivery a HalfStream hands out (one object per direction, refilled for every delivery):
 * the bytes are the range [start, end) of `data` (the packet's bytes, or a buffered copy), and
 * the `bytes` view is made only when read. The PostgreSQL layer reads the range instead, so the
 * in-order path makes no Buffer view per delivery. Assigning `bytes` replaces the range with the
 * whole of the given buffer.
 */
export class StreamDelivery implements Delivery {
  readonly dir: Direction;
  skip = 0;
  unconfirmed = false;
  frame = 0;
  timeUs = 0;
  /** Valid only during the data() call, like `bytes`. */
  data: Buffer = EMPTY;
  start = 0;
  end = 0;
  private view: Buffer | null = EMPTY;
  /** Between setRange() and release(), during a data() call. */
  inUse = false;

  constructor(dir: Direction) {
    this.dir = dir;
  }

  get bytes(): Buffer {
    if (this.view === null) {
      const data = this.data;
      this.view = this.start === 0 && this.end === data.length ? data : data.subarray(this.start, this.end);
    }
    return this.view;
  }

  set bytes(b: Buffer) {
    this.setRange(b, 0, b.length);
    this.view = b;
  }

  /** Forgets the bytes (after the data() call). */
  release(): void {
    this.inUse = false;
    this.data = EMPTY;
    this.view = EMPTY;
    this.start = 0;
    this.end = 0;
  }

  setRange(data: Buffer, start: number, end: number): void {
    this.data = data;
    this.start = start;
    this.end = end;
    this.view = null;
  }
}

const FRONTEND_DELIVERY = new StreamDelivery('frontend');
const BACKEND_DELIVERY = new StreamDelivery('backend');

/** The sink of a closed connection: nothing reaches it (closed connections ignore segments). */
const DETACHED: ConnectionSink = { data: () => undefined, close: () => undefined };

/** What a chunk is charged: its payload (none for a lost range) plus the fixed overhead. */
function cost(bytes: Buffer | null, len: number): number {
  return (bytes ? len : 0) + CHUNK_OVERHEAD;
}

/** A direction's place in FlowTable's list of directions waiting on a hole, and its ACK waiting to be believed (HalfStream.wait). */
class HoleWait<Owner> {
  inHoleList = false;
  holePrev: HalfStream<Owner> | null = null;
  holeNext: HalfStream<Owner> | null = null;
  holeSinceUs = 0;
  holeAtSeq = 0;
  ackPending = false;
  ackPendingSeq = 0;
  ackPendingFrame = 0;
  ackPendingTimeUs = 0;
}
