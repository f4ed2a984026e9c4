/**
 * A minimal PostgreSQL wire-protocol client for the benchmark's bulk connection. It exists to
 * count: every message it sends and every message the server sends back is counted at the
 * socket, so the benchmark knows exactly how many messages a decoder must find on this
 * connection, independently of pgsniff. It speaks only what the bulk workload needs: a
 * StartupMessage answered without a password (the benchmark server trusts 127.0.0.1), simple
 * Query, and COPY FROM STDIN with one CopyData message per row (as libpq's PQputline does).
 */
import { connect, type Socket } from 'node:net';

interface MessageCounts {
  frontend: number;
  backend: number;
  /** Backend messages by type byte (e.g. "D" DataRow, "d" CopyData). */
  backendByCode: Map<string, number>;
}

export class CountingClient {
  readonly counts: MessageCounts = { frontend: 0, backend: 0, backendByCode: new Map() };
  /** Local (client) port of the connection, to find it in the capture. */
  localPort = 0;
  private sock: Socket | null = null;
  private header = Buffer.alloc(5);
  private headerFill = 0;
  /** Bytes of the current message body still to skip. */
  private bodyLeft = 0;
  private code = '';
  private waiters: Array<{ code: string; resolve: () => void; reject: (e: Error) => void }> = [];
  /** The ErrorResponse seen since the last wait, if any (its body is not kept: only that it happened). */
  private errors = 0;

  async connect(port: number, user: string, database: string): Promise<void> {
    const sock = connect({ host: '127.0.0.1', port });
    sock.setNoDelay(true);
    this.sock = sock;
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    this.localPort = sock.localPort ?? 0;
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (e) => this.failAll(e));
    sock.on('close', () => this.failAll(new Error('connection closed')));
    const params = Buffer.from(`user\0${user}\0database\0${database}\0application_name\0pgsniff-bench\0\0`, 'utf8');
    const startup = Buffer.alloc(8 + params.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE(196608, 4);
    params.copy(startup, 8);
    this.counts.frontend++;
    const ready = this.waitFor('Z');
    sock.write(startup);
    await ready;
  }

  /** Simple Query; resolves at ReadyForQuery, rejects when the server answered with an error. */
  async query(sql: string): Promise<void> {
    const ready = this.waitFor('Z');
    await this.send('Q', Buffer.from(sql + '\0', 'utf8'));
    await ready;
  }

  /** COPY ... FROM STDIN: one CopyData per row from `rows`, then CopyDone; resolves at ReadyForQuery. */
  async copyIn(sql: string, rows: Iterable<string>): Promise<void> {
    const started = this.waitFor('G');
    await this.send('Q', Buffer.from(sql + '\0', 'utf8'));
    await started;
    const ready = this.waitFor('Z');
    // Rows are packed into ~256 KiB writes of many CopyData messages: the socket then carries
    // full-size segments, as a bulk load does.
    const BATCH = 256 * 1024;
    let batch = Buffer.allocUnsafe(BATCH + 1024);
    let fill = 0;
    for (const row of rows) {
      const len = Buffer.byteLength(row, 'utf8');
      if (fill + 5 + len > batch.length) {
        await this.write(batch.subarray(0, fill));
        batch = Buffer.allocUnsafe(Math.max(BATCH + 1024, 5 + len));
        fill = 0;
      }
      batch[fill] = 0x64; // 'd'
      batch.writeInt32BE(4 + len, fill + 1);
      batch.write(row, fill + 5, 'utf8');
      fill += 5 + len;
      this.counts.frontend++;
    }
    if (fill > 0) await this.write(batch.subarray(0, fill));
    await this.send('c', Buffer.alloc(0));
    await ready;
  }

  async terminate(): Promise<void> {
    const sock = this.sock;
    if (!sock) return;
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    await this.send('X', Buffer.alloc(0));
    sock.end();
    await closed;
    this.sock = null;
  }

  private async send(code: string, body: Buffer): Promise<void> {
    const msg = Buffer.alloc(5 + body.length);
    msg[0] = code.charCodeAt(0);
    msg.writeInt32BE(4 + body.length, 1);
    body.copy(msg, 5);
    this.counts.frontend++;
    await this.write(msg);
  }

  private write(buf: Buffer): Promise<void> {
    const sock = this.sock!;
    return new Promise((resolve, reject) => {
      const ok = sock.write(buf, (e) => (e ? reject(e) : undefined));
      if (ok) resolve();
      else sock.once('drain', () => resolve());
    });
  }

  private waitFor(code: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.errors = 0;
      this.waiters.push({ code, resolve, reject });
    });
  }

  private failAll(e: Error): void {
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.reject(e);
  }

  /** Counts messages as they stream by without keeping them: a header, then a body skipped. */
  private onData(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= take;
        i += take;
        if (this.bodyLeft === 0) this.complete();
        continue;
      }
      const take = Math.min(5 - this.headerFill, chunk.length - i);
      chunk.copy(this.header, this.headerFill, i, i + take);
      this.headerFill += take;
      i += take;
      if (this.headerFill < 5) break;
      this.headerFill = 0;
      this.code = String.fromCharCode(this.header[0]!);
      this.bodyLeft = this.header.readInt32BE(1) - 4;
      if (this.bodyLeft === 0) this.complete();
    }
  }

  private complete(): void {
    const c = this.code;
    this.counts.backend++;
    this.counts.backendByCode.set(c, (this.counts.backendByCode.get(c) ?? 0) + 1);
    if (c === 'E') this.errors++;
    const w = this.waiters[0];
    if (w && w.code === c) {
      this.waiters.shift();
      if (this.errors > 0 && c === 'Z') w.reject(new Error('the server answered with an ErrorResponse'));
      else w.resolve();
    } else if (w && c === 'E' && w.code !== 'Z') {
      // An error instead of CopyInResponse: the ReadyForQuery that follows rejects the caller.
      this.waiters.shift();
      const err = new Error('the server answered with an ErrorResponse');
      this.waiters.unshift({ code: 'Z', resolve: () => w.reject(err), reject: w.reject });
    }
  }
}
