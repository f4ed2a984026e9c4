/**
 * The NSS key log format that SSLKEYLOGFILE writes (one secret a line:
 * `LABEL <client random, 64 hex> <secret, hex>`, `#` comments), which is also what a pcapng
 * Decryption Secrets Block of type TLS_KEYLOG (0x544c534b) carries. Secrets are keyed by the
 * ClientHello random, the one value both the log and the capture share.
 *
 * Live capture: the client appends its keys while pgsniff captures, so with `watch` the file is
 * re-read as it grows: by a background stat poll, and synchronously (rate-limited) when a
 * session asks for a key that is not there yet. Only complete lines are consumed; a half-written
 * last line is read again next time.
 *
 * The file is the user's, but it may be anything (`--keylog /dev/zero`): it is read a chunk at a
 * time, line by line, never whole, and at most MAX_KEYLOG_BYTES of it. Read once, a file past
 * that size or with a line longer than MAX_LINE (no key log line is: label, 64 hex digits, at
 * most 128 more) is a UserError (one line, exit 2); watched, reading stops there (`overLimit`).
 */
import { closeSync, openSync, readSync, statSync, unwatchFile, watchFile } from 'node:fs';
import { UserError } from '../../core/errors.js';

export interface SessionSecrets {
  /** TLS 1.2: CLIENT_RANDOM's 48-byte master secret. */
  master?: Buffer;
  /** TLS 1.3 traffic secrets. */
  clientHandshake?: Buffer;
  serverHandshake?: Buffer;
  clientApplication?: Buffer;
  serverApplication?: Buffer;
}

type SecretField = keyof SessionSecrets;

const LABELS: Record<string, SecretField> = {
  CLIENT_RANDOM: 'master',
  CLIENT_HANDSHAKE_TRAFFIC_SECRET: 'clientHandshake',
  SERVER_HANDSHAKE_TRAFFIC_SECRET: 'serverHandshake',
  CLIENT_TRAFFIC_SECRET_0: 'clientApplication',
  SERVER_TRAFFIC_SECRET_0: 'serverApplication',
};

/** Labels a key log may hold that pgsniff does not need (not counted as malformed). */
const IGNORED = new Set(['EXPORTER_SECRET', 'CLIENT_EARLY_TRAFFIC_SECRET', 'EARLY_EXPORTER_SECRET', 'RSA']);

/** Sessions kept; past it the oldest entries go (a key log of a week-long capture must not grow memory without end). */
const MAX_SESSIONS = 200_000;
/** A synchronous re-read on a missed lookup happens at most this often (ms). */
const REFRESH_EVERY_MS = 50;
const POLL_MS = 200;
/** Read at most this much per refresh; the rest comes on the next one. */
const READ_CHUNK = 4 << 20;
const HEX = /^[0-9a-fA-F]+$/;
/** The most of a key log file read: 200,000 sessions of five secrets take about 200 MB. */
const MAX_KEYLOG_BYTES = 256 * 1024 * 1024;
/** The longest line taken for a key log line (the longest real one is about 230 bytes). */
export const MAX_KEYLOG_LINE = 1024;

export class KeyLog {
  private readonly sessions = new Map<string, SessionSecrets>();
  private malformed = 0;
  private path: string | null = null;
  private offset = 0;
  private lastRefresh = 0;
  private watching = false;
  /** A watched file grew past MAX_KEYLOG_BYTES: the rest is not read. */
  overLimit = false;
  /** Bumped whenever a secret is added: sessions waiting for keys look again only when it changed. */
  generation = 0;

  static empty(): KeyLog {
    return new KeyLog();
  }

  /**
   * Reads an NSS key log file. Without `watch` a missing or unreadable file is a UserError
   * (ENOENT / EACCES / BAD_INPUT). With `watch` the file may appear later.
   */
  static fromFile(path: string, opts: { watch?: boolean } = {}): KeyLog {
    const log = new KeyLog();
    log.path = path;
    if (opts.watch) {
      log.watching = true;
      log.refresh();
      watchFile(path, { interval: POLL_MS, persistent: false }, () => log.refresh());
      return log;
    }
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw readError(path, e);
    }
    try {
      log.readAll(fd, path);
    } finally {
      closeSync(fd);
    }
    return log;
  }

  /** Reads a key log to its end (sequentially: a pipe or a device reads too), line by line, within the limits. */
  private readAll(fd: number, path: string): void {
    const buf = Buffer.alloc(READ_CHUNK);
    let total = 0;
    let carry = '';
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        throw readError(path, e);
      }
      if (n <= 0) break;
      total += n;
      if (total > MAX_KEYLOG_BYTES) {
        throw new UserError('BAD_INPUT', `key log ${path}: larger than ${MAX_KEYLOG_BYTES / 1048576} MiB, not read (an NSS key log holds about 200 bytes per secret)`);
      }
      const text = carry + buf.toString('latin1', 0, n);
      const lastNl = text.lastIndexOf('\n');
      if (lastNl >= 0) {
        this.addText(text.slice(0, lastNl + 1));
        carry = text.slice(lastNl + 1);
      } else carry = text;
      if (carry.length > MAX_KEYLOG_LINE) {
        throw new UserError('BAD_INPUT', `key log ${path}: a line longer than ${MAX_KEYLOG_LINE} bytes (before byte ${total}): not an NSS key log (SSLKEYLOGFILE format)`);
      }
    }
    if (carry !== '') this.addText(carry);
  }

  /** Adds NSS key log lines (a whole file, a pcapng Decryption Secrets Block, ...). Bad lines are counted and skipped. */
  addText(text: string): void {
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      this.addLine(text.slice(start, end));
      start = end + 1;
    }
  }

  /** Secrets for a ClientHello random (32 bytes), re-reading a watched file first when they are missing. */
  lookup(clientRandom: Buffer): SessionSecrets | undefined {
    const key = clientRandom.toString('hex');
    const found = this.sessions.get(key);
    if (found || !this.watching) return found;
    const now = Date.now();
    if (now - this.lastRefresh < REFRESH_EVERY_MS) return undefined;
    this.refresh();
    return this.sessions.get(key);
  }

  /** Re-reads a watched file now, whatever the rate limit (a session about to give up on its key looks once more). */
  poll(): void {
    if (this.watching) this.refresh();
  }

  /** True while the file is watched: a missing key may still arrive, so sessions wait (bounded) for it. */
  get live(): boolean {
    return this.watching;
  }

  /** Number of sessions with at least one secret, and lines that were not key log lines. */
  stats(): { sessions: number; malformedLines: number } {
    return { sessions: this.sessions.size, malformedLines: this.malformed };
  }

  /** Stops watching the file. */
  close(): void {
    if (this.watching && this.path) unwatchFile(this.path);
    this.watching = false;
  }

  private addLine(raw: string): void {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    if (parts.length !== 3) { this.malformed++; return; }
    const [label, random, secret] = parts;
    const field = LABELS[label];
    if (!field) { if (!IGNORED.has(label)) this.malformed++; return; }
    if (random.length !== 64 || !HEX.test(random) || secret.length % 2 !== 0 || secret.length < 32 || secret.length > 128 || !HEX.test(secret)) {
      this.malformed++;
      return;
    }
    const key = random.toLowerCase();
    let entry = this.sessions.get(key);
    if (!entry) {
      if (this.sessions.size >= MAX_SESSIONS) {
        const oldest = this.sessions.keys().next();
        if (!oldest.done) this.sessions.delete(oldest.value);
      }
      entry = {};
      this.sessions.set(key, entry);
    }
    entry[field] = Buffer.from(secret, 'hex');
    this.generation++;
  }

  /** Reads what was appended since the last read (from the start again if the file shrank), a chunk at a time. */
  private refresh(): void {
    this.lastRefresh = Date.now();
    const path = this.path;
    if (!path) return;
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return; // not there yet: a watched key log may be created after the capture starts
    }
    if (size < this.offset) this.offset = 0;
    if (size === this.offset || this.overLimit) return;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(Math.min(size - this.offset, READ_CHUNK));
      while (this.offset < size) {
        if (this.offset >= MAX_KEYLOG_BYTES) {
          this.overLimit = true;
          return;
        }
        const n = readSync(fd, buf, 0, Math.min(size - this.offset, buf.length), this.offset);
        if (n <= 0) return;
        const lastNl = buf.lastIndexOf(0x0a, n - 1);
        if (lastNl < 0) {
          // A stretch longer than any key log line without a line end is not one: skip it rather than grow.
          if (n > MAX_KEYLOG_LINE) { this.offset += n; this.malformed++; continue; }
          return; // a half-written last line: read again when it is complete
        }
        this.addText(buf.toString('latin1', 0, lastNl + 1));
        this.offset += lastNl + 1;
      }
    } finally {
      closeSync(fd);
    }
  }
}

function readError(path: string, e: unknown): UserError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new UserError('ENOENT', `key log ${path}: no such file`);
  if (code === 'EACCES' || code === 'EPERM') return new UserError('EACCES', `key log ${path}: permission denied`);
  if (code === 'EISDIR') return new UserError('BAD_INPUT', `key log ${path}: is a directory`);
  return new UserError('BAD_INPUT', `key log ${path}: cannot be read (${code ?? 'error'})`);
}
