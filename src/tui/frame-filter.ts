/**
 * The display filter over the frame list. A frame is shown when the filter matches the frame
 * itself ({kind: "frame", frame, session, src, dst, length, info}), any message record
 * completed in it, or the query that frame belongs to (so `durationMs > 100` shows the frames
 * of slow queries). Matching runs in slices from the render timer, so a million frames never
 * block the keyboard, and it keeps up with frames arriving live.
 *
 * A message is tested on its envelope from the index first; only when the filter reads a field
 * the envelope does not have is the message decoded again from its body (store.fullRecord: the
 * capture file, or a kept copy). A message whose body is gone (live capture beyond the budget)
 * cannot be tested: it is counted in `unknown`, and the count says it may be incomplete.
 */
import { compileFilter, type Predicate } from '../filter/index.js';
import { isoTime } from '../core/time.js';
import type { TuiStore } from './store.js';
import { QF_ERROR } from './store.js';
import { Column, u32 } from './grow.js';

/** Frames matched per timer tick: keeps a tick well under the 100 ms frame budget. */
const SLICE = 40_000;
const SLICE_MS = 25;

export class FrameFilter {
  expr = '';
  private pred: Predicate | null = null;
  /** Frame indices that pass, ascending; null while no filter is set. */
  rows: Column<Uint32Array> | null = null;
  /** Frames [0, scanned) have been tested. */
  scanned = 0;
  /** Messages the filter needed the fields of whose bodies were gone: the rows may miss their frames. */
  unknown = 0;

  constructor(private readonly store: TuiStore) {}

  /** Compiles `expr` (throws UserError BAD_FILTER when invalid); '' clears the filter. */
  set(expr: string): void {
    const trimmed = expr.trim();
    if (trimmed === '') {
      this.expr = '';
      this.pred = null;
      this.rows = null;
      return;
    }
    const pred = compileFilter(trimmed);
    this.expr = trimmed;
    this.pred = pred;
    this.rows = u32(1024);
    this.scanned = 0;
    this.unknown = 0;
  }

  /** True while frames are left to test. */
  get pending(): boolean {
    return this.pred !== null && this.scanned < this.store.frameCount;
  }

  /** Tests the next slice of frames; true when anything was added. */
  step(): boolean {
    const pred = this.pred;
    const rows = this.rows;
    if (!pred || !rows) return false;
    const end = Math.min(this.store.frameCount, this.scanned + SLICE);
    const before = rows.n;
    const t0 = Date.now();
    let fi = this.scanned;
    while (fi < end) {
      if (this.matches(pred, fi)) rows.push(fi);
      fi++;
      // Bounded in time as well as in frames: records rebuilt for evicted messages are slow.
      if ((fi & 255) === 0 && Date.now() - t0 > SLICE_MS) break;
    }
    this.scanned = fi;
    return rows.n !== before;
  }

  matches(pred: Predicate, fi: number): boolean {
    const s = this.store;
    try {
      const no = s.fNo.get(fi);
      const sess = s.fSess.get(fi);
      const frameRec: Record<string, unknown> = {
        kind: 'frame', frame: no, session: sess < 0 ? null : sess, time: isoTime(s.fTime.get(fi)),
        src: s.endpoints.name(s.fSrc.get(fi)) || null, dst: s.endpoints.name(s.fDst.get(fi)) || null,
        length: s.fLen.get(fi), info: s.info(fi),
      };
      if (pred(frameRec)) return true;
      const msgs = s.messagesOf(fi);
      for (const m of msgs) if (this.matchesMessage(pred, m)) return true;
      if (msgs.length > 0 && sess >= 0) {
        const q = s.queryAt(sess, no);
        if (q >= 0 && pred(queryRecord(s, q))) return true;
      }
    } catch {
      // A predicate that throws on an odd record does not match it; the scan goes on.
    }
    return false;
  }

  /** Message `m` against the filter: on its envelope when that decides, else on its full record. */
  private matchesMessage(pred: Predicate, m: number): boolean {
    const s = this.store;
    const env = s.envelopeRecord(m);
    const probe = { outside: false };
    const hit = pred(envelopeProbe(env, probe));
    if (!probe.outside) return hit;
    const full = s.fullRecord(m);
    if (full === null) {
      this.unknown++;
      return false;
    }
    return pred(full);
  }

  /** Rows shown: filtered count, or every frame. */
  count(): number {
    return this.rows ? this.rows.n : this.store.frameCount;
  }

  /** Frame index at list position `pos`. */
  at(pos: number): number {
    return this.rows ? this.rows.get(pos) : pos;
  }

  /** List position of frame index `fi`, or -1 when filtered out. */
  positionOf(fi: number): number {
    if (!this.rows) return fi;
    let lo = 0;
    let hi = this.rows.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.rows.get(mid);
      if (v === fi) return mid;
      if (v < fi) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The position at or after (or before, when `before`) frame index `fi`. */
  nearest(fi: number): number {
    if (!this.rows) return fi;
    let lo = 0;
    let hi = this.rows.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rows.get(mid) < fi) lo = mid + 1;
      else hi = mid;
    }
    return Math.min(lo, Math.max(0, this.rows.n - 1));
  }
}

/**
 * The envelope behind a proxy that notes any read of a key it does not hold (or of its key list):
 * the predicate's answer on it is the answer on the full record exactly when nothing was noted,
 * as the full record is the envelope plus the decoded fields.
 */
function envelopeProbe(env: Record<string, unknown>, probe: { outside: boolean }): Record<string, unknown> {
  return new Proxy(env, {
    get(t, k) {
      if (typeof k === 'string' && !Object.hasOwn(t, k)) probe.outside = true;
      return Reflect.get(t, k);
    },
    has(t, k) {
      if (typeof k === 'string' && !Object.hasOwn(t, k)) probe.outside = true;
      return Reflect.has(t, k);
    },
    ownKeys(t) {
      probe.outside = true;
      return Reflect.ownKeys(t);
    },
    getOwnPropertyDescriptor(t, k) {
      if (typeof k === 'string' && !Object.hasOwn(t, k)) probe.outside = true;
      return Reflect.getOwnPropertyDescriptor(t, k);
    },
  });
}

/** A query record as the filter sees it, rebuilt from the index (the record itself is not kept). */
export function queryRecord(s: TuiStore, q: number): Record<string, unknown> {
  const dur = s.qDur.get(q);
  const rows = s.qRows.get(q);
  const failed = (s.qFlags.get(q) & QF_ERROR) !== 0;
  // qError holds "SEVERITY SQLSTATE message" (store.ts, errorText).
  const [severity, sqlstate, ...message] = failed ? s.qError.get(q).split(' ') : [];
  return {
    kind: 'query', session: s.qSess.get(q), frame: s.qEndFrame.get(q), firstFrame: s.qStartFrame.get(q),
    lastFrame: s.qEndFrame.get(q), sql: s.qSql.get(q), durationMs: Number.isNaN(dur) ? null : dur,
    rows: Number.isNaN(rows) ? null : rows, error: failed ? { severity, sqlstate, message: message.join(' ') } : null,
  };
}
