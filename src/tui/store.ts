/**
 * The TUI's store: a PipelineSink that keeps a compact, columnar index of everything the
 * views show. Per frame and per message a handful of typed-array cells and one short string
 * in an arena (grow.ts); message bodies and decoded forms only within a byte budget
 * (body-cache.ts). Nothing here renders; views read through the accessors, and `version`
 * tells the render timer that something changed.
 */
import type { PipelineSink, FrameInfo, MessageRecord, OutRecord, SinkNeeds } from '../pipeline/events.js';
import type { RawMessage, DecodedMessage, DissectContext } from '../../dissectors/types.js';
import { rawMessage } from '../../dissectors/raw-message.js';
import { Column, RunList, SmallColumn, ZeroColumn, StringArena, SharedArena, Interner, cutText, u8, u16, u32, i32, f64, type IndexList } from './grow.js';
import { BodyCache, type CachedMessage } from './body-cache.js';
import { MessageBodies } from './message-bodies.js';
import { messageRecord } from '../pipeline/records.js';
import { summarize } from '../../dissectors/summary.js';
import { InfoColumn, messageSign } from '../../dissectors/info-column.js';
import { isoTime } from '../core/time.js';
import { TIME_JUMP_US } from '../reassembly/limits.js';
import { performance } from 'node:perf_hooks';
import { applySessionRecord, isoToUs, joinDetail, num, queryDetailHead, queryError, queryParams, type SessionRow } from './record-fields.js';

export type { SessionRow };

export { isoToUs };

/** What the UI's producer may tell it beyond the PipelineSink contract (both optional). */
export interface TuiSink extends PipelineSink {
  /** Load progress in bytes of the source, when the producer knows it. */
  progress?(done: number, total: number): void;
  /** Packets the kernel dropped so far (live capture). */
  drops?(n: number): void;
  /** How far decoding is behind a live capture ("3.2 s (41.0 MB) behind"), '' when caught up. */
  lag?(text: string): void;
}

export const FF_FRONTEND = 1;
export const FF_BACKEND = 2;
export const FF_ERROR = 4;
export const FF_ANOMALY = 8;
export const FF_NOT_TCP = 16;
/** The frame carries a NoticeResponse (shown yellow, as help says). */
export const FF_NOTICE = 32;
/** The producer gave the frame's TCP header (FrameInfo.tcp): the TCP columns hold it. */
export const FF_TCP = 64;

/** The Info column's lead for half-stream.ts's SEG_* notes (Wireshark's wording). */
const SEG_NOTE_INFO: readonly string[] = ['', '[TCP Retransmission] ', '[TCP Partial Retransmission] ', '[TCP Previous segment not captured] ', '[TCP Out-Of-Order] '];

/** TCP flag bits by name, in header order (RFC 9293 3.1), "SYN, ACK" as Wireshark writes them. */
export function tcpFlagNames(f: number): string {
  const names: string[] = [];
  if (f & 0x80) names.push('CWR');
  if (f & 0x40) names.push('ECE');
  if (f & 0x20) names.push('URG');
  if (f & 0x02) names.push('SYN');
  if (f & 0x01) names.push('FIN');
  if (f & 0x04) names.push('RST');
  if (f & 0x08) names.push('PSH');
  if (f & 0x10) names.push('ACK');
  return names.join(', ');
}

/** TLS record content types (RFC 8446 5.1), as Wireshark names them. */
export const TLS_CONTENT: Record<number, string> = { 20: 'Change Cipher Spec', 21: 'Alert', 22: 'Handshake', 23: 'Application Data' };

export const MF_ERROR = 1;
export const MF_BAD = 2;
export const MF_NOTICE = 4;
export const MF_TLS = 8;

export const QF_ERROR = 1;
const QF_EXTENDED = 2;
export const QF_NO_DURATION = 4;
export const QF_INCOMPLETE = 8;
const QF_SKIPPED = 16;
/** Succeeded, but its transaction undid it (the record's rolledBack). */
export const QF_ROLLED_BACK = 32;
/** Answered in one frame with other statements: no time of its own (the record's batch has it). */
export const QF_BATCH = 64;
/** A FunctionCall the session layer paired with its answer (protocol "function"). */
export const QF_FUNCTION = 128;

const SUMMARY_CHARS = 240;
/** Summaries up to this long are stored once each ("DataRow (3 columns)"); longer ones carry a query text. */
const SHARED_SUMMARY_CHARS = 48;
/** A query's detail and error lines up to this long are stored once each (most repeat: "command SELECT 1; protocol simple"). */
const SHARED_DETAIL_CHARS = 400;

/** The code column's letter: dissectors/info-column.ts's sign (the type byte, or a sign for messages without one). */
function labelOf(code: string | null, decoded: DecodedMessage): number {
  return messageSign(code, decoded).charCodeAt(0) & 0xff;
}
const SQL_CHARS = 4000;
/** Longest run of loading between two turns of the event loop (ready()). */
const YIELD_MS = 15;
const DETAIL_CHARS = 2000;
const NO_SESSION = -1;
/** How far back the frames of a newly learnt address pair are looked for (the TCP handshake). */
const PAIR_BACKFILL = 256;

/** How many frames at each end of a capture timeSpan() may leave out as far from their neighbours. */
const OUTLIERS_AT_ENDS = 8;

export class TuiStore implements TuiSink {
  /** The frame list shows every packet; messages come raw, with their decoding state (rawMessage). */
  readonly needs: SinkNeeds = { frames: true, messages: 'raw' };
  // ---- frames (index = arrival order; frame numbers ascend) ----
  readonly fNo = u32();
  readonly fTime = f64();
  /** Byte offset of the frame's record in the capture file (FrameInfo.fileOffset), -1 when it cannot be re-read (live, stdin). */
  readonly fFileOffset = f64();
  /** Length on the wire. */
  readonly fLen = u32();
  /** Bytes captured (at most the snap length): what the file holds and the hex pane shows. */
  readonly fCapturedLength = { get: (fi: number): number => this.fLen.get(fi) - this.fCutBytes.get(fi) };
  /** Bytes on the wire less bytes captured: nearly always none (kept only where not). */
  private readonly fCutBytes = new ZeroColumn();
  readonly fSrc = u32();
  readonly fDst = u32();
  readonly fSess = i32();
  /**
   * The frame's first message and how many follow it. A frame without messages has as its first
   * the count of messages before it, so the column never descends: a message's frame is found by
   * searching it (frameIndexOfMessage), not stored with each message.
   */
  readonly fMsgFirst = u32();
  readonly fMsgCount = u32();
  readonly fFlags = u8();
  // TCP header of each frame (zeros when not TCP): raw sequence and acknowledgement numbers,
  // flags, window, payload length, and reassembly's note with the TLS-record bit (TN_*).
  readonly fSeq = u32();
  readonly fAck = u32();
  readonly fTcpFlags = u8();
  readonly fWin = u16();
  readonly fPayload = u32();
  readonly fTcpNote = u8();
  /**
   * Each direction's first sequence number (its SYN's, else the first seen): per address pair
   * (src id, dst id), a flat list [frame index, base, ...] because a reused port pair starts
   * again at a new SYN. Relative numbers as Wireshark shows them, without a column per frame.
   */
  private readonly seqBase = new Map<number, number[]>();
  /** Messages of a frame that arrived after another frame's (out of capture order): kept aside. */
  private readonly strayMsgs = new Map<number, number[]>();
  /** The same strays by message (ascending) and their frame index: what frameIndexOfMessage finds first. */
  private readonly strayIndex = u32(16);
  private readonly strayFrame = u32(16);

  // ---- messages ----
  /** Number of the frame that completed message m (the frame's, found by frameIndexOfMessage). */
  readonly mFrame = { get: (m: number): number => this.fNo.get(this.frameIndexOfMessage(m)) };
  /** The frame holding the message's first byte: its last frame less a (nearly always small) count. */
  readonly mFirstFrame = { get: (m: number): number => this.mFrame.get(m) - this.mFramesBefore.get(m) };
  private readonly mFramesBefore = new ZeroColumn();
  /**
   * Direction, code, Info label, type, flags and summary of each message, as one id into a table
   * of the combinations seen (a few hundred in a real capture: the type nearly decides the rest,
   * and short summaries repeat). Two bytes a message instead of ten; the rare id past 65,534
   * lies beside (SmallColumn). A summary not shared (a query's text) is read from mSummary.
   */
  private readonly mShape = new SmallColumn();
  private readonly shapeIds = new Map<number, number>();
  private readonly shapeDir: number[] = [];
  private readonly shapeCode: number[] = [];
  private readonly shapeLabel: number[] = [];
  private readonly shapeType: number[] = [];
  private readonly shapeFlags: number[] = [];
  /** mSummary's id of the summary (OWN: the message's own). */
  private readonly shapeSummary: number[] = [];
  /** 0 frontend, 1 backend. */
  readonly mDir = { get: (m: number): number => this.shapeDir[this.mShape.get(m)] as number };
  /** The type byte (0: none). */
  readonly mCode = { get: (m: number): number => this.shapeCode[this.mShape.get(m)] as number };
  /** What the Info column shows for the message's code (mCode, or a sign for startup-phase messages). */
  readonly mLabel = { get: (m: number): number => this.shapeLabel[this.mShape.get(m)] as number };
  /** The type name's id in `types`. */
  readonly mType = { get: (m: number): number => this.shapeType[this.mShape.get(m)] as number };
  /** MF_* bits. */
  readonly mFlags = { get: (m: number): number => this.shapeFlags[this.mShape.get(m)] as number };
  /** The length field's value (a map beside holds the rare one of 64 KiB or more). */
  readonly mLen = new SmallColumn();
  /** Summaries: each distinct short text once, the others on their own (the id is in the shape). */
  private readonly mSummary = new SharedArena(SUMMARY_CHARS, SHARED_SUMMARY_CHARS);
  readonly types = new Interner();
  readonly endpoints = new Interner();

  // ---- queries ----
  readonly qSess = i32();
  readonly qStartFrame = u32();
  readonly qEndFrame = u32();
  readonly qStart = f64();
  readonly qEnd = f64();
  readonly qDur = f64();
  readonly qRows = f64();
  readonly qFlags = u8();
  /** Statements in the query's batch (QF_BATCH), else 0. */
  readonly qBatch = u16();
  readonly qSql = new StringArena(SQL_CHARS);
  /**
   * Command tag, protocol, statement/portal, params: one line for the views (record-fields.ts
   * queryDetail), cut as a string of the index is. Kept as its two parts: all but the parameters
   * repeats and is stored once; the parameters mostly do not.
   */
  readonly qDetail = { get: (q: number): string => cutText(joinDetail(this.qDetailHead.get(q), this.qParams.get(q)), DETAIL_CHARS) };
  private readonly qDetailHead = new SharedArena(DETAIL_CHARS, SHARED_DETAIL_CHARS);
  private readonly qParams = new SharedArena(DETAIL_CHARS, SHARED_DETAIL_CHARS);
  readonly qError = new SharedArena(DETAIL_CHARS, SHARED_DETAIL_CHARS);

  // ---- anomalies ----
  readonly aFrame = u32();
  readonly aSess = i32();
  readonly aCode = u16();
  readonly aReason = new StringArena(SUMMARY_CHARS);
  readonly anomalyCodes = new Interner();
  private readonly aCodeCounts = new Map<number, number>();
  private readonly anomaliesByFrame = new Map<number, number[]>();

  // ---- sessions ----
  readonly sessions = new Map<number, SessionRow>();
  readonly sessionOrder: number[] = [];
  /** Per session, its messages in arrival order (as runs: a frame's messages are consecutive). */
  private readonly sessionMsgs = new Map<number, RunList>();
  private readonly sessionQueries = new Map<number, Column<Uint32Array>>();
  /** Per session, its RowDescriptions: message index and the column names (interned, NUL-joined), for the DataRows after each. */
  private readonly rowDescs = new Map<number, { msgs: Column<Uint32Array>; names: Column<Uint32Array> }>();
  private readonly columnNames = new Interner();
  /** Address pair (pairKey) to the session last seen on it; a reused port pair maps to the newer one. */
  private readonly pairSession = new Map<number, number>();
  private readonly emptyEndpoint: number;

  // ---- totals ----
  bytes = 0;
  queryErrors = 0;
  /** Kernel drops reported by the producer; null while it has not said (libpcap may not know). */
  dropped: number | null = null;
  loadDone = 0;
  loadTotal = 0;
  ended = false;
  baseUs = NaN;
  lastUs = NaN;
  readonly typeCounts: number[] = [];
  readonly sqlstateCounts = new Map<string, number>();
  /** Bumped on every change: the render timer redraws only when it moved. */
  version = 0;
  readonly cache: BodyCache;

  /** Where each message's body is found again, and its decoding state. */
  readonly bodies: MessageBodies;
  /** The frame being delivered and its captured bytes (valid only until the next frame). */
  private frameData: Buffer | null = null;
  private frameDataIndex = -1;

  /**
   * `bodyBudget`: decoded messages kept for the views (default 16 MiB); `keptBudget`: copies of
   * bodies that the capture file cannot give again (split over segments, decrypted, live; default
   * 64 MiB); `capturePath`: the file the others are read again from.
   */
  constructor(opts: { bodyBudget?: number; keptBudget?: number; capturePath?: string | null } = {}) {
    this.cache = new BodyCache(opts.bodyBudget ?? 16 * 1024 * 1024);
    this.bodies = new MessageBodies(opts.capturePath ?? null, opts.keptBudget ?? 64 * 1024 * 1024);
    this.emptyEndpoint = this.endpoints.id('');
  }

  get frameCount(): number { return this.fNo.n; }

  /**
   * The span the time axes draw (timeline, dashboard): the first frame's time to the last's, but
   * a first or last frame more than TIME_JUMP_US from its neighbour (a clock glitch, a hostile
   * frame dated 1970 or 2106) is left out, as the reassembly clock leaves it out of its timeouts:
   * one such frame would stretch the axis over decades. At most OUTLIERS_AT_ENDS frames are left
   * out at each end; a capture whose frames are all far apart keeps its whole span.
   */
  timeSpan(): [number, number] {
    const n = this.fTime.n;
    if (n === 0) return [NaN, NaN];
    const t = this.fTime;
    const near = (i: number) => Math.abs(t.get(i + 1) - t.get(i)) <= TIME_JUMP_US;
    let a = 0;
    while (a < OUTLIERS_AT_ENDS && a + 1 < n && !near(a)) a++;
    let b = n - 1;
    while (n - 1 - b < OUTLIERS_AT_ENDS && b > a && !near(b - 1)) b--;
    if ((a + 1 < n && !near(a)) || (b > a && !near(b - 1)) || b <= a) return [this.baseUs, this.lastUs];
    return [t.get(a), t.get(b)];
  }
  get messageCount(): number { return this.mLen.n; }
  get queryCount(): number { return this.qSess.n; }
  get anomalyCount(): number { return this.aFrame.n; }

  // ================= PipelineSink =================

  frame(f: FrameInfo): void {
    const fi = this.addFrame(f.frame, f.timeUs, f.fileOffset, f.length, f.capLen, f.src, f.dst, f.session);
    this.frameData = f.data ?? null;
    this.frameDataIndex = fi;
    const t = f.tcp;
    if (!t) return;
    this.fFlags.set(fi, this.fFlags.get(fi) | FF_TCP);
    this.fSeq.set(fi, t.seq >>> 0);
    this.fAck.set(fi, t.ack >>> 0);
    this.fTcpFlags.set(fi, t.flags & 0xff);
    this.fWin.set(fi, t.window & 0xffff);
    this.fPayload.set(fi, t.payload);
    // The note is the reassembler's, known once the flow table has taken the segment: the
    // producer fills it in after this call, so it is read back on the next frame (tcpNote).
    this.pendingTcp = f;
    this.pendingTcpIndex = fi;
    const key = this.fSrc.get(fi) * 0x100000 + this.fDst.get(fi);
    const list = this.seqBase.get(key);
    if (!list) this.seqBase.set(key, [fi, t.seq >>> 0]);
    else if (t.flags & 0x02) list.push(fi, t.seq >>> 0);
  }

  /** The FrameInfo whose TCP note the producer fills in after frame() returns. */
  private pendingTcp: FrameInfo | null = null;
  private pendingTcpIndex = -1;

  private settleTcpNote(): void {
    const f = this.pendingTcp;
    if (!f || !f.tcp) return;
    // Low 3 bits the note, the next 3 the TLS content type less 19 (0: none).
    const tls = f.tcp.tlsRecord >= 20 && f.tcp.tlsRecord <= 23 ? f.tcp.tlsRecord - 19 : 0;
    this.fTcpNote.set(this.pendingTcpIndex, (f.tcp.note & 7) | (tls << 3));
    this.pendingTcp = null;
  }

  /** Reassembly's note on frame `fi` (half-stream.ts SEG_*), and the TLS record type its payload starts with (0: none). */
  tcpNote(fi: number): { note: number; tlsRecord: number } {
    if (fi === this.pendingTcpIndex) this.settleTcpNote();
    const v = this.fTcpNote.get(fi);
    const t = (v >> 3) & 7;
    return { note: v & 7, tlsRecord: t === 0 ? 0 : t + 19 };
  }

  /** Sequence number of frame `fi` relative to its direction's first (from), or the raw number when none is known. */
  relativeSeq(fi: number, seq: number, reverse: boolean): number {
    const a = this.fSrc.get(fi);
    const b = this.fDst.get(fi);
    const list = this.seqBase.get(reverse ? b * 0x100000 + a : a * 0x100000 + b);
    if (!list) return seq;
    let base = list[1] as number;
    for (let k = 0; k < list.length && (list[k] as number) <= fi; k += 2) base = list[k + 1] as number;
    return (seq - base) >>> 0;
  }

  private addFrame(no: number, timeUs: number, off: number, len: number, cap: number,
    src: string | null, dst: string | null, session: number | null): number {
    this.settleTcpNote();
    const i = this.fNo.push(no);
    this.fSeq.push(0);
    this.fAck.push(0);
    this.fTcpFlags.push(0);
    this.fWin.push(0);
    this.fPayload.push(0);
    this.fTcpNote.push(0);
    this.fTime.push(timeUs);
    this.fFileOffset.push(off);
    this.fLen.push(len);
    this.fCutBytes.push(len - cap);
    this.fSrc.push(this.endpoints.id(src ?? ''));
    this.fDst.push(this.endpoints.id(dst ?? ''));
    this.fSess.push(NO_SESSION);
    this.fMsgFirst.push(this.mLen.n);
    this.fMsgCount.push(0);
    this.fFlags.push(src === null ? FF_NOT_TCP : 0);
    this.bytes += len;
    if (Number.isNaN(this.baseUs)) this.baseUs = timeUs;
    this.lastUs = timeUs;
    // Producers may leave FrameInfo.session null (the connection is known only once the flow
    // table has seen it): frames then join the session their address pair belongs to.
    const sess = session ?? (src !== null ? this.pairSession.get(this.pairKey(i)) : undefined);
    if (sess !== undefined) this.assignSession(i, sess);
    this.version++;
    return i;
  }

  private pairKey(fi: number): number {
    // Both directions of a connection give the same key: smaller endpoint id first.
    const a = this.fSrc.get(fi);
    const b = this.fDst.get(fi);
    return a < b ? a * 0x100000 + b : b * 0x100000 + a;
  }

  /** Puts frame `fi` into session `id` (once) and counts it there. */
  private assignSession(fi: number, id: number): void {
    if (this.fSess.get(fi) === id) return;
    this.fSess.set(fi, id);
    const s = this.session(id);
    const no = this.fNo.get(fi);
    const t = this.fTime.get(fi);
    if (s.frames === 0 || no < s.firstFrame) {
      s.firstFrame = no;
      s.startUs = t;
    }
    if (no >= s.lastFrame) {
      s.lastFrame = no;
      s.endUs = t;
    }
    s.frames++;
    s.bytes += this.fLen.get(fi);
  }

  /** First message of a session on an address pair: that pair's earlier frames (the handshake) join it. */
  private learnPair(fi: number, id: number): void {
    if (this.fSrc.get(fi) === this.emptyEndpoint) return;
    const key = this.pairKey(fi);
    if (this.pairSession.get(key) === id) return;
    this.pairSession.set(key, id);
    for (let k = fi - 1; k >= 0 && k >= fi - PAIR_BACKFILL; k--) {
      if (this.fSess.get(k) === NO_SESSION && this.pairKey(k) === key) this.assignSession(k, id);
    }
  }

  /**
   * A producer that hands over built records (a test's feed, a library user's producer): the
   * body is copied and the decoded form cached, as no pipeline state comes with it.
   */
  message(rec: MessageRecord, raw: RawMessage, decoded: DecodedMessage): void {
    const m = this.indexMessage(rec.session, rec.dir, rec.tls === true, raw, decoded);
    this.bodies.addBare(m, raw);
    const kept = rawMessage({
      dir: raw.dir, code: raw.code, length: raw.length, body: Buffer.from(raw.body), offset: raw.offset,
      firstFrame: raw.firstFrame, frame: raw.frame, startTimeUs: raw.startTimeUs, timeUs: raw.timeUs,
    });
    this.cache.put(m, { raw: kept, decoded, rec });
  }

  /**
   * The pipeline's way (needs.messages 'raw'): no record is built and no body copied at load.
   * The index notes where the body lies in its frame and the dissector state it was decoded
   * with (message-bodies.ts); fields are decoded again when a view or the filter asks.
   */
  rawMessage(session: number, raw: RawMessage, decode: () => DecodedMessage, ctx: DissectContext, tls: boolean): void {
    const decoded = decode();
    const m = this.indexMessage(session, raw.dir, tls, raw, decoded);
    const fi = this.frameIndexOfMessage(m);
    const off = fi >= 0 ? this.fFileOffset.get(fi) : -1;
    this.bodies.add(m, raw, decoded, ctx, { frameIndex: fi, fileOffset: off, data: fi >= 0 && fi === this.frameDataIndex ? this.frameData : null });
  }

  private indexMessage(session: number, dir: 'frontend' | 'backend', tls: boolean, raw: RawMessage, decoded: DecodedMessage): number {
    const rec = { session, dir, tls, frame: raw.frame };
    // Nearly always the frame just announced (the pipeline announces a frame before the messages it completes).
    const lastFrame = this.fNo.n - 1;
    let fi = lastFrame >= 0 && this.fNo.get(lastFrame) === rec.frame ? lastFrame : this.frameIndexOf(rec.frame);
    if (fi < 0) {
      // A producer that does not report frames: give the message a row of its own.
      const s = this.sessions.get(rec.session);
      const fromClient = rec.dir === 'frontend';
      fi = this.addFrame(rec.frame, raw.timeUs, -1, 0, 0,
        s ? (fromClient ? s.client : s.server) : null, s ? (fromClient ? s.server : s.client) : null, rec.session);
    }
    this.learnPair(fi, rec.session);
    this.assignSession(fi, rec.session);
    const t = this.types.id(decoded.type);
    let flags = rec.tls ? MF_TLS : 0;
    if (decoded.type === 'ErrorResponse') flags |= MF_ERROR;
    else if (decoded.type === 'NoticeResponse') flags |= MF_NOTICE;
    else if (decoded.type === 'Malformed' || decoded.type === 'Unknown') flags |= MF_BAD;
    let summary: string;
    try {
      summary = summarize(decoded);
    } catch {
      // A decoded shape the summary does not expect (a Malformed partial, say): its type says enough.
      summary = decoded.type;
    }
    const m = this.mLen.push(raw.length);
    this.mFramesBefore.push(raw.frame - raw.firstFrame);
    const summaryId = this.mSummary.idFor(summary, m);
    this.mShape.push(this.shapeOf(rec.dir === 'frontend' ? 0 : 1, raw.code === null ? 0 : raw.code.charCodeAt(0) & 0xff, labelOf(raw.code, decoded), t, flags, summaryId));
    this.typeCounts[t] = (this.typeCounts[t] ?? 0) + 1;

    // Attach to the frame: contiguous when it is the last frame (the pipeline announces a frame
    // before the messages it completes), aside otherwise, so fMsgFirst never descends.
    const count = this.fMsgCount.get(fi);
    const last = fi === this.fNo.n - 1;
    if (last && count === 0) {
      this.fMsgFirst.set(fi, m);
      this.fMsgCount.set(fi, 1);
    } else if (last && this.fMsgFirst.get(fi) + count === m) {
      this.fMsgCount.set(fi, count + 1);
    } else {
      let list = this.strayMsgs.get(fi);
      if (!list) this.strayMsgs.set(fi, (list = []));
      list.push(m);
      this.strayIndex.push(m);
      this.strayFrame.push(fi);
    }
    let ff = this.fFlags.get(fi) | (rec.dir === 'frontend' ? FF_FRONTEND : FF_BACKEND);
    if (flags & (MF_ERROR | MF_BAD)) ff |= FF_ERROR;
    if (flags & MF_NOTICE) ff |= FF_NOTICE;
    this.fFlags.set(fi, ff);

    const s = this.session(rec.session);
    if (s.client === '' && this.fSrc.get(fi) !== this.emptyEndpoint) {
      // Mid-stream captures have no StartupMessage: the direction says who is who.
      const src = this.endpoints.name(this.fSrc.get(fi));
      const dst = this.endpoints.name(this.fDst.get(fi));
      s.client = rec.dir === 'frontend' ? src : dst;
      s.server = rec.dir === 'frontend' ? dst : src;
    }
    s.messages++;
    if (flags & MF_ERROR) s.errors++;
    if (decoded.type === 'StartupMessage') {
      const p = decoded.parameters ?? {};
      s.user = p.user ?? s.user;
      s.database = p.database ?? s.database;
      s.application = p.application_name ?? s.application;
      const fr = this.frameIndexOf(rec.frame);
      if (fr >= 0) {
        s.client = this.endpoints.name(this.fSrc.get(fr)) || s.client;
        s.server = this.endpoints.name(this.fDst.get(fr)) || s.server;
      }
    } else if (decoded.type === 'SSLResponse' && decoded.accepted) {
      s.tls = true;
    } else if (decoded.type.startsWith('Authentication') && decoded.type !== 'AuthenticationOk') {
      s.auth = decoded.type.slice('Authentication'.length);
    }
    if (rec.tls) s.tls = true;
    if (decoded.type === 'RowDescription') {
      let rd = this.rowDescs.get(rec.session);
      if (!rd) this.rowDescs.set(rec.session, (rd = { msgs: u32(16), names: u32(16) }));
      rd.msgs.push(m);
      rd.names.push(this.columnNames.id(decoded.fields.map((f) => f.name).join('\u0000')));
    }
    let list = this.sessionMsgs.get(rec.session);
    if (!list) this.sessionMsgs.set(rec.session, (list = new RunList()));
    list.push(m);

    this.version++;
    return m;
  }

  record(rec: OutRecord): void {
    switch (rec.kind) {
      case 'query':
        this.addQuery(rec);
        break;
      case 'session':
        this.addSession(rec);
        break;
      case 'anomaly':
        this.addAnomaly(rec.frame, rec.session, rec.code, rec.reason);
        break;
      default:
        break;
    }
  }

  end(): void {
    this.settleTcpNote();
    this.frameData = null;
    this.frameDataIndex = -1;
    this.ended = true;
    this.version++;
  }

  /** When the load last gave the event loop a turn. */
  private yieldedAt = 0;

  /**
   * Asked by a file source after each chunk it read: a turn of the event loop at least every
   * YIELD_MS of loading, so keys and the redraw timer are served while a big file loads (an await
   * on a read already done would only run microtasks).
   */
  ready(): Promise<void> | null {
    if (performance.now() - this.yieldedAt < YIELD_MS) return null;
    return new Promise((resolve) => setImmediate(() => {
      this.yieldedAt = performance.now();
      resolve();
    }));
  }

  progress(done: number, total: number): void {
    this.loadDone = done;
    this.loadTotal = total;
    this.version++;
  }

  drops(n: number): void {
    this.dropped = n;
    this.version++;
  }

  /** Live: decoding's backlog as the producer words it, '' when caught up. */
  behind = '';

  lag(text: string): void {
    if (text === this.behind) return;
    this.behind = text;
    this.version++;
  }

  private addAnomaly(frame: number | null, session: number | null, code: string, reason: string): void {
    const a = this.aFrame.push(frame ?? 0);
    this.aSess.push(session ?? NO_SESSION);
    const id = this.anomalyCodes.id(code);
    this.aCode.push(id);
    this.aCodeCounts.set(id, (this.aCodeCounts.get(id) ?? 0) + 1);
    this.aReason.add(reason);
    if (frame !== null) {
      let list = this.anomaliesByFrame.get(frame);
      if (!list) this.anomaliesByFrame.set(frame, (list = []));
      list.push(a);
      const fi = this.frameIndexOf(frame);
      if (fi >= 0) this.fFlags.set(fi, this.fFlags.get(fi) | FF_ANOMALY);
    }
    this.version++;
  }

  private addQuery(rec: Record<string, unknown>): void {
    const session = typeof rec.session === 'number' ? rec.session : NO_SESSION;
    // src/session/schema.ts: firstFrame (request) and lastFrame (completion).
    const endFrame = typeof rec.lastFrame === 'number' ? rec.lastFrame : typeof rec.frame === 'number' ? rec.frame : 0;
    const startFrame = typeof rec.firstFrame === 'number' ? rec.firstFrame : endFrame;
    const efi = this.frameIndexOf(endFrame);
    const endUs = efi >= 0 ? this.fTime.get(efi) : isoToUs(String(rec.time));
    const dur = num(rec.durationMs);
    const sfi = this.frameIndexOf(startFrame);
    const startIso = typeof rec.startTime === 'string' ? isoToUs(rec.startTime) : NaN;
    const startUs = !Number.isNaN(startIso) ? startIso : !Number.isNaN(dur) ? endUs - dur * 1000 : sfi >= 0 ? this.fTime.get(sfi) : endUs;

    const q = this.qSess.push(session);
    this.qStartFrame.push(startFrame);
    this.qEndFrame.push(endFrame);
    this.qStart.push(startUs);
    this.qEnd.push(endUs);
    this.qDur.push(dur);
    this.qRows.push(num(rec.rows));
    let flags = rec.protocol === 'extended' ? QF_EXTENDED : rec.protocol === 'function' ? QF_FUNCTION : 0;
    if (Number.isNaN(dur)) flags |= QF_NO_DURATION;
    if (rec.incomplete === true) flags |= QF_INCOMPLETE;
    if (rec.skipped === true) flags |= QF_SKIPPED;
    if (rec.rolledBack === true) flags |= QF_ROLLED_BACK;
    const batch = rec.batch && typeof rec.batch === 'object' ? (rec.batch as Record<string, unknown>) : null;
    if (batch) flags |= QF_BATCH;
    const err = queryError(rec);
    if (err) {
      flags |= QF_ERROR;
      this.sqlstateCounts.set(err.sqlstate, (this.sqlstateCounts.get(err.sqlstate) ?? 0) + 1);
      this.queryErrors++;
    }
    this.qFlags.push(flags);
    this.qBatch.push(batch && typeof batch.size === 'number' ? Math.min(0xffff, batch.size) : 0);
    this.qSql.add(typeof rec.sql === 'string' ? rec.sql : '');
    this.qError.add(err ? err.text : '');
    this.qDetailHead.add(queryDetailHead(rec));
    this.qParams.add(queryParams(rec));

    if (session !== NO_SESSION) {
      const s = this.session(session);
      s.queries++;
      let list = this.sessionQueries.get(session);
      if (!list) this.sessionQueries.set(session, (list = u32(16)));
      list.push(q);
    }
    // The frames a failed query spans show red in the list.
    if (flags & QF_ERROR && efi >= 0) this.fFlags.set(efi, this.fFlags.get(efi) | FF_ERROR);
    this.version++;
  }

  private addSession(rec: Record<string, unknown>): void {
    if (typeof rec.session !== 'number') return;
    applySessionRecord(this.session(rec.session), rec);
    this.version++;
  }

  session(id: number): SessionRow {
    let s = this.sessions.get(id);
    if (!s) {
      s = {
        id, client: '', server: '', firstFrame: 0, lastFrame: 0, startUs: NaN, endUs: NaN, frames: 0, bytes: 0,
        messages: 0, queries: 0, errors: 0, user: '', database: '', application: '', tls: false, auth: '', extra: {},
      };
      this.sessions.set(id, s);
      this.sessionOrder.push(id);
    }
    return s;
  }

  // ================= accessors =================

  /** Index of a frame number, or -1. Frame numbers ascend, usually as index + 1. */
  frameIndexOf(no: number): number {
    const n = this.fNo.n;
    const a = this.fNo;
    if (no >= 1 && no <= n && a.get(no - 1) === no) return no - 1;
    if (n > 0 && a.get(n - 1) === no) return n - 1;
    let lo = 0;
    let hi = n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = a.get(mid);
      if (v === no) return mid;
      if (v < no) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Message indices of a frame, in arrival order. */
  messagesOf(fi: number): number[] {
    const first = this.fMsgFirst.get(fi);
    const count = this.fMsgCount.get(fi);
    const out: number[] = [];
    for (let k = 0; k < count; k++) out.push(first + k);
    const stray = this.strayMsgs.get(fi);
    if (stray) out.push(...stray);
    return out;
  }

  /**
   * Index of the frame that completed message `m`: a stray's from its table, else the last frame
   * whose first message is at or before it (fMsgFirst ascends, frames without messages included).
   */
  frameIndexOfMessage(m: number): number {
    const strays = this.strayIndex;
    if (strays.n > 0 && m >= strays.get(0)) {
      let lo = 0;
      let hi = strays.n - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const v = strays.get(mid);
        if (v === m) return this.strayFrame.get(mid);
        if (v < m) lo = mid + 1;
        else hi = mid - 1;
      }
    }
    const first = this.fMsgFirst;
    let lo = 0;
    let hi = first.n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (first.get(mid) <= m) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The table id of a message's direction, code, label, type, flags and summary id (mShape). */
  private shapeOf(dir: number, code: number, label: number, type: number, flags: number, summary: number): number {
    // Exact in a double: the type ids are the dissectors' few hundred type names (< 2^12), the rest 8, 8, 1, 8 and 16 bits.
    const key = ((((type * 256 + code) * 256 + label) * 2 + dir) * 256 + flags) * 0x10000 + summary;
    let id = this.shapeIds.get(key);
    if (id === undefined) {
      id = this.shapeDir.length;
      this.shapeIds.set(key, id);
      this.shapeDir.push(dir);
      this.shapeCode.push(code);
      this.shapeLabel.push(label);
      this.shapeType.push(type);
      this.shapeFlags.push(flags);
      this.shapeSummary.push(summary);
    }
    return id;
  }

  typeName(m: number): string { return this.types.name(this.mType.get(m)); }
  code(m: number): string | null { const c = this.mCode.get(m); return c === 0 ? null : String.fromCharCode(c); }
  dirOf(m: number): 'frontend' | 'backend' { return this.mDir.get(m) === 0 ? 'frontend' : 'backend'; }
  summary(m: number): string { return this.mSummary.text(m, this.shapeSummary[this.mShape.get(m)] as number); }

  /** Session of a message: that of its frame (a frame belongs to one TCP connection). */
  sessionOf(m: number): number {
    return this.fSess.get(this.frameIndexOfMessage(m));
  }

  /** Capture time of a message: that of the frame its last byte came in. */
  messageTime(m: number): number {
    return this.fTime.get(this.frameIndexOfMessage(m));
  }
  /** Message `m` decoded: from the cache, else decoded again from its body (and cached); undefined when its body is gone. */
  cached(m: number): CachedMessage | undefined {
    const c = this.cache.get(m);
    if (c !== undefined) return c;
    const again = this.decodeAgain(m);
    if (again !== null) this.cache.put(m, again);
    return again ?? undefined;
  }

  /** Whether message `m`'s fields can be had (cached, or its body readable again). */
  bodyAvailable(m: number): boolean {
    if (this.cache.peek(m) !== undefined) return true;
    return this.bodies.available(m, this.fFileOffset.get(this.frameIndexOfMessage(m)));
  }

  /**
   * Message `m`'s full record (as `read --json` writes it) without touching the cache's ages (the
   * filter's scans must not churn it), or null when its body is gone.
   */
  fullRecord(m: number): MessageRecord | null {
    const c = this.cache.peek(m);
    if (c !== undefined) return c.rec;
    return this.decodeAgain(m)?.rec ?? null;
  }

  private decodeAgain(m: number): CachedMessage | null {
    if (m < 0 || m >= this.messageCount) return null;
    const fi = this.frameIndexOfMessage(m);
    const no = this.fNo.get(fi);
    const first = this.frameIndexOf(this.mFirstFrame.get(m));
    const code = this.code(m);
    const timeUs = this.fTime.get(fi);
    const got = this.bodies.decode(m, {
      dir: this.dirOf(m), code, length: this.mLen.get(m), firstFrame: this.mFirstFrame.get(m), frame: no,
      startTimeUs: first >= 0 ? this.fTime.get(first) : timeUs, timeUs,
    }, fi, this.fFileOffset.get(fi));
    if (got === null) return null;
    const rec = messageRecord(this.fSess.get(fi), got.raw, got.decoded, (this.mFlags.get(m) & MF_TLS) !== 0);
    return { raw: got.raw, decoded: got.decoded, rec };
  }

  /**
   * The Info column: direction, the message codes (runs folded: D×120), then the summary of
   * the first message (or of the error, when the frame carries one). Raw text: escape it.
   */
  info(fi: number): string {
    const msgs = this.messagesOf(fi);
    if (msgs.length === 0) {
      const anoms = this.anomaliesByFrame.get(this.fNo.get(fi));
      if (anoms && anoms.length > 0) return `[${this.anomalyCodes.name(this.aCode.get(anoms[0] as number))}] ${this.aReason.get(anoms[0] as number)}`;
      const ff = this.fFlags.get(fi);
      return ff & FF_NOT_TCP ? '(not TCP/IP)' : ff & FF_TCP ? this.tcpInfo(fi) : 'TCP';
    }
    const flags = this.fFlags.get(fi);
    const arrow = (flags & FF_FRONTEND) && (flags & FF_BACKEND) ? '<>' : flags & FF_FRONTEND ? '>' : '<';
    const info = new InfoColumn(arrow);
    for (const m of msgs) {
      const flagged = (this.mFlags.get(m) & (MF_ERROR | MF_BAD)) !== 0;
      info.add(String.fromCharCode(this.mLabel.get(m)), info.wantsSummary(flagged) ? this.summary(m) : null, flagged);
    }
    return info.text();
  }

  /**
   * A frame without PostgreSQL messages, as Wireshark's Info column has it: the reassembly note,
   * ports, flags, relative numbers, window and length; a TLS record (encrypted, keys not given)
   * is named TLS, not TCP.
   */
  private tcpInfo(fi: number): string {
    const { note, tlsRecord } = this.tcpNote(fi);
    const sess = this.fSess.get(fi);
    const s = sess >= 0 ? this.sessions.get(sess) : undefined;
    const len = this.fPayload.get(fi);
    const src = this.endpoints.name(this.fSrc.get(fi));
    const dst = this.endpoints.name(this.fDst.get(fi));
    const port = (e: string) => e.slice(e.lastIndexOf(':') + 1);
    const lead = SEG_NOTE_INFO[note] ?? '';
    if (len > 0 && (s?.tls || (tlsRecord > 0 && (s === undefined || s.messages === 0)))) {
      const what = tlsRecord > 0 ? TLS_CONTENT[tlsRecord] : 'continuation';
      return `${lead}TLS ${what}, Len=${len}, encrypted`;
    }
    const f = this.fTcpFlags.get(fi);
    const names = tcpFlagNames(f);
    const seq = this.relativeSeq(fi, this.fSeq.get(fi), false);
    const ack = f & 0x10 ? ` Ack=${this.relativeSeq(fi, this.fAck.get(fi), true)}` : '';
    return `${lead}${port(src)} → ${port(dst)} [${names}] Seq=${seq}${ack} Win=${this.fWin.get(fi)} Len=${len}`;
  }

  /** Anomalies by code id, counted as they came (the statistics view reads it). */
  anomalyCodeCounts(): Map<number, number> {
    return this.aCodeCounts;
  }

  anomaliesAt(frameNo: number): number[] {
    return this.anomaliesByFrame.get(frameNo) ?? [];
  }

  sessionMessages(id: number): IndexList | undefined { return this.sessionMsgs.get(id); }

  /** Column names of the RowDescription in force for message `m` of its session (the last before it), or null. */
  columnNamesFor(m: number): string[] | null {
    const rd = this.rowDescs.get(this.sessionOf(m));
    if (!rd) return null;
    let lo = 0;
    let hi = rd.msgs.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rd.msgs.get(mid) < m) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? null : this.columnNames.name(rd.names.get(lo - 1)).split('\u0000');
  }
  sessionQueryList(id: number): Column<Uint32Array> | undefined { return this.sessionQueries.get(id); }

  /** The query a message at frame `frameNo` of `session` belongs to, or -1 (request..completion frames). */
  queryAt(session: number, frameNo: number): number {
    const list = this.sessionQueries.get(session);
    if (!list) return -1;
    // Query records arrive at completion, so end frames ascend: the first ending at or after
    // the frame is the candidate; pipelined queries overlap, hence the short look-ahead.
    let lo = 0;
    let hi = list.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.qEndFrame.get(list.get(mid)) < frameNo) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < list.n && k < lo + 8; k++) {
      const q = list.get(k);
      if (this.qStartFrame.get(q) <= frameNo && frameNo <= this.qEndFrame.get(q)) return q;
    }
    return -1;
  }

  /**
   * A message's envelope as the index has it, the keys every message record has and nothing more:
   * what the filter tests before it decides whether it needs the body (frame-filter.ts).
   */
  envelopeRecord(m: number): Record<string, unknown> {
    return {
      kind: 'message', session: this.sessionOf(m), time: isoTime(this.messageTime(m)), frame: this.mFrame.get(m), dir: this.dirOf(m),
      type: this.typeName(m), code: this.code(m), length: this.mLen.get(m),
    };
  }

  /** Bytes held by the index (not counting the body cache), for the statistics view. */
  indexBytes(): number {
    let b = 0;
    for (const c of [this.fNo, this.fTime, this.fSeq, this.fAck, this.fTcpFlags, this.fWin, this.fPayload, this.fTcpNote, this.fFileOffset, this.fLen, this.fCutBytes, this.fSrc, this.fDst, this.fSess, this.fMsgFirst,
      this.fMsgCount, this.fFlags, this.strayIndex, this.strayFrame, this.mFramesBefore, this.mShape, this.mLen, this.qSess, this.qStartFrame, this.qEndFrame, this.qStart, this.qEnd, this.qDur, this.qRows, this.qFlags, this.qBatch]) {
      b += c.bytes();
    }
    for (const c of this.sessionMsgs.values()) b += c.bytes();
    for (const c of this.sessionQueries.values()) b += c.bytes();
    // The body offsets and state ids, and the copies of bodies the file cannot give again.
    b += this.bodies.bytes();
    return b + this.mSummary.bytes() + this.qSql.bytes() + this.qDetailHead.bytes() + this.qParams.bytes() + this.qError.bytes() + this.aReason.bytes();
  }
}
