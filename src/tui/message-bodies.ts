/**
 * Where each message's body can be found again, and what it takes to decode it again exactly as
 * the pipeline did (DESIGN.md: the TUI keeps a compact index and decodes details on demand; as
 * Wireshark records connection state against the frame number, the state a dissector read is
 * recorded against the message).
 *
 * Most bodies lie whole in the frame that completes them: the index keeps only their offset in
 * that frame's captured bytes (4 bytes a message), and the bytes are read again from the capture
 * file through the frame reader. A body that is not there (split over segments, decrypted from
 * TLS, live capture without a file) is copied, within a byte budget; beyond it that body is gone
 * and `available` says so. The dissectors read state for a few message types only (DataRow,
 * Bind, CopyData, FunctionCallResponse, the startup and authentication messages): that state is
 * kept as an interned snapshot id per message, so a re-decode sees what the first decode saw.
 * test/tui-bodies.test.ts checks every re-decoded record against the pipeline's own.
 */
import type { RawMessage, DecodedMessage, DissectContext, ColumnDescription } from '../../dissectors/types.js';
import { dissect } from '../../dissectors/index.js';
import { rawMessage } from '../../dissectors/raw-message.js';
import { SmallColumn, u16 } from './grow.js';
import { LruCache } from './body-cache.js';
import { FrameReader } from './frame-reader.js';
import { logicalStateOf, type LogicalReplicationState } from '../../dissectors/copy/logical-state.js';

/** No state read (or the dissector's defaults). */
const CTX_NONE = 0;
/** The snapshot table was full: this message cannot be decoded again. */
const CTX_LOST = 0xffff;
/** Distinct snapshots kept (ids are two bytes): a capture of endless distinct row shapes stops re-decoding rather than growing. */
const MAX_SNAPSHOTS = 0xfff0;
/** Relations copied into logical replication snapshots, in all: past it, later row changes cannot be decoded again. */
const MAX_LOGICAL_RELATIONS = 1_000_000;
/** pgoutput messages after which a logical replication connection remembers something new (dissectors/copy/pgoutput.ts). */
const LOGICAL_CHANGES = new Set(['Relation', 'StreamStart', 'StreamStop']);

/** The dissector state one message read (DissectContext's fields that decide its decoding). */
interface Snapshot {
  protocolMinor: number;
  authType: number | null;
  pendingRequest: 'ssl' | 'gssenc' | null;
  copy: DissectContext['copy'];
  paramTypes: readonly number[] | undefined;
  columns: readonly ColumnDescription[] | undefined;
  functionFormat: 'text' | 'binary' | undefined;
  /** A logical replication connection's memory (relations, streamed xid) before the message, when it had any. */
  logical: LogicalReplicationState | undefined;
}

const EMPTY: Snapshot = {
  protocolMinor: 0, authType: null, pendingRequest: null, copy: null, paramTypes: undefined, columns: undefined, functionFormat: undefined, logical: undefined,
};

/** A body whose bytes are not in its frame, with the cost the budget charges for it. */
const keptCost = (b: Buffer): number => b.length + 96;

export interface BodySource {
  /** The frame the message completed in: its index, file offset, and (during the load only) its bytes. */
  frameIndex: number;
  fileOffset: number;
  data: Buffer | null;
}

export class MessageBodies {
  /** Per message: 1 + offset of the body in its completing frame's captured bytes (two bytes, nearly always); 0 when not there. */
  private readonly bodyAt = new SmallColumn();
  /** Per message: its snapshot id (CTX_*, or an index into `snapshots`). */
  private readonly ctxId = u16();
  private readonly snapshots: Snapshot[] = [EMPTY];
  private readonly snapshotIds = new Map<string, number>();
  /** The last arrays seen, by identity: a result's DataRows share one, so most lookups skip the key. */
  private lastColumns: readonly ColumnDescription[] | undefined | null = null;
  private lastColumnsId = CTX_NONE;
  private lastCopy: DissectContext['copy'] | undefined = undefined;
  private lastCopyHeader: boolean | undefined = undefined;
  private lastCopyId = CTX_NONE;
  private lastCopyLogical = 0;
  /**
   * Per connection (its DissectContext), the logical replication memory after its last change, as
   * an id into `logical` (0: nothing remembered yet). The pipeline's own state is updated in place
   * as messages decode, so it is copied at each change rather than read later.
   */
  private readonly logicalOf = new WeakMap<DissectContext, number>();
  private readonly logical: Array<LogicalReplicationState | undefined> = [undefined];
  private logicalRelations = 0;
  /** Bodies found in their frame, and bodies copied (not in it). */
  inFrame = 0;
  copied = 0;
  /** Copies of bodies not in their frame. */
  readonly kept: LruCache<Buffer>;
  private showSecrets = false;
  private reader: FrameReader | null;
  /** The frame last read again (a frame holds many messages). */
  private lastRead = -1;
  private lastReadData: Buffer | null = null;

  constructor(capturePath: string | null, keptBudget: number) {
    this.reader = capturePath ? new FrameReader(capturePath) : null;
    this.kept = new LruCache<Buffer>(keptBudget, keptCost);
  }

  /**
   * Notes where message `m`'s body is and the state its decoding read. `raw` and `ctx` are the
   * pipeline's (valid only during the call); `decoded` is what it decoded from them.
   */
  add(m: number, raw: RawMessage, decoded: DecodedMessage, ctx: DissectContext, frame: BodySource): void {
    this.showSecrets = ctx.showSecrets;
    let at = -1;
    const data = frame.data;
    const src = raw.source;
    // Only a file can give the bytes again (live capture keeps no frames): else the body is copied.
    if (data !== null && this.reader !== null && frame.fileOffset >= 0 && src.buffer === data.buffer) {
      const start = src.byteOffset + raw.bodyStart - data.byteOffset;
      if (start >= 0 && start + (raw.bodyEnd - raw.bodyStart) <= data.length) at = start;
    }
    this.bodyAt.push(at + 1);
    if (at >= 0) this.inFrame++;
    else {
      this.copied++;
      this.kept.put(m, Buffer.from(src.subarray(raw.bodyStart, raw.bodyEnd)));
    }
    this.ctxId.push(this.snapshotOf(raw, decoded, ctx));
    if (raw.code === 'd') this.noteLogical(decoded, ctx);
  }

  /** After a pgoutput Relation or stream start/stop, the connection's memory is copied for the messages after it. */
  private noteLogical(decoded: DecodedMessage, ctx: DissectContext): void {
    const logical = (decoded as { logical?: { message?: unknown } }).logical;
    if (logical === undefined || !LOGICAL_CHANGES.has(String(logical.message))) return;
    const state = logicalStateOf(ctx);
    if (this.logicalRelations + state.relations.size > MAX_LOGICAL_RELATIONS) {
      this.logicalOf.set(ctx, -1);
      return;
    }
    this.logicalRelations += state.relations.size;
    this.logicalOf.set(ctx, this.logical.length);
    this.logical.push({ relations: new Map(state.relations), streamXid: state.streamXid });
  }

  /** A message fed without its pipeline state (a producer calling message()): its body is copied, decoded as is. */
  addBare(m: number, raw: RawMessage): void {
    this.bodyAt.push(0);
    this.copied++;
    this.kept.put(m, Buffer.from(raw.source.subarray(raw.bodyStart, raw.bodyEnd)));
    this.ctxId.push(CTX_NONE);
  }

  private snapshotOf(raw: RawMessage, decoded: DecodedMessage, ctx: DissectContext): number {
    const code = raw.code;
    if (raw.dir === 'backend') {
      if (code === 'D') {
        const cols = ctx.resultColumns();
        if (cols !== this.lastColumns) {
          this.lastColumns = cols;
          // DataRow reads each column's type and format, nothing else (dissectors/rows.ts).
          const shape = cols?.map((c) => ({ typeOid: c.typeOid, format: c.format }) as ColumnDescription);
          this.lastColumnsId = cols === undefined ? CTX_NONE
            : this.intern(`D${shape!.map((c) => `${c.typeOid}${c.format === 'text' ? 't' : 'b'}`).join(',')}`, { ...EMPTY, columns: shape });
        }
        return this.lastColumnsId;
      }
      if (code === 'd') return this.copySnapshot(ctx);
      if (code === 'V') {
        const f = ctx.functionResultFormat?.();
        return f === undefined ? CTX_NONE : this.intern(`V${f}`, { ...EMPTY, functionFormat: f });
      }
      if (code === 'K' || code === 'R' || code === null) return this.scalars(ctx);
      return CTX_NONE;
    }
    if (code === 'd') return this.copySnapshot(ctx);
    if (code === 'B') {
      const name = (decoded as { statement?: unknown }).statement;
      const types = ctx.statementParamTypes(typeof name === 'string' ? name : '');
      return types === undefined ? CTX_NONE : this.intern(`B${types.join(',')}`, { ...EMPTY, paramTypes: [...types] });
    }
    if (code === 'p' || code === null) return this.scalars(ctx);
    return CTX_NONE;
  }

  /** The startup and authentication messages: few, and they read the connection's scalars. */
  private scalars(ctx: DissectContext): number {
    const pending = ctx.pendingRequest ?? null;
    return this.intern(`S${ctx.protocolMinor}|${ctx.authType}|${pending}`,
      { ...EMPTY, protocolMinor: ctx.protocolMinor, authType: ctx.authType, pendingRequest: pending });
  }

  private copySnapshot(ctx: DissectContext): number {
    const c = ctx.copy;
    const logical = this.logicalOf.get(ctx) ?? 0;
    if (logical < 0) return CTX_LOST;
    // The COPY state is one object per COPY whose `header` flag clears after the first line.
    if (c === this.lastCopy && c?.header === this.lastCopyHeader && logical === this.lastCopyLogical) return this.lastCopyId;
    this.lastCopy = c;
    this.lastCopyHeader = c?.header;
    this.lastCopyLogical = logical;
    this.lastCopyId = c === null ? CTX_NONE
      : this.intern(`d${JSON.stringify(c)}|${logical}`, { ...EMPTY, copy: structuredClone(c), logical: this.logical[logical] });
    return this.lastCopyId;
  }

  private intern(key: string, s: Snapshot): number {
    let id = this.snapshotIds.get(key);
    if (id === undefined) {
      if (this.snapshots.length >= MAX_SNAPSHOTS) return CTX_LOST;
      id = this.snapshots.length;
      this.snapshots.push(s);
      this.snapshotIds.set(key, id);
    }
    return id;
  }

  /** Whether message `m` can be decoded again (its body is in the file or kept, its state known). */
  available(m: number, fileOffset: number): boolean {
    if (m >= this.ctxId.n || this.ctxId.get(m) === CTX_LOST) return false;
    return this.bodyAt.get(m) > 0 ? this.reader !== null && fileOffset >= 0 : this.kept.peek(m) !== undefined;
  }

  /**
   * Message `m` decoded again, or null when its body is gone (or the file no longer holds it).
   * `env` is what the index knows of it; `frameIndex`/`fileOffset` locate its completing frame.
   */
  decode(m: number, env: Omit<RawMessage, 'body' | 'source' | 'bodyStart' | 'bodyEnd' | 'offset'>, frameIndex: number, fileOffset: number): { raw: RawMessage; decoded: DecodedMessage } | null {
    if (m >= this.ctxId.n) return null;
    const id = this.ctxId.get(m);
    if (id === CTX_LOST) return null;
    // The one-byte answer to SSLRequest / GSSENCRequest is its own body (src/pg's framer).
    const bodyLength = env.code === null && env.length === 1 ? 1 : Math.max(0, env.length - 4);
    let body: Buffer | undefined;
    const at = this.bodyAt.get(m) - 1;
    if (at >= 0) {
      const data = this.frameBytes(frameIndex, fileOffset);
      if (data === null || at + bodyLength > data.length) return null;
      // The length field, when it is in this frame, must say what the index says: else the file changed.
      if (at >= 4 && env.code !== null && data.readUInt32BE(at - 4) !== env.length) return null;
      body = Buffer.from(data.subarray(at, at + bodyLength));
    } else {
      body = this.kept.peek(m);
      if (body === undefined) return null;
    }
    const raw = rawMessage({ ...env, body, offset: 0 });
    const s = this.snapshots[id] ?? EMPTY;
    const ctx: DissectContext = {
      showSecrets: this.showSecrets,
      protocolMinor: s.protocolMinor,
      authType: s.authType,
      copy: s.copy === null ? null : structuredClone(s.copy),
      pendingRequest: s.pendingRequest,
      statementParamTypes: () => s.paramTypes,
      resultColumns: () => s.columns,
      functionResultFormat: () => s.functionFormat,
      // A copy: decoding a Relation message again must not change what later messages see.
      logicalReplication: s.logical === undefined ? undefined : { relations: new Map(s.logical.relations), streamXid: s.logical.streamXid },
    };
    return { raw, decoded: dissect(raw, ctx) };
  }

  private frameBytes(fi: number, fileOffset: number): Buffer | null {
    if (this.reader === null || fileOffset < 0) return null;
    if (fi !== this.lastRead) {
      this.lastReadData = this.reader.read(fileOffset);
      this.lastRead = fi;
    }
    return this.lastReadData;
  }

  /** Bytes the per-message columns and the kept copies hold (the statistics view). */
  bytes(): number {
    return this.bodyAt.bytes() + this.ctxId.bytes() + this.kept.usedBytes;
  }

  close(): void {
    this.reader?.close();
    this.lastReadData = null;
    this.lastRead = -1;
  }
}

export { CTX_NONE };
