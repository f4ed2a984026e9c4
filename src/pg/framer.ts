/**
 * Message framing: cuts one direction's reassembled byte stream into PostgreSQL messages
 * ("Message Formats": a type byte, then an Int32 length that counts itself, then the body;
 * startup-phase messages have no type byte; the answers to SSLRequest and GSSENCRequest are a
 * single byte). Framing is kept apart from decoding (STYLE.md point 2): this module only finds
 * boundaries and hands out RawMessages; dissectors/ decodes them.
 *
 * Robustness: the stream may start mid-message (capture started late), lose bytes (gaps), or
 * not be PostgreSQL at all. A gap inside a message whose length is known keeps us aligned: the
 * message is reported damaged and the bytes after it are framed as usual. A gap at or across a
 * boundary, and a stream that starts mid-way, put the framer out of sync: it then looks for a
 * plausible boundary (a type byte valid for the direction, a sane length, and a plausible next
 * header) and reports the bytes it skipped.
 */
import type { Direction } from '../core/direction.js';
import type { RawMessage } from '../../dissectors/types.js';
import { messageCodes } from '../../dissectors/registry.js';

/** Type bytes valid from the frontend after startup ("Message Formats"): the dissectors' registry's. */
export const FRONTEND_CODES = messageCodes('frontend');
/** Type bytes valid from the backend (ParameterStatus 'S' included, which the list written here once left out). */
export const BACKEND_CODES = messageCodes('backend');

const FRONTEND_TABLE = codeTable(FRONTEND_CODES);
const BACKEND_TABLE = codeTable(BACKEND_CODES);

function codeTable(codes: string): Uint8Array {
  const t = new Uint8Array(256);
  for (let i = 0; i < codes.length; i++) t[codes.charCodeAt(i)] = 1;
  return t;
}

/** The type byte's one-letter string, by byte value: no string is made per message. */
const CODE_STRINGS: readonly string[] = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i));

/**
 * The RawMessage the framer hands out. The body is a view of the delivered bytes (or of the
 * buffer a split message was collected in), made only when `body` is first read: the phase
 * tracking and the statistics never read most bodies, and a Buffer view costs more than the
 * rest of framing a message. The object keeps the bytes it would view, exactly as an eager
 * view would (the same lifetime rule applies: valid only during the call that hands it over).
 * A reader that wants no view at all can read source[bodyStart, bodyEnd) directly.
 */
export class FramedMessage implements RawMessage {
  readonly dir: Direction;
  readonly code: string | null;
  readonly length: number;
  readonly offset: number;
  readonly firstFrame: number;
  readonly frame: number;
  readonly startTimeUs: number;
  readonly timeUs: number;
  /** The body is source[bodyStart, bodyEnd). Read-only for users: assign `body` instead. */
  source: Buffer;
  bodyStart: number;
  bodyEnd: number;
  private view: Buffer | null = null;

  constructor(
    dir: Direction, code: string | null, length: number, source: Buffer, bodyStart: number, bodyEnd: number,
    offset: number, firstFrame: number, startTimeUs: number, frame: number, timeUs: number,
  ) {
    this.dir = dir;
    this.code = code;
    this.length = length;
    this.offset = offset;
    this.firstFrame = firstFrame;
    this.frame = frame;
    this.startTimeUs = startTimeUs;
    this.timeUs = timeUs;
    this.source = source;
    this.bodyStart = bodyStart;
    this.bodyEnd = bodyEnd;
  }

  get body(): Buffer {
    if (this.view === null) {
      const src = this.source;
      this.view = this.bodyStart === 0 && this.bodyEnd === src.length ? src : src.subarray(this.bodyStart, this.bodyEnd);
    }
    return this.view;
  }

  set body(b: Buffer) {
    this.source = b;
    this.bodyStart = 0;
    this.bodyEnd = b.length;
    this.view = b;
  }

  /** The body's size, without making the view. */
  get bodyLength(): number {
    return this.bodyEnd - this.bodyStart;
  }

  /** The body's first byte (-1 when empty), without making the view. */
  firstByte(): number {
    return this.bodyEnd > this.bodyStart ? this.source[this.bodyStart]! : -1;
  }

  /** The body's first four bytes as a signed Int32 (the caller checks bodyLength >= 4), without making the view. */
  int32At0(): number {
    const s = this.source;
    const o = this.bodyStart;
    return (s[o]! << 24) | (s[o + 1]! << 16) | (s[o + 2]! << 8) | s[o + 3]!;
  }
}

/** Startup-phase request codes (the Int32 after the length). */
export const PROTOCOL_3_0 = 196608;
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;
/** The server's limit on a startup packet (MAX_STARTUP_PACKET_LENGTH). */
const MAX_STARTUP_LENGTH = 10000;

type FramingMode =
  /** Length-prefixed messages without a type byte (frontend before StartupMessage). */
  | 'untyped'
  /** Type byte + length (the normal case). */
  | 'typed'
  /** One byte: the backend's answer to SSLRequest or GSSENCRequest. */
  | 'answer'
  /** Nothing more to frame (encrypted, not PostgreSQL, or finished). */
  | 'off';

export interface FramerEvents {
  /** A framed message (a RawMessage whose body view is made on first read). */
  message(m: FramedMessage): void;
  /** Bytes that could not be framed (skipped while out of sync, or lost in a gap). */
  skipped(bytes: number, reason: 'resync' | 'gap' | 'damaged', frame: number, timeUs: number): void;
  /** A declared length beyond the limit: the message is skipped whole. */
  tooLarge(code: string | null, length: number, frame: number, timeUs: number): void;
  /** The first bytes of a startup phase are not a startup packet: framing stops ('off'). */
  notStartup(length: number, frame: number, timeUs: number): void;
}

const EMPTY = Buffer.alloc(0);

/** Upper bound for bytes kept while looking for a boundary before accepting a weaker candidate. */
const RESYNC_WINDOW = 64 * 1024;
/** While out of sync, a candidate message longer than this is not believed. */
const RESYNC_MAX_LENGTH = 1 << 20;

export class DirectionFramer {
  readonly dir: Direction;
  mode: FramingMode;
  /** False when the stream position is not known to be a message boundary. */
  synced: boolean;
  /** Messages larger than this (declared length) are skipped with an anomaly. */
  maxMessage: number;
  /** Stream offset (bytes of this direction seen so far, including lost ones). */
  private offset = 0;
  /** Type bytes valid for this direction (FRONTEND_TABLE or BACKEND_TABLE). */
  private readonly codes: Uint8Array;

  // A message whose body is being collected across deliveries. The buffer grows as bytes arrive
  // (doubling, up to the declared size), never allocated from the declared length: a header
  // is only a claim, and 10,000 connections each claiming 60 MiB must not cost 600 GB of
  // allocations (nor a full GC for external memory at each one).
  private collecting = false;
  /** Where the body's bytes go; null while collecting a damaged body (its bytes are only counted). */
  private body: Buffer | null = null;
  private bodyFill = 0;
  /** The body's declared size (length - 4). */
  private bodyTotal = 0;
  private msgCode: string | null = null;
  private msgLength = 0;
  private msgOffset = 0;
  private msgFirstFrame = 0;
  private msgStartTime = 0;
  private damaged = false;
  /** Bytes of a too-large message still to skip. */
  private discard = 0;
  // A header split across deliveries; made at the first such split (a Buffer of its own is an
  // ArrayBuffer with external memory to track, and a connection flood makes 100,000 framers).
  private header: Buffer | null = null;
  private headerFill = 0;
  private headerFirstFrame = 0;
  private headerStartTime = 0;
  // Bytes kept while out of sync (messages framed from them are dated by the frame that completed the resync).
  private pending: Buffer | null = null;
  /** The data resync() found a boundary in (pending + new bytes), handed back to push(). */
  private resumed: Buffer | null = null;

  constructor(dir: Direction, mode: FramingMode, private readonly events: FramerEvents, maxMessage = 64 * 1024 * 1024) {
    this.dir = dir;
    this.codes = dir === 'frontend' ? FRONTEND_TABLE : BACKEND_TABLE;
    this.mode = mode;
    this.synced = true;
    this.maxMessage = maxMessage;
  }

  /** Bytes lost before the next push (a reassembly gap). */
  gap(lost: number, frame: number, timeUs: number): void {
    if (lost <= 0 || this.mode === 'off') {
      this.offset += Math.max(lost, 0);
      return;
    }
    this.offset += lost;
    if (this.discard > 0) {
      const n = Math.min(this.discard, lost);
      this.discard -= n;
      lost -= n;
      if (lost === 0) return;
    }
    if (this.collecting) {
      const need = this.bodyTotal - this.bodyFill;
      if (lost < need) {
        // Still aligned: the message is damaged (its bytes are let go and only counted from
        // here), and what follows it is framed normally.
        this.bodyFill += lost;
        this.damaged = true;
        this.body = null;
        this.events.skipped(lost, 'gap', frame, timeUs);
        return;
      }
      this.collecting = false;
      this.body = null;
      this.events.skipped(this.bodyFill + (this.msgCode === null ? 4 : 5), 'damaged', frame, timeUs);
      lost -= need;
    }
    this.headerFill = 0;
    this.events.skipped(lost, 'gap', frame, timeUs);
    if (this.pending) {
      this.events.skipped(this.pending.length, 'resync', frame, timeUs);
      this.pending = null;
    }
    this.synced = false;
  }

  /** The stream offset of the next byte pushed (FramedMessage.offset counts the same way). */
  get position(): number {
    return this.offset;
  }

  /** Marks the position as unknown (stream starts mid-way). */
  desync(): void {
    this.synced = false;
  }

  /**
   * In-order bytes of this direction, from one frame: bytes[start, end) (the whole buffer by
   * default). Messages that lie whole in it are handed out as views of `bytes`, not copies.
   */
  push(bytes: Buffer, frame: number, timeUs: number, start = 0, end = bytes.length): void {
    let pos = start;
    let n = end;
    while (pos < n && this.mode !== 'off') {
      if (this.discard > 0) {
        const k = Math.min(this.discard, n - pos);
        this.discard -= k;
        pos += k;
        this.offset += k;
        continue;
      }
      if (this.collecting) {
        const k = Math.min(this.bodyTotal - this.bodyFill, n - pos);
        if (!this.damaged) {
          let body = this.body!;
          if (body.length < this.bodyFill + k) body = this.grow(this.bodyFill + k);
          bytes.copy(body, this.bodyFill, pos, pos + k);
        }
        this.bodyFill += k;
        pos += k;
        this.offset += k;
        if (this.bodyFill === this.bodyTotal) this.finishBody(frame, timeUs);
        continue;
      }
      if (!this.synced) {
        const at = this.resync(bytes, pos, n, frame, timeUs);
        if (at < 0) return;
        // Resynchronised: frame the rest of the combined data from the boundary found.
        bytes = this.resumed!;
        this.resumed = null;
        pos = at;
        n = bytes.length;
        continue;
      }
      if (this.mode === 'answer') {
        const b = bytes[pos];
        if (b !== 0x53 && b !== 0x4e && b !== 0x47) {
          // Not S/N/G: a server too old for the request answers with an ErrorResponse, a typed message.
          this.mode = 'typed';
          continue;
        }
        this.events.message(new FramedMessage(this.dir, null, 1, bytes, pos, pos + 1, this.offset, frame, timeUs, frame, timeUs));
        pos += 1;
        this.offset += 1;
        continue;
      }
      const hlen = this.mode === 'typed' ? 5 : 4;
      if (this.headerFill > 0 || n - pos < hlen) {
        // Collect a header that straddles deliveries.
        if (this.headerFill === 0) {
          this.headerFirstFrame = frame;
          this.headerStartTime = timeUs;
        }
        const k = Math.min(hlen - this.headerFill, n - pos);
        const header = (this.header ??= Buffer.alloc(5));
        bytes.copy(header, this.headerFill, pos, pos + k);
        this.headerFill += k;
        pos += k;
        this.offset += k;
        if (this.headerFill < hlen) return;
        this.headerFill = 0;
        this.startMessage(header, 0, hlen, this.offset - hlen, this.headerFirstFrame, this.headerStartTime, frame, timeUs);
        continue;
      }
      // Fast path: the header is here; if the whole message is too, hand out a view (no copy).
      // The length is read byte by byte: the bounds are checked above, Buffer's reader checks again.
      const l = pos + hlen - 4;
      const length = bytes[l]! * 0x1000000 + ((bytes[l + 1]! << 16) | (bytes[l + 2]! << 8) | bytes[l + 3]!);
      const total = hlen - 4 + length;
      if (hlen === 5) {
        const code = bytes[pos]!;
        if (length >= 4 && length <= this.maxMessage && (this.codes[code] === 1 || length <= RESYNC_MAX_LENGTH) && n - pos >= total) {
          this.events.message(new FramedMessage(this.dir, CODE_STRINGS[code]!, length, bytes, pos + 5, pos + total, this.offset, frame, timeUs, frame, timeUs));
          pos += total;
          this.offset += total;
          continue;
        }
      } else if (length >= 8 && length <= MAX_STARTUP_LENGTH && length <= this.maxMessage && n - pos >= total) {
        this.events.message(new FramedMessage(this.dir, null, length, bytes, pos + 4, pos + total, this.offset, frame, timeUs, frame, timeUs));
        pos += total;
        this.offset += total;
        continue;
      }
      pos += hlen;
      this.offset += hlen;
      this.startMessage(bytes, pos - hlen, hlen, this.offset - hlen, frame, timeUs, frame, timeUs);
    }
    if (this.mode === 'off') this.offset += n - pos;
  }

  /** Anything still buffered at end of stream is reported as skipped (an incomplete message). */
  finish(frame: number, timeUs: number): void {
    if (this.collecting) {
      this.events.skipped(this.bodyFill + (this.msgCode === null ? 4 : 5), 'damaged', frame, timeUs);
      this.collecting = false;
      this.body = null;
    }
    if (this.headerFill > 0) this.events.skipped(this.headerFill, 'damaged', frame, timeUs);
    this.headerFill = 0;
    if (this.pending) this.events.skipped(this.pending.length, 'resync', frame, timeUs);
    this.pending = null;
  }

  /**
   * While in sync, a header is believed when its length is sane: a type byte the documentation
   * does not define still frames (the dissectors report it as Unknown) as long as its length is
   * modest; an unknown byte with a huge length is more likely garbage, so we resync instead.
   */
  private acceptable(code: number, length: number): boolean {
    if (code < 0) return length >= 8 && length <= MAX_STARTUP_LENGTH;
    if (this.codes[code] === 1) return true;
    return length <= RESYNC_MAX_LENGTH;
  }

  /** A header has been read (from `buf` at `at`); set up collection of the body. */
  private startMessage(buf: Buffer, at: number, hlen: number, msgOffset: number, firstFrame: number, startTime: number, frame: number, timeUs: number): void {
    const code = hlen === 5 ? buf[at] : -1;
    const length = buf.readUInt32BE(at + hlen - 4);
    const codeStr = code < 0 ? null : CODE_STRINGS[code]!;
    if (code < 0 && !this.acceptable(code, length)) {
      // A startup phase that does not start with a startup packet: not PostgreSQL, or damaged.
      this.mode = 'off';
      this.events.notStartup(length, frame, timeUs);
      return;
    }
    if (length < 4 || !this.acceptable(code, length)) {
      // Not a boundary after all: treat the header bytes as the start of an unsynced run.
      this.synced = false;
      this.pending = Buffer.from(buf.subarray(at, at + hlen));
      return;
    }
    if (length > this.maxMessage) {
      this.events.tooLarge(codeStr, length, frame, timeUs);
      this.discard = length - 4;
      return;
    }
    this.msgCode = codeStr;
    this.msgLength = length;
    this.msgOffset = msgOffset;
    this.msgFirstFrame = firstFrame;
    this.msgStartTime = startTime;
    this.damaged = false;
    this.collecting = true;
    this.bodyTotal = length - 4;
    this.body = EMPTY;
    this.bodyFill = 0;
    if (length === 4) this.finishBody(frame, timeUs);
  }

  /**
   * Bytes held for the message being collected, a split header and an unsynced run: what a
   * connection's framing costs whatever the capture declares (the memory limits test reads it).
   */
  get heldBytes(): number {
    return (this.body ? this.body.length : 0) + (this.pending ? this.pending.length : 0) + 5;
  }

  /** Makes room for `need` body bytes: doubling, never past the declared size. */
  private grow(need: number): Buffer {
    const old = this.body!;
    let size = old.length * 2;
    if (size < need) size = need;
    if (size > this.bodyTotal) size = this.bodyTotal;
    // Small first pieces come from Node's shared pool (no external allocation of their own):
    // thousands of connections each holding a few bytes of a message cost no GC pressure.
    const body = Buffer.allocUnsafe(size);
    old.copy(body, 0, 0, this.bodyFill);
    this.body = body;
    return body;
  }

  private finishBody(frame: number, timeUs: number): void {
    const body = this.body!;
    this.body = null;
    this.collecting = false;
    if (this.damaged) {
      this.events.skipped(0, 'damaged', frame, timeUs);
      return;
    }
    this.events.message(new FramedMessage(this.dir, this.msgCode, this.msgLength, body, 0, body.length, this.msgOffset, this.msgFirstFrame, this.msgStartTime, frame, timeUs));
  }

  /**
   * Out of sync: find the first position in (pending + bytes) where a plausible message starts.
   * Plausible: a valid type byte, a length in [4, 1 MiB], and either the message ends exactly at
   * the end of the data seen so far or another plausible header follows it. Returns -1 when all
   * of `bytes` was consumed (kept as pending or dropped), else the boundary's position in
   * this.resumed, from which push() frames on (a loop, not recursion: hostile input can
   * desynchronise thousands of times in one buffer).
   */
  private resync(bytes: Buffer, pos: number, end: number, frame: number, timeUs: number): number {
    let data: Buffer;
    if (this.pending) {
      data = Buffer.concat([this.pending, bytes.subarray(pos, end)]);
    } else {
      data = bytes.subarray(pos, end);
    }
    const startOffset = this.offset - (this.pending ? this.pending.length : 0);
    this.offset += end - pos;
    this.pending = null;
    const typed = this.mode === 'typed';
    const hlen = typed ? 5 : 4;
    const table = this.codes;
    const plausibleAt = (p: number): number => {
      // 1 plausible and complete-or-chained, 0 not plausible, -1 cannot tell yet (needs more data)
      if (data.length - p < hlen) return -1;
      if (typed && table[data[p]] !== 1) return 0;
      const len = data.readUInt32BE(p + hlen - 4);
      if (len < 4 || len > RESYNC_MAX_LENGTH) return 0;
      if (!typed && (len < 8 || len > MAX_STARTUP_LENGTH)) return 0;
      const end = p + hlen - 4 + len;
      if (end === data.length) return 1;
      if (end > data.length) return -1;
      if (data.length - end < hlen) return -1;
      if (typed && table[data[end]] !== 1) return 0;
      const next = data.readUInt32BE(end + hlen - 4);
      return next >= 4 && next <= RESYNC_MAX_LENGTH ? 1 : 0;
    };
    for (let p = 0; p < data.length; p++) {
      const v = plausibleAt(p);
      if (v === 0) continue;
      if (v === -1 && data.length < RESYNC_WINDOW) {
        // Keep from here and wait for more bytes before deciding.
        if (p > 0) this.events.skipped(p, 'resync', frame, timeUs);
        this.pending = Buffer.from(data.subarray(p));
        return -1;
      }
      if (v === -1) continue;
      if (p > 0) this.events.skipped(p, 'resync', frame, timeUs);
      this.synced = true;
      // Frame the rest normally. Offsets: rewind to the boundary, push() advances again.
      this.offset = startOffset + p;
      this.resumed = data;
      return p;
    }
    // No plausible boundary in a full window: drop it all.
    this.events.skipped(data.length, 'resync', frame, timeUs);
    return -1;
  }
}
