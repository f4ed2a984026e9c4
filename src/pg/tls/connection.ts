/**
 * One TLS connection seen from the wire (RFC 8446, RFC 5246): the record layer of both
 * directions, the clear handshake fields, and decryption with a key log.
 *
 * Per direction: records are cut from the in-order stream (a record may span deliveries, a
 * delivery may hold several records), clear handshake messages are parsed, and protected
 * records are decrypted with the keys in force: TLS 1.3 switches from handshake to
 * application secrets at that direction's Finished and to the next secret at KeyUpdate; TLS
 * 1.2 protects a direction from its ChangeCipherSpec on. Decrypted application data goes to
 * `out`, decrypted handshake messages feed the same parser as clear ones (so the TLS 1.3
 * certificate subject shows once decrypted).
 *
 * Hostile input: a record is at most 2^14 + 2048 bytes and is the only thing buffered,
 * besides ciphertext that waits for a key that a watched key log has not delivered yet (at
 * most MAX_WAITING bytes a direction). Every failure becomes one anomaly and a note, and that
 * direction's bytes are counted from then on, never decoded as garbage.
 */
import type { Delivery, Direction } from '../../reassembly/types.js';
import { cipherSuite, cipherSuiteName, versionName, type CipherSuite } from './cipher-suites.js';
import {
  HS_CERTIFICATE, HS_CLIENT_HELLO, HS_ENCRYPTED_EXTENSIONS, HS_FINISHED, HS_KEY_UPDATE, HS_SERVER_HELLO,
  parseCertificateSubject, parseClientHello, parseEncryptedExtensionsAlpn, parseServerHello,
  type ClientHello, type ServerHello,
} from './handshake.js';
import { tls12Keys, tls13Keys, tls13NextSecret } from './key-schedule.js';
import type { KeyLog, SessionSecrets } from './keylog.js';
import { RecordCipher, type Decrypted } from './record-cipher.js';
import { alertName } from './alerts.js';
import { findRecord } from './resync.js';
import type { TlsSummary } from './summary.js';

export type PlaintextOut = (dir: Direction, plaintext: Buffer, frame: number, timeUs: number) => void;
export type TlsAnomalyHandler = (reason: string, frame: number, dir: Direction) => void;

const CT_CHANGE_CIPHER_SPEC = 20;
const CT_ALERT = 21;
const CT_HANDSHAKE = 22;
const CT_APPLICATION_DATA = 23;
const CT_HEARTBEAT = 24;

/** TLS 1.2's ciphertext limit (RFC 5246 section 6.2.3), which also covers TLS 1.3's 2^14 + 256. */
const MAX_RECORD = 16384 + 2048;
/** A handshake message larger than this (a certificate chain of many certificates) is skipped, not buffered. */
const MAX_HANDSHAKE_MESSAGE = 256 * 1024;
/** Ciphertext kept per direction while a watched key log has not delivered the session's key yet. */
const MAX_WAITING = 1 << 20;
/** TLS 1.3 handshake records skipped when the key log has only the application secrets. */
const MAX_SKIPPED_HANDSHAKE_RECORDS = 16;

export const NOTE_NO_KEY = 'no key for this session';
export const NOTE_WRONG_KEY = 'the key log entry for this session does not decrypt it (wrong key log?)';

interface Waiting { header: Buffer; fragment: Buffer; frame: number; timeUs: number }

class DirState {
  /**
   * A record arriving over several deliveries, collected in a buffer of exactly its size once
   * its header is known (5 bytes before that), so a 16 KB record in 12 segments is copied once.
   */
  partial: Buffer | null = null;
  fill = 0;
  /** Bytes kept between deliveries while looking for a record boundary after a gap. */
  pending: Buffer | null = null;
  /** Stream bytes of this direction so far (lost ones included), for offsets in anomalies. */
  total = 0;
  /** TLS 1.2: a ChangeCipherSpec was seen; records from now on are protected. */
  protectedRecords = false;
  cipher: RecordCipher | null = null;
  seq = 0;
  /** TLS 1.3 key epoch; TLS 1.2 stays in 'handshake' (one key for the whole session). */
  phase: 'handshake' | 'application' = 'handshake';
  secret: Buffer | null = null;
  /** Handshake secret missing from the key log: skip undecryptable records until the application key works. */
  skipHandshake = false;
  skippedRecords = 0;
  hs: Buffer | null = null;
  hsSkip = 0;
  /** Why this direction is no longer decrypted (records are still cut and counted). */
  dead: string | null = null;
  /** Record boundaries are lost: bytes are only counted. */
  raw = false;
  resyncing = false;
  resyncAttempts = 0;
  queue: Waiting[] = [];
  queueHead = 0;
  queued = 0;
  encryptedBytes = 0;
  decryptedRecords = 0;
  constructor(readonly dir: Direction) {}
}

export class TlsConnection {
  private readonly front = new DirState('frontend');
  private readonly back = new DirState('backend');
  private clientHello: ClientHello | null = null;
  private serverHello: ServerHello | null = null;
  private suite: CipherSuite | undefined;
  private tls13 = false;
  private secrets: SessionSecrets | undefined;
  private keyGeneration = -1;
  private certSubject: string | null = null;
  private alpnChosen: string | null = null;
  private readonly notes: string[] = [];
  /** Anomaly reasons already reported (texts name their direction when they concern one). */
  private readonly reported = new Set<string>();

  constructor(private readonly keylog: KeyLog, private readonly onAnomaly: TlsAnomalyHandler) {}

  /** In-order bytes of one direction (see the file comment); decrypted application data goes to `out`. */
  feed(d: Delivery, out: PlaintextOut): void {
    const ds = d.dir === 'frontend' ? this.front : this.back;
    if (this.keylog.generation !== this.keyGeneration || this.keylog.live) this.drainBoth(out);
    if (d.skip !== 0) this.gap(ds, d);
    const bytes = d.bytes;
    if (d.skip > 0) ds.total += d.skip;
    if (bytes.length === 0) return;
    const offset = ds.total;
    ds.total += bytes.length;
    if (ds.raw) { ds.encryptedBytes += bytes.length; return; }
    if (ds.resyncing) {
      const data = ds.pending ? Buffer.concat([ds.pending, bytes]) : bytes;
      const dataOffset = offset - (ds.pending?.length ?? 0);
      ds.pending = null;
      const pos = this.resync(ds, data, d, out);
      if (pos >= 0 && !ds.raw) this.records(ds, data, pos, dataOffset, d, out);
      return;
    }
    let pos = 0;
    if (ds.partial) {
      pos = this.fillPartial(ds, bytes, offset, d, out);
      if (pos < 0) return;
    }
    this.records(ds, bytes, pos, offset, d, out);
  }

  /** Whole records from data[pos..]; a record cut by the end of data starts ds.partial. dataOffset: stream offset of data[0]. */
  private records(ds: DirState, data: Buffer, pos: number, dataOffset: number, d: Delivery, out: PlaintextOut): void {
    while (pos + 5 <= data.length) {
      if (!this.header(ds, data, pos, dataOffset + pos, d.frame)) {
        ds.encryptedBytes += data.length - pos;
        return;
      }
      const len = data.readUInt16BE(pos + 3);
      if (pos + 5 + len > data.length) break;
      this.record(ds, data.subarray(pos, pos + 5), data.subarray(pos + 5, pos + 5 + len), d.frame, d.timeUs, out);
      pos += 5 + len;
    }
    const left = data.length - pos;
    if (left === 0) return;
    ds.partial = Buffer.allocUnsafe(left >= 5 ? 5 + data.readUInt16BE(pos + 3) : 5);
    ds.fill = data.copy(ds.partial, 0, pos);
  }

  /** Adds bytes to the record in ds.partial; returns how many were used, or -1 when all were (record still open, or lost). */
  private fillPartial(ds: DirState, bytes: Buffer, offset: number, d: Delivery, out: PlaintextOut): number {
    let rec = ds.partial;
    if (!rec) return 0;
    let pos = 0;
    if (ds.fill < 5) {
      pos = bytes.copy(rec, ds.fill, 0, Math.min(5 - ds.fill, bytes.length));
      ds.fill += pos;
      if (ds.fill < 5) return -1;
      if (!this.header(ds, rec, 0, offset - (ds.fill - pos), d.frame)) {
        ds.encryptedBytes += 5 + bytes.length - pos;
        return -1;
      }
      const full = Buffer.allocUnsafe(5 + rec.readUInt16BE(3));
      rec.copy(full, 0, 0, 5);
      ds.partial = rec = full;
    }
    const n = bytes.copy(rec, ds.fill, pos, Math.min(bytes.length, pos + rec.length - ds.fill));
    ds.fill += n;
    pos += n;
    if (ds.fill < rec.length) return -1;
    ds.partial = null;
    ds.fill = 0;
    this.record(ds, rec.subarray(0, 5), rec.subarray(5), d.frame, d.timeUs, out);
    return pos;
  }

  /** Whether b[pos..pos+5] is a plausible record header; if not, this direction's record boundaries are lost. */
  private header(ds: DirState, b: Buffer, pos: number, streamOffset: number, frame: number): boolean {
    const type = b[pos];
    if (type >= CT_CHANGE_CIPHER_SPEC && type <= CT_HEARTBEAT && b[pos + 1] === 3 && b.readUInt16BE(pos + 3) <= MAX_RECORD) return true;
    this.lose(ds, `${ds.dir} bytes at TLS stream offset ${streamOffset} are not a TLS record: record boundaries lost`, frame);
    return false;
  }

  /**
   * The connection ended: decrypt what still waits if its key has arrived by now, and report
   * what could not be (a session whose key never came, a record cut by the end of the capture).
   */
  end(frame: number, out: PlaintextOut): void {
    if (this.front.queue.length > this.front.queueHead || this.back.queue.length > this.back.queueHead) this.keylog.poll();
    this.drainBoth(out);
    for (const ds of [this.front, this.back]) {
      if (ds.queue.length > ds.queueHead) this.kill(ds, NOTE_NO_KEY, frame);
      const cut = ds.partial ? ds.fill : ds.pending?.length ?? 0;
      if (cut > 0 && !ds.raw) this.report(ds, `the ${ds.dir} TLS stream ends inside a record (${cut} bytes)`, frame);
      ds.pending = null;
      ds.partial = null;
    }
  }

  info(): TlsSummary {
    return {
      version: this.serverHello ? versionName(this.serverHello.version) : null,
      cipher: this.serverHello ? cipherSuiteName(this.serverHello.cipherSuite) : null,
      sni: this.clientHello?.sni ?? null,
      alpn: this.alpnChosen,
      alpnOffered: this.clientHello?.alpn ?? [],
      certSubject: this.certSubject,
      encryptedBytes: { frontend: this.front.encryptedBytes, backend: this.back.encryptedBytes },
      decrypted: this.front.decryptedRecords + this.back.decryptedRecords > 0,
      note: this.notes.length ? this.notes.join('; ') : null,
    };
  }

  // ---- records ----

  private record(ds: DirState, header: Buffer, fragment: Buffer, frame: number, timeUs: number, out: PlaintextOut): void {
    const type = header[0];
    if (type === CT_CHANGE_CIPHER_SPEC) {
      // TLS 1.3 sends it only for middlebox compatibility and ignores it (RFC 8446 section 5);
      // before a ServerHello (around a HelloRetryRequest) it cannot start TLS 1.2 protection either.
      if (this.serverHello && !this.tls13) { ds.protectedRecords = true; ds.seq = 0; ds.cipher = null; }
      return;
    }
    if (ds.protectedRecords || (this.tls13 && type === CT_APPLICATION_DATA)) {
      ds.encryptedBytes += fragment.length;
      this.encrypted(ds, header, fragment, frame, timeUs, out);
      return;
    }
    switch (type) {
      case CT_HANDSHAKE: this.handshakeBytes(ds, fragment, frame); return;
      case CT_ALERT: this.alert(ds, fragment, frame); return;
      case CT_APPLICATION_DATA:
        ds.encryptedBytes += fragment.length;
        this.kill(ds, this.serverHello ? 'application data before the handshake completed' : 'the TLS handshake was not seen: cannot decrypt', frame);
        return;
      default: this.report(ds, `${ds.dir} TLS record of content type ${type} ignored`, frame);
    }
  }

  private encrypted(ds: DirState, header: Buffer, fragment: Buffer, frame: number, timeUs: number, out: PlaintextOut): void {
    if (ds.dead) return;
    if (ds.queue.length > ds.queueHead || !this.ensureCipher(ds, frame)) {
      if (!ds.dead) this.enqueue(ds, header, fragment, frame, timeUs);
      return;
    }
    this.open(ds, header, fragment, frame, timeUs, out);
  }

  private open(ds: DirState, header: Buffer, fragment: Buffer, frame: number, timeUs: number, out: PlaintextOut): void {
    const cipher = ds.cipher;
    if (!cipher) return;
    const r = cipher.open(header, fragment, ds.seq);
    if (!r) {
      if (ds.skipHandshake && ds.skippedRecords < MAX_SKIPPED_HANDSHAKE_RECORDS) { ds.skippedRecords++; return; }
      if (ds.decryptedRecords === 0) this.kill(ds, NOTE_WRONG_KEY, frame);
      else this.kill(ds, `${ds.dir} TLS record ${ds.seq} fails to authenticate: the rest of this direction is not decrypted`, frame);
      return;
    }
    ds.seq++;
    this.decrypted(ds, r, frame, timeUs, out);
  }

  private decrypted(ds: DirState, r: Decrypted, frame: number, timeUs: number, out: PlaintextOut): void {
    ds.decryptedRecords++;
    ds.skipHandshake = false;
    switch (r.type) {
      case CT_APPLICATION_DATA: if (r.plaintext.length) out(ds.dir, r.plaintext, frame, timeUs); return;
      case CT_HANDSHAKE: this.handshakeBytes(ds, r.plaintext, frame); return;
      case CT_ALERT: this.alert(ds, r.plaintext, frame); return;
      default: this.report(ds, `${ds.dir} decrypted TLS record of content type ${r.type} ignored`, frame);
    }
  }

  // ---- keys ----

  /** Sets ds.cipher for the current epoch. False: no key yet (ds stays alive when a watched key log may still bring it). */
  private ensureCipher(ds: DirState, frame: number): boolean {
    if (ds.cipher) return true;
    const ch = this.clientHello, sh = this.serverHello;
    if (!ch || !sh) { this.kill(ds, 'the TLS handshake was not seen: cannot decrypt', frame); return false; }
    const suite = this.suite;
    const supported = suite && (this.tls13 ? suite.family === 'tls13' : suite.family === 'tls12' && sh.version === 0x0303);
    if (!suite || !supported) {
      this.kill(ds, `${versionName(sh.version)} with ${cipherSuiteName(sh.cipherSuite)} is not decrypted by pgsniff`, frame);
      return false;
    }
    if (!this.secrets) this.secrets = this.keylog.lookup(ch.random);
    const s = this.secrets;
    const client = ds.dir === 'frontend';
    if (this.tls13) {
      let secret = ds.phase === 'handshake' ? (client ? s?.clientHandshake : s?.serverHandshake) : undefined;
      if (!secret) {
        secret = client ? s?.clientApplication : s?.serverApplication;
        if (secret && ds.phase === 'handshake') { ds.phase = 'application'; ds.skipHandshake = true; }
      }
      if (!secret) return this.noKey(ds, frame);
      ds.secret = secret;
      ds.cipher = new RecordCipher(suite, tls13Keys(suite, secret), true, false);
      return true;
    }
    if (!s?.master) return this.noKey(ds, frame);
    const keys = tls12Keys(suite, s.master, ch.random, sh.random);
    ds.cipher = new RecordCipher(suite, client ? keys.client : keys.server, false, sh.encryptThenMac);
    return true;
  }

  private noKey(ds: DirState, frame: number): false {
    if (!this.keylog.live) this.kill(ds, NOTE_NO_KEY, frame);
    return false;
  }

  private enqueue(ds: DirState, header: Buffer, fragment: Buffer, frame: number, timeUs: number): void {
    if (ds.queued + 5 + fragment.length > MAX_WAITING) {
      this.kill(ds, `${NOTE_NO_KEY} (gave up waiting for it after ${MAX_WAITING} bytes)`, frame);
      return;
    }
    ds.queued += 5 + fragment.length;
    ds.queue.push({ header: Buffer.from(header), fragment: Buffer.from(fragment), frame, timeUs });
  }

  private drainBoth(out: PlaintextOut): void {
    this.keyGeneration = this.keylog.generation;
    this.drain(this.front, out);
    this.drain(this.back, out);
  }

  private drain(ds: DirState, out: PlaintextOut): void {
    while (ds.queueHead < ds.queue.length && !ds.dead) {
      const w = ds.queue[ds.queueHead];
      if (!this.ensureCipher(ds, w.frame)) return;
      ds.queueHead++;
      this.open(ds, w.header, w.fragment, w.frame, w.timeUs, out);
    }
    if (ds.queue.length) {
      ds.queue = [];
      ds.queueHead = 0;
      ds.queued = 0;
    }
  }

  // ---- handshake ----

  private handshakeBytes(ds: DirState, bytes: Buffer, frame: number): void {
    let buf = bytes;
    if (ds.hsSkip > 0) {
      const n = Math.min(ds.hsSkip, buf.length);
      ds.hsSkip -= n;
      buf = buf.subarray(n);
    }
    if (ds.hs) { buf = Buffer.concat([ds.hs, buf]); ds.hs = null; }
    let pos = 0;
    while (pos + 4 <= buf.length) {
      const type = buf[pos];
      const len = buf.readUIntBE(pos + 1, 3);
      if (len > MAX_HANDSHAKE_MESSAGE) {
        this.report(ds, `${ds.dir} TLS handshake message of ${len} bytes skipped`, frame);
        const have = buf.length - pos - 4;
        if (have >= len) { pos += 4 + len; continue; }
        ds.hsSkip = len - have;
        return;
      }
      if (pos + 4 + len > buf.length) break;
      this.handshakeMessage(ds, type, buf.subarray(pos + 4, pos + 4 + len), frame);
      pos += 4 + len;
    }
    if (pos < buf.length) ds.hs = Buffer.from(buf.subarray(pos));
  }

  private handshakeMessage(ds: DirState, type: number, body: Buffer, frame: number): void {
    if (type === HS_CLIENT_HELLO && ds.dir === 'frontend') {
      // After a HelloRetryRequest the second ClientHello keeps the first one's random (RFC 8446 section 4.1.2).
      if (this.clientHello) return;
      this.clientHello = parseClientHello(body);
      if (!this.clientHello) this.kill(ds, 'malformed TLS ClientHello', frame);
    } else if (type === HS_SERVER_HELLO && ds.dir === 'backend') {
      const sh = parseServerHello(body);
      if (!sh) { this.kill(ds, 'malformed TLS ServerHello', frame); return; }
      // A HelloRetryRequest exists only in TLS 1.3; the real ServerHello follows the second ClientHello.
      if (sh.helloRetryRequest) { this.tls13 = true; return; }
      this.serverHello = sh;
      this.suite = cipherSuite(sh.cipherSuite);
      this.tls13 = sh.version === 0x0304;
      if (sh.alpn) this.alpnChosen = sh.alpn;
    } else if (type === HS_ENCRYPTED_EXTENSIONS && ds.dir === 'backend') {
      this.alpnChosen = parseEncryptedExtensionsAlpn(body) ?? this.alpnChosen;
    } else if (type === HS_CERTIFICATE && ds.dir === 'backend') {
      if (this.certSubject === null) this.certSubject = parseCertificateSubject(body, this.tls13);
    } else if (type === HS_FINISHED && this.tls13 && ds.phase === 'handshake') {
      // This direction's next record is protected with its application traffic secret.
      ds.phase = 'application';
      ds.cipher = null;
      ds.seq = 0;
    } else if (type === HS_KEY_UPDATE && this.tls13 && ds.phase === 'application' && ds.secret && this.suite) {
      ds.secret = tls13NextSecret(this.suite, ds.secret);
      ds.cipher = new RecordCipher(this.suite, tls13Keys(this.suite, ds.secret), true, false);
      ds.seq = 0;
    }
  }

  private alert(ds: DirState, body: Buffer, frame: number): void {
    if (body.length < 2) { this.report(ds, `${ds.dir} sent a malformed TLS alert`, frame); return; }
    if (body[1] === 0) return; // close_notify: the normal end of a session
    const what = `${body[0] === 2 ? 'fatal' : 'warning'} TLS alert ${alertName(body[1])} from the ${ds.dir}`;
    this.note(what);
    this.report(ds, what, frame);
  }

  // ---- gaps ----

  private gap(ds: DirState, d: Delivery): void {
    ds.pending = null;
    ds.partial = null;
    ds.fill = 0;
    ds.hs = null;
    ds.hsSkip = 0;
    const lost = d.skip > 0 ? `${d.skip} bytes` : 'the start of the stream';
    if (ds.raw) return;
    const canResync = ds.cipher !== null && ds.queue.length === ds.queueHead && !ds.dead && (!this.tls13 || ds.phase === 'application');
    if (canResync) {
      ds.resyncing = true;
      ds.resyncAttempts = 0;
      this.report(ds, `${lost} lost in the ${ds.dir} TLS stream: looking for the next record that decrypts`, d.frame);
      return;
    }
    this.lose(ds, `${lost} lost in the ${ds.dir} TLS stream: record boundaries lost, this direction is not decrypted from here`, d.frame);
  }

  /** After a gap (see resync.ts). Returns where normal parsing goes on, or -1 while still searching. */
  private resync(ds: DirState, data: Buffer, d: Delivery, out: PlaintextOut): number {
    const cipher = ds.cipher;
    if (!cipher) { this.lose(ds, `${ds.dir} TLS stream cannot be resynchronised`, d.frame); return -1; }
    const search = {
      cipher, tls13: this.tls13, explicitNonceIsSeq: !this.tls13 && (this.suite?.cipher.endsWith('gcm') ?? false),
      expectedSeq: ds.seq, maxRecord: MAX_RECORD, attempts: ds.resyncAttempts,
    };
    const r = findRecord(search, data);
    ds.resyncAttempts = search.attempts;
    if (r.kind === 'exhausted') {
      this.lose(ds, `${ds.dir} TLS stream: no record decrypts after the gap, the rest of this direction is not decrypted`, d.frame);
      ds.encryptedBytes += data.length;
      return -1;
    }
    if (r.kind === 'more') {
      ds.encryptedBytes += r.keepFrom;
      ds.pending = Buffer.from(data.subarray(r.keepFrom));
      return -1;
    }
    this.report(ds, `${ds.dir} TLS stream resynchronised after the gap (${r.seq - ds.seq} records lost)`, d.frame);
    ds.resyncing = false;
    ds.seq = r.seq + 1;
    ds.encryptedBytes += r.offset + r.length;
    this.decrypted(ds, r.decrypted, d.frame, d.timeUs, out);
    return r.offset + 5 + r.length;
  }

  // ---- notes and anomalies ----

  /** Record boundaries are gone for good in this direction: count bytes from now on. */
  private lose(ds: DirState, reason: string, frame: number): void {
    ds.raw = true;
    ds.resyncing = false;
    ds.pending = null;
    ds.partial = null;
    this.kill(ds, reason, frame);
  }

  private kill(ds: DirState, reason: string, frame: number): void {
    ds.queue = [];
    ds.queueHead = 0;
    ds.queued = 0;
    if (ds.dead) return;
    ds.dead = reason;
    ds.cipher = null;
    this.note(reason);
    this.report(ds, reason, frame);
  }

  private note(text: string): void {
    if (!this.notes.includes(text) && this.notes.length < 8) this.notes.push(text);
  }

  private report(ds: DirState, reason: string, frame: number): void {
    if (this.reported.has(reason) || this.reported.size >= 32) return;
    this.reported.add(reason);
    this.onAnomaly(reason, frame, ds.dir);
  }
}
