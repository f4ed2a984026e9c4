/**
 * One TCP connection seen as a PostgreSQL connection: the protocol phases of "Message Flow"
 * (startup packet, SSL/GSSENC negotiation, authentication, normal operation, COPY, encrypted),
 * which decide how each direction is framed and how ambiguous bytes decode (`p` means
 * PasswordMessage or SASLResponse depending on the last Authentication request; CopyData means
 * rows or replication depending on the COPY mode).
 *
 * It also decides whether the connection speaks PostgreSQL at all: a connection whose start was
 * seen must open with a startup packet from the client (the server never speaks first); one
 * seen mid-way is believed on a server port, or elsewhere once its first messages frame cleanly.
 */
import type { Direction } from '../core/direction.js';
import type { Anomaly, AnomalyCode } from '../core/anomaly.js';
import type { ConnectionInfo, ConnectionSink, Delivery, ConnectionEnd } from '../reassembly/types.js';
import type { ColumnDescription, DecodedMessage, DissectContext, RawMessage } from '../../dissectors/types.js';
import {
  DirectionFramer, FramedMessage, type FramerEvents, CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE,
} from './framer.js';
import { looksLikeTls } from './tls/index.js';
import { StreamDelivery } from '../reassembly/index.js';

/** What the connection reports to the layers after it (session tracking, sinks). */
export interface PgObserver {
  /** A framed message; `decode` dissects it (cached: call it as often as you like). */
  message(raw: RawMessage, decode: () => DecodedMessage): void;
  anomaly(a: Anomaly): void;
  /**
   * Bytes of direction `dir` were lost or could not be framed (a gap, a resync, a damaged or
   * skipped message): the session layer can no longer be sure which answer is whose.
   */
  lost?(dir: Direction): void;
  /**
   * The message about to be passed to message() holds bytes of direction `dir` from a segment
   * whose TCP checksum was wrong (Delivery.unconfirmed): it may not be what was sent.
   */
  unconfirmed?(dir: Direction): void;
  /**
   * The connection turned out to be TLS (after SSLRequest + 'S', or direct TLS, or recognised
   * from its records when the capture began inside the session: then `handshakeSeen` is false).
   */
  encrypted(kind: 'tls' | 'gss', frame: number, handshakeSeen?: boolean): void;
  /** The connection turned to TLS: a decryptor for it, or null (its TLS bytes are only counted). */
  tlsHandler?(conn: ConnectionInfo): TlsHandler | null;
  close(end: ConnectionEnd, encryptedBytes: { frontend: number; backend: number }): void;
}

/** Types the dissectors need from the session layer (prepared statements, the result in force). */
export interface TypeSource {
  statementParamTypes(name: string): readonly number[] | undefined;
  resultColumns(): readonly ColumnDescription[] | undefined;
  functionResultFormat?(): 'text' | 'binary' | undefined;
}

export type Dissect = (raw: RawMessage, ctx: DissectContext) => DecodedMessage;

/** Decrypts a TLS connection's deliveries into plaintext pushed back through `out`. */
export interface TlsHandler {
  feed(d: Delivery, out: (dir: Direction, plaintext: Buffer, frame: number, timeUs: number) => void): void;
  /** End of the connection: decrypt what still waited for a key, report what never could be. */
  end(frame: number, out: (dir: Direction, plaintext: Buffer, frame: number, timeUs: number) => void): void;
}

/** The same for many connections (one object per analysis and kind of port, not one per connection). */
export interface PgConnectionOptions {
  showSecrets: boolean;
  maxMessage: number;
  /** The server port is one we were told PostgreSQL listens on. */
  onServerPort: boolean;
  dissect: Dissect;
}

/**
 * How the connection's bytes are framed now ("Message Flow"): not the session's start-up and
 * authentication progress, which src/session/startup.ts follows (StartupPhase).
 */
type FramingPhase = 'probation' | 'startup' | 'ssl-wait' | 'gss-wait' | 'active' | 'tls' | 'gss' | 'rejected' | 'cancel';

/** Unconfirmed byte ranges kept per direction (PgConnection.unconfirmedRanges). */
const MAX_UNCONFIRMED_RANGES = 64;
/** Messages kept while a mid-stream connection on a non-server port proves itself. */
const PROBATION_MESSAGES = 3;
const PROBATION_BYTES = 64 * 1024;

/**
 * The events of one of a connection's framers. `message`, called for every message, is a method
 * of this one class whatever the connection, so the framer's call to it stays monomorphic (V8
 * can inline it), where a closure per connection would make it megamorphic; the rare events go
 * to the connection's methods with the direction (no closures: a connection flood makes
 * hundreds of thousands of these).
 */
class ConnectionFramerEvents implements FramerEvents {
  constructor(private readonly conn: PgConnection, private readonly dir: Direction) {}
  message(m: FramedMessage): void {
    this.conn.framed(m);
  }
  skipped(bytes: number, reason: 'resync' | 'gap' | 'damaged', frame: number, timeUs: number): void {
    this.conn.framerSkipped(this.dir, bytes, reason, frame, timeUs);
  }
  tooLarge(code: string | null, length: number, frame: number, timeUs: number): void {
    this.conn.framerTooLarge(this.dir, code, length, frame, timeUs);
  }
  notStartup(length: number, frame: number, timeUs: number): void {
    this.conn.framerNotStartup(length, frame, timeUs);
  }
}

class ConnContext implements DissectContext {
  showSecrets: boolean;
  protocolMinor = 0;
  authType: number | null = null;
  copy: DissectContext['copy'] = null;
  /** The startup-phase request a one-byte backend answer belongs to. */
  pendingRequest: 'ssl' | 'gssenc' | null = null;
  types: TypeSource | null = null;
  constructor(showSecrets: boolean) {
    this.showSecrets = showSecrets;
  }
  statementParamTypes(name: string): readonly number[] | undefined {
    return this.types?.statementParamTypes(name);
  }
  resultColumns(): readonly ColumnDescription[] | undefined {
    return this.types?.resultColumns();
  }
  functionResultFormat(): 'text' | 'binary' | undefined {
    return this.types?.functionResultFormat?.();
  }
}

/**
 * The connection whose message observers are being given (PgConnection.deliver), and the one
 * decode function for every connection's messages: a function per connection would be a
 * closure kept alive with it (a connection flood makes hundreds of thousands).
 */
let delivering: PgConnection | null = null;
const decodeCurrent = (): DecodedMessage => delivering!.decodeNow();

export class PgConnection implements ConnectionSink {
  readonly info: ConnectionInfo;
  readonly ctx: ConnContext;
  private phase: FramingPhase;
  /**
   * Each direction's framer, made at its first use (a connection flood's servers never answer:
   * 120,000 startup-only connections need no backend framer).
   */
  private frontFramer: DirectionFramer | null = null;
  private backFramer: DirectionFramer | null = null;
  /** Encrypted bytes per direction (TLS, GSS). */
  private encryptedFrontend = 0;
  private encryptedBackend = 0;
  private tlsHandler: TlsHandler | null = null;
  private probation: FramedMessage[] | null = null;
  private probationBytes = 0;
  private sawFrontend = false;
  private closed = false;
  /**
   * Stream ranges [from, to) of unconfirmed bytes (Delivery.unconfirmed) not yet framed past, per
   * direction, in order; null when none (the usual case: one test per message).
   */
  private unconfirmedRanges: { frontend: number[]; backend: number[] } | null = null;
  /** Seen mid-stream and nothing framed yet: its bytes may still turn out to be TLS records. */
  private unframedMidStream = false;
  /** The message being dissected lazily (one at a time: decode() is only valid during message()). */
  private current: RawMessage | null = null;
  private currentDecoded: DecodedMessage | null = null;

  /** @internal decodeCurrent's work: the message being delivered, dissected once. */
  decodeNow(): DecodedMessage {
    if (this.currentDecoded === null) this.currentDecoded = this.opts.dissect(this.current!, this.ctx);
    return this.currentDecoded;
  }

  constructor(info: ConnectionInfo, private readonly observer: PgObserver, private readonly opts: PgConnectionOptions) {
    this.info = info;
    this.ctx = new ConnContext(opts.showSecrets);
    if (info.sawSyn) {
      this.phase = 'startup';
    } else {
      // Mid-stream: assume normal operation and look for message boundaries.
      this.phase = opts.onServerPort ? 'active' : 'probation';
      if (this.phase === 'probation') this.probation = [];
      this.unframedMidStream = opts.onServerPort;
    }
  }

  private get front(): DirectionFramer {
    return (this.frontFramer ??= this.newFramer('frontend'));
  }

  private get back(): DirectionFramer {
    return (this.backFramer ??= this.newFramer('backend'));
  }

  /** A direction's framer as the connection's start left it: the mode changes since then are made on it by the caller. */
  private newFramer(dir: Direction): DirectionFramer {
    const events: FramerEvents = new ConnectionFramerEvents(this, dir);
    if (this.info.sawSyn) return new DirectionFramer(dir, dir === 'frontend' ? 'untyped' : 'typed', events, this.opts.maxMessage);
    const f = new DirectionFramer(dir, 'typed', events, this.opts.maxMessage);
    f.desync();
    return f;
  }

  /** Whether the connection has shown itself to be PostgreSQL (false while on probation or rejected). */
  get isPostgres(): boolean {
    return this.phase !== 'probation' && this.phase !== 'rejected';
  }

  setTypeSource(types: TypeSource): void {
    this.ctx.types = types;
  }

  data(d: Delivery): void {
    if (this.phase === 'rejected' || this.phase === 'cancel') return;
    // The flow table's deliveries give their bytes as a range (no view to make); others as a Buffer.
    let bytes: Buffer;
    let start: number;
    let end: number;
    if (d instanceof StreamDelivery) {
      bytes = d.data;
      start = d.start;
      end = d.end;
    } else {
      bytes = d.bytes;
      start = 0;
      end = bytes.length;
    }
    if (this.phase === 'tls' || this.phase === 'gss') {
      if (d.dir === 'frontend') this.encryptedFrontend += end - start;
      else this.encryptedBackend += end - start;
      if (this.tlsHandler) this.tlsHandler.feed(d, this.plaintext);
      return;
    }
    if (this.unframedMidStream && end > start && tlsRecordsIn(bytes, start, end)) {
      // A TLS session whose start (and handshake) the capture missed: its bytes are records, not
      // messages to resynchronise on. Without the handshake there is nothing to decrypt with.
      this.unframedMidStream = false;
      this.phase = 'tls';
      this.observer.encrypted('tls', d.frame, false);
      this.data(d);
      return;
    }
    const framer = d.dir === 'frontend' ? this.front : this.back;
    if (d.skip > 0) framer.gap(d.skip, d.frame, d.timeUs);
    if (end === start) return;
    if (d.unconfirmed === true) {
      // Inside TLS (above) a wrong byte fails the record's authentication instead.
      const r = (this.unconfirmedRanges ??= { frontend: [], backend: [] })[d.dir];
      const from = framer.position;
      // Bounded whatever the capture: adjoining ranges join, and past the cap the last one grows
      // over the good bytes between (marking more records, never fewer).
      if (r.length > 0 && (r[r.length - 1] === from || r.length >= MAX_UNCONFIRMED_RANGES * 2)) r[r.length - 1] = from + (end - start);
      else r.push(from, from + (end - start));
    }
    if (this.phase === 'startup' && !this.sawFrontend) {
      if (d.dir === 'backend') {
        // The server never speaks first in PostgreSQL (MySQL's server does).
        this.reject('the server sent data before the client\'s startup packet', d.frame, d.timeUs);
        return;
      }
      this.sawFrontend = true;
      if (looksLikeTls(d.bytes)) {
        // Direct TLS (PostgreSQL 17+): the first byte is a TLS handshake record.
        this.startTls(d.frame);
        this.data(d);
        return;
      }
    }
    framer.push(bytes, d.frame, d.timeUs, start, end);
  }

  close(end: ConnectionEnd): void {
    if (this.closed) return;
    this.closed = true;
    this.tlsHandler?.end(end.frame, this.plaintext);
    this.frontFramer?.finish(end.frame, end.timeUs);
    this.backFramer?.finish(end.frame, end.timeUs);
    if (this.phase === 'probation') this.phase = 'rejected';
    if (this.phase !== 'rejected') this.observer.close(end, { frontend: this.encryptedFrontend, backend: this.encryptedBackend });
  }

  /** From the last simple Query: COPY ... CSV, COPY ... HEADER, and what START_REPLICATION streams. */
  private copyCsv = false;
  private copyHeader = false;
  private replicationOutput: 'physical' | 'pgoutput' | 'text' | undefined;

  private noteStatement(m: FramedMessage): void {
    const first = m.firstByte();
    const c = first | 0x20; // lower-case the first letter; only COPY and START_REPLICATION matter
    if (c !== 0x63 && c !== 0x73 && first > 0x20) return;
    const body = m.body;
    const text = body.toString('latin1', 0, Math.min(body.length, 4096));
    if (/^\s*copy\b/i.test(text)) {
      // The options follow STDIN / STDOUT; before them a query's own words (a column named
      // "header") would be mistaken for options.
      const at = text.search(/\b(?:stdin|stdout)\b/i);
      const options = at < 0 ? text : text.slice(at);
      this.copyCsv = /\bcsv\b/i.test(options);
      // HEADER, HEADER true / on / 1 / MATCH; not HEADER false / off / 0 / no.
      this.copyHeader = /\bheader\b(?!\s*'?(?:false|off|0|no)\b)/i.test(options);
    }
    else if (/^\s*start_replication\b/i.test(text)) {
      this.replicationOutput = /\blogical\b/i.test(text) ? (/proto_version/i.test(text) ? 'pgoutput' : 'text') : 'physical';
    }
  }

  /** Where a TLS handler's plaintext goes: made when the connection turns to TLS. */
  private plaintextOut: ((dir: Direction, bytes: Buffer, frame: number, timeUs: number) => void) | null = null;
  private get plaintext(): (dir: Direction, bytes: Buffer, frame: number, timeUs: number) => void {
    return (this.plaintextOut ??= (dir, bytes, frame, timeUs) => {
      (dir === 'frontend' ? this.front : this.back).push(bytes, frame, timeUs);
    });
  }

  private startTls(frame: number): void {
    this.phase = 'tls';
    this.observer.encrypted('tls', frame);
    this.tlsHandler = this.observer.tlsHandler?.(this.info) ?? null;
    // Inside TLS the protocol starts over: a startup packet from the client, typed messages back.
    this.front.mode = 'untyped';
    this.back.mode = 'typed';
  }

  private reject(reason: string, frame: number, timeUs: number): void {
    const wasBelieved = this.phase !== 'probation';
    this.phase = 'rejected';
    this.front.mode = 'off';
    this.back.mode = 'off';
    this.probation = null;
    // Only worth a word when the flow was on a PostgreSQL port (or had looked like PostgreSQL).
    if (wasBelieved && (this.opts.onServerPort || this.sawFrontend)) {
      this.observer.anomaly({ code: 'not-postgresql', reason: `not PostgreSQL: ${reason}`, frame, timeUs, session: this.info.id });
    }
  }

  /** A framer's rare events (ConnectionFramerEvents); not for other callers. */
  framerTooLarge(dir: Direction, code: string | null, length: number, frame: number, timeUs: number): void {
    this.observer.lost?.(dir);
    this.report('message-too-large', `${code === null ? 'startup' : `'${code}'`} message declares ${length} bytes, over the ${this.opts.maxMessage}-byte limit: skipped`, frame, timeUs, dir, length);
  }

  framerNotStartup(length: number, frame: number, timeUs: number): void {
    this.reject(`the client's first bytes are not a startup packet (length field ${length})`, frame, timeUs);
  }

  framerSkipped(dir: Direction, bytes: number, reason: 'resync' | 'gap' | 'damaged', frame: number, timeUs: number): void {
    if (this.phase === 'probation') {
      // A mid-stream flow on a non-PostgreSQL port that does not frame cleanly is not believed.
      if (reason === 'resync' && this.probation!.length === 0 && bytes > 0) {
        this.reject('no message boundary', frame, timeUs);
      }
      return;
    }
    this.observer.lost?.(dir);
    if (reason === 'gap') return; // reassembly reports gaps itself
    if (reason === 'damaged') {
      this.report('malformed-message', bytes > 0 ? `incomplete message: ${bytes} bytes before the stream ended or lost bytes cut it` : 'message damaged by lost bytes: not decoded', frame, timeUs, dir, bytes);
      return;
    }
    this.report('resync', `${bytes} bytes skipped to find the next message boundary`, frame, timeUs, dir, bytes);
  }

  private report(code: AnomalyCode, reason: string, frame: number, timeUs: number, dir: Direction, skipped?: number): void {
    const a: Anomaly = { code, reason, frame, timeUs, session: this.info.id, dir };
    if (skipped !== undefined) a.skipped = skipped;
    this.observer.anomaly(a);
  }

  /** A message from one of this connection's framers (ConnectionFramerEvents); not for other callers. */
  framed(m: FramedMessage): void {
    this.unframedMidStream = false;
    if (this.phase === 'probation') {
      // Held past the delivery that framed it: the body must be a copy.
      const body = Buffer.from(m.body);
      this.probation!.push(new FramedMessage(m.dir, m.code, m.length, body, 0, body.length, m.offset, m.firstFrame, m.startTimeUs, m.frame, m.timeUs));
      this.probationBytes += body.length;
      if (this.probation!.length >= PROBATION_MESSAGES || this.probationBytes >= PROBATION_BYTES) {
        const held = this.probation!;
        this.probation = null;
        this.phase = 'active';
        for (const h of held) this.deliver(h);
      }
      return;
    }
    this.deliver(m);
  }

  private deliver(m: FramedMessage): void {
    this.track(m);
    if (this.phase === 'rejected') return;
    if (this.unconfirmedRanges !== null && this.holdsUnconfirmed(m)) this.observer.unconfirmed?.(m.dir);
    this.current = m;
    this.currentDecoded = null;
    const outer = delivering;
    delivering = this;
    this.observer.message(m, decodeCurrent);
    delivering = outer;
    this.afterMessage(m);
    this.current = null;
    this.currentDecoded = null;
  }

  /** Whether `m` overlaps an unconfirmed range; ranges it is past are forgotten (messages come in stream order). */
  private holdsUnconfirmed(m: FramedMessage): boolean {
    const all = this.unconfirmedRanges!;
    const r = all[m.dir];
    const end = m.offset + (m.code === null ? m.length : m.length + 1);
    let i = 0;
    while (i < r.length && r[i + 1]! <= m.offset) i += 2;
    const hit = i < r.length && r[i]! < end;
    if (i > 0) r.splice(0, i);
    if (all.frontend.length === 0 && all.backend.length === 0) this.unconfirmedRanges = null;
    return hit;
  }

  /** Phase changes that must be known before the message is dissected. */
  private track(m: FramedMessage): void {
    if (m.code !== null) return;
    if (m.dir === 'frontend' && m.bodyLength >= 4) {
      const request = m.int32At0();
      if (request === SSL_REQUEST_CODE) this.ctx.pendingRequest = 'ssl';
      else if (request === GSSENC_REQUEST_CODE) this.ctx.pendingRequest = 'gssenc';
      else if (request >>> 16 !== 3 && request !== CANCEL_REQUEST_CODE && !this.opts.onServerPort) {
        this.reject(`unknown startup request code ${request}`, m.frame, m.timeUs);
      }
    }
  }

  /** Phase changes that follow from a message (after the layers after us have seen it). */
  private afterMessage(m: FramedMessage): void {
    const ctx = this.ctx;
    if (m.code === null) {
      if (m.dir === 'frontend') {
        if (m.bodyLength < 4) return;
        const request = m.int32At0();
        if (request === SSL_REQUEST_CODE || request === GSSENC_REQUEST_CODE) {
          this.back.mode = 'answer';
          this.phase = request === SSL_REQUEST_CODE ? 'ssl-wait' : 'gss-wait';
        } else if (request === CANCEL_REQUEST_CODE) {
          this.phase = 'cancel';
          this.front.mode = 'off';
          this.back.mode = 'off';
        } else {
          // StartupMessage (3.x): typed messages from now on (inside TLS the phase stays 'tls':
          // the bytes still arrive encrypted).
          ctx.protocolMinor = request & 0xffff;
          this.front.mode = 'typed';
          if (this.phase !== 'tls') this.phase = 'active';
        }
        return;
      }
      // The one-byte answer to SSLRequest / GSSENCRequest.
      const answer = m.firstByte();
      const request = ctx.pendingRequest;
      ctx.pendingRequest = null;
      this.back.mode = 'typed';
      if (answer === 0x53 && request === 'ssl') {
        this.startTls(m.frame);
      } else if (answer === 0x47 && request === 'gssenc') {
        this.phase = 'gss';
        this.front.mode = 'off';
        this.back.mode = 'off';
        this.observer.encrypted('gss', m.frame);
      } else {
        this.phase = 'startup';
      }
      return;
    }
    // Only the messages below look at their body: others must not make its view (FramedMessage).
    if (m.code === 'd') {
      // The HEADER line is over once a line has ended (the server sends it as one message; a
      // client may cut it anywhere).
      if (ctx.copy?.header === true && m.body.includes(0x0a)) ctx.copy.header = false;
      return;
    }
    if (m.dir === 'backend') {
      switch (m.code) {
        case 'R':
          if (m.bodyLength >= 4) ctx.authType = m.int32At0();
          break;
        case 'v': {
          // NegotiateProtocolVersion: the newest minor version the server supports. The
          // documentation says "minor version", but PostgreSQL 18 sends the whole version (196610).
          if (m.bodyLength < 4) break;
          const v = m.int32At0();
          ctx.protocolMinor = v > 0xffff ? v & 0xffff : v;
          break;
        }
        case 'G':
        case 'H':
        case 'W':
          ctx.copy = copyState(m.code, m.body);
          // COPY options and the replication plugin are not on the wire in the COPY messages;
          // the statement that started it says them.
          if (this.copyCsv) ctx.copy.csv = true;
          if (this.copyHeader && ctx.copy.format === 'text' && m.code !== 'W') ctx.copy.header = true;
          if (this.replicationOutput) ctx.copy.output = this.replicationOutput;
          break;
        case 'C':
        case 'E':
        case 'Z':
          // The server's CommandComplete / ErrorResponse ends any COPY (CopyDone alone may be one-sided).
          ctx.copy = null;
          break;
      }
    } else if (m.code === 'X') {
      this.front.mode = 'off';
    } else if (m.code === 'Q' && m.bodyLength > 0) {
      this.noteStatement(m);
    }
  }
}

/** TLS record content types (RFC 8446 section 5.1): change_cipher_spec .. heartbeat. */
const TLS_FIRST_TYPE = 20;
const TLS_LAST_TYPE = 24;
const TLS_MAX_RECORD = 16384 + 2048;

function tlsHeaderAt(b: Buffer, i: number): number {
  const type = b[i]!;
  if (type < TLS_FIRST_TYPE || type > TLS_LAST_TYPE || b[i + 1] !== 0x03 || b[i + 2]! > 0x04) return -1;
  const len = b.readUInt16BE(i + 3);
  return len >= 1 && len <= TLS_MAX_RECORD ? len : -1;
}

/**
 * Whether bytes seen mid-stream are TLS records: a record header (content type 20-24, version
 * 3.x, a length a record can have) at the start, followed by another header or by the end of
 * the bytes. No PostgreSQL message starts with a byte below 0x20, and a chain of two headers
 * is not found in message bytes by chance.
 */
function tlsRecordsIn(b: Buffer, start: number, end: number): boolean {
  if (end - start < 5) return false;
  const len = tlsHeaderAt(b, start);
  if (len < 0) return false;
  const next = start + 5 + len;
  if (next === end) return true;
  return next + 5 <= end && tlsHeaderAt(b, next) >= 0;
}

function copyState(code: string, body: Buffer): NonNullable<DissectContext['copy']> {
  const kind = code === 'G' ? 'in' : code === 'H' ? 'out' : 'both';
  const format = body.length >= 1 && body[0] === 1 ? 'binary' : 'text';
  const columnFormats: Array<'text' | 'binary'> = [];
  if (body.length >= 3) {
    const n = body.readInt16BE(1);
    for (let i = 0; i < n && 3 + i * 2 + 2 <= body.length; i++) columnFormats.push(body.readInt16BE(3 + i * 2) === 1 ? 'binary' : 'text');
  }
  return { kind, format, columnFormats, columnTypes: null };
}
