/**
 * A raw PostgreSQL client over net.Socket, for the samples no driver can make: protocol 3.2 and
 * its long cancel keys, NegotiateProtocolVersion, streaming replication in CopyBoth mode, and the
 * fast-path FunctionCall. It speaks just enough of "Message Flow" to log in (SCRAM-SHA-256,
 * cleartext, trust), run simple queries and drive those exchanges, and hands every backend
 * message to the scenario so the manifest records what actually came back.
 *
 * Not a general client: it trusts the server it started itself, and every wait has a timeout so
 * a scenario that goes wrong fails instead of hanging the generator.
 */
import { connect, type Socket } from 'node:net';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { cstring, int16, int32, lenBytes, msg, uint32, untyped } from '../test/helpers/pg-builder.js';

export const PROTOCOL_3_0 = 196608;
export const PROTOCOL_3_2 = 196610;
const CANCEL_REQUEST_CODE = 80877102;
const WAIT_MS = 10000;

/** One backend message as it arrived. */
interface BackendMessage {
  code: string;
  body: Buffer;
}

export interface ErrorFields {
  severity: string;
  sqlstate: string;
  message: string;
}

/** What a simple Query brought back, as the client saw it. */
export interface QueryOutcome {
  commands: string[];
  rows: (string | null)[][];
  columns: { name: string; typeOid: number; format: 'text' | 'binary' }[];
  error: ErrorFields | null;
  notices: ErrorFields[];
  emptyQuery: boolean;
  messages: BackendMessage[];
}

export interface LoginOutcome {
  processId: number;
  secretKey: Buffer;
  /** NegotiateProtocolVersion, when the server sent one. */
  negotiate: { version: number; unrecognized: string[] } | null;
  parameters: Record<string, string>;
}

export function errorFields(body: Buffer): ErrorFields {
  const f: Record<string, string> = {};
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = String.fromCharCode(body[at]!);
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    f[code] = body.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return { severity: f.V ?? f.S ?? '', sqlstate: f.C ?? '', message: f.M ?? '' };
}

function readCString(b: Buffer, at: number): [string, number] {
  const end = b.indexOf(0, at);
  if (end < 0) throw new Error('unterminated string in a backend message');
  return [b.toString('utf8', at, end), end + 1];
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

export class RawClient {
  private buf: Buffer = Buffer.alloc(0);
  private readonly queue: BackendMessage[] = [];
  private wake: (() => void) | null = null;
  private ended = false;
  private failure: Error | null = null;
  /** Settles when the server (or we) closed the socket. */
  readonly closedPromise: Promise<void>;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.frame();
    });
    this.closedPromise = new Promise((resolve) => {
      sock.on('close', () => {
        this.ended = true;
        this.wake?.();
        resolve();
      });
    });
    sock.on('error', (e) => {
      this.failure = e;
      this.wake?.();
    });
  }

  static open(host: string, port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port }, () => {
        s.off('error', reject);
        s.setNoDelay(true);
        resolve(new RawClient(s));
      });
      s.once('error', reject);
    });
  }

  get localPort(): number | null {
    return this.sock.localPort ?? null;
  }

  private frame(): void {
    while (this.buf.length >= 5) {
      const len = this.buf.readInt32BE(1);
      if (this.buf.length < 1 + len) break;
      this.queue.push({ code: String.fromCharCode(this.buf[0]!), body: Buffer.from(this.buf.subarray(5, 1 + len)) });
      this.buf = this.buf.subarray(1 + len);
    }
    if (this.queue.length) this.wake?.();
  }

  send(...messages: Buffer[]): void {
    this.sock.write(messages.length === 1 ? messages[0]! : Buffer.concat(messages));
  }

  /** The next backend message, or null when none arrives within `ms` (or the connection closed). */
  async poll(ms: number): Promise<BackendMessage | null> {
    const deadline = Date.now() + ms;
    while (this.queue.length === 0) {
      if (this.failure) throw this.failure;
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
    return this.queue.shift()!;
  }

  async next(ms = WAIT_MS): Promise<BackendMessage> {
    const m = await this.poll(ms);
    if (!m) throw new Error(this.ended ? 'the server closed the connection' : `no message from the server within ${ms} ms`);
    return m;
  }

  /** Startup packet and login; messages up to the first ReadyForQuery. */
  async login(version: number, params: Record<string, string>, user: string, password: string): Promise<LoginOutcome> {
    const parts: Buffer[] = [int32(version)];
    for (const [k, v] of Object.entries({ user, ...params })) parts.push(cstring(k), cstring(v));
    parts.push(Buffer.alloc(1));
    this.send(untyped(...parts));
    const out: LoginOutcome = { processId: 0, secretKey: Buffer.alloc(0), negotiate: null, parameters: {} };
    let scram: { nonce: string; bare: string; password: string } | null = null;
    for (;;) {
      const m = await this.next();
      switch (m.code) {
        case 'v': {
          const version = m.body.readInt32BE(0);
          const n = m.body.readInt32BE(4);
          const unrecognized: string[] = [];
          let at = 8;
          for (let i = 0; i < n; i++) {
            const [s, next] = readCString(m.body, at);
            unrecognized.push(s);
            at = next;
          }
          out.negotiate = { version, unrecognized };
          break;
        }
        case 'R': {
          const kind = m.body.readInt32BE(0);
          if (kind === 0) break;
          if (kind === 3) this.send(msg('p', cstring(password)));
          else if (kind === 10) {
            const nonce = randomBytes(18).toString('base64');
            const bare = `n=,r=${nonce}`;
            scram = { nonce, bare, password };
            const first = Buffer.from(`n,,${bare}`, 'utf8');
            this.send(msg('p', cstring('SCRAM-SHA-256'), lenBytes(first)));
          } else if (kind === 11 && scram) {
            this.send(msg('p', Buffer.from(scramFinal(scram, m.body.toString('utf8', 4)), 'utf8')));
          } else if (kind !== 12) throw new Error(`authentication request ${kind} is not supported by the raw client`);
          break;
        }
        case 'S': {
          const [k, at] = readCString(m.body, 0);
          out.parameters[k] = readCString(m.body, at)[0];
          break;
        }
        case 'K':
          out.processId = m.body.readInt32BE(0);
          out.secretKey = Buffer.from(m.body.subarray(4));
          break;
        case 'E': {
          const e = errorFields(m.body);
          throw new Error(`login failed: ${e.sqlstate} ${e.message}`);
        }
        case 'Z':
          return out;
        default:
          break;
      }
    }
  }

  /** Sends a simple Query and collects everything up to ReadyForQuery. */
  async query(sql: string): Promise<QueryOutcome> {
    this.send(msg('Q', cstring(sql)));
    return this.collect();
  }

  /** Backend messages up to ReadyForQuery, folded into a QueryOutcome. */
  async collect(first: BackendMessage[] = []): Promise<QueryOutcome> {
    const o: QueryOutcome = { commands: [], rows: [], columns: [], error: null, notices: [], emptyQuery: false, messages: [] };
    const pending = [...first];
    for (;;) {
      const m = pending.shift() ?? (await this.next());
      o.messages.push(m);
      switch (m.code) {
        case 'T': {
          const n = m.body.readInt16BE(0);
          let at = 2;
          o.columns = [];
          for (let i = 0; i < n; i++) {
            const [name, next] = readCString(m.body, at);
            const typeOid = m.body.readUInt32BE(next + 6);
            const format = m.body.readInt16BE(next + 16) === 1 ? 'binary' : 'text';
            o.columns.push({ name, typeOid, format });
            at = next + 18;
          }
          break;
        }
        case 'D': {
          const n = m.body.readInt16BE(0);
          let at = 2;
          const row: (string | null)[] = [];
          for (let i = 0; i < n; i++) {
            const len = m.body.readInt32BE(at);
            at += 4;
            if (len < 0) row.push(null);
            else {
              row.push(m.body.toString('utf8', at, at + len));
              at += len;
            }
          }
          o.rows.push(row);
          break;
        }
        case 'C':
          o.commands.push(readCString(m.body, 0)[0]);
          break;
        case 'I':
          o.emptyQuery = true;
          break;
        case 'E':
          o.error = errorFields(m.body);
          break;
        case 'N':
          o.notices.push(errorFields(m.body));
          break;
        case 'Z':
          return o;
        default:
          break;
      }
    }
  }

  /** FunctionCall: arguments as text (string), binary (Buffer) or NULL; one format code each. */
  functionCall(oid: number, args: (string | Buffer | null)[], resultFormat: 'text' | 'binary'): void {
    const formats = args.map((a) => (Buffer.isBuffer(a) ? 1 : 0));
    this.send(
      msg('F', uint32(oid), int16(formats.length), ...formats.map(int16), int16(args.length), ...args.map((a) => lenBytes(a)), int16(resultFormat === 'binary' ? 1 : 0)),
    );
  }

  /** Terminate, then wait for the server to close. */
  async terminate(): Promise<void> {
    if (this.ended) return;
    this.send(msg('X'));
    this.sock.end();
    await Promise.race([this.closedPromise, new Promise((r) => setTimeout(r, 3000))]);
    this.sock.destroy();
  }

  destroy(): void {
    this.sock.destroy();
  }

  /** A CancelRequest on a connection of its own; resolves when the server has closed it. */
  static async cancel(host: string, port: number, processId: number, key: Buffer): Promise<void> {
    const c = await RawClient.open(host, port);
    c.send(untyped(int32(CANCEL_REQUEST_CODE), int32(processId), key));
    await Promise.race([c.closedPromise, new Promise((r) => setTimeout(r, 3000))]);
    c.destroy();
  }
}

/** SCRAM-SHA-256 client-final-message (RFC 5802 / 7677) for the server-first-message given. */
function scramFinal(s: { nonce: string; bare: string; password: string }, serverFirst: string): string {
  const attrs = new Map(serverFirst.split(',').map((kv) => [kv[0]!, kv.slice(2)] as const));
  const nonce = attrs.get('r') ?? '';
  if (!nonce.startsWith(s.nonce)) throw new Error('SCRAM: the server nonce does not extend ours');
  const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
  const iterations = Number(attrs.get('i'));
  const salted = pbkdf2Sync(s.password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=biws,r=${nonce}`;
  const authMessage = `${s.bare},${serverFirst},${withoutProof}`;
  const signature = createHmac('sha256', storedKey).update(authMessage).digest();
  return `${withoutProof},p=${xor(clientKey, signature).toString('base64')}`;
}
