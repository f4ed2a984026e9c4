/**
 * Reassembly against damaged real captures: every capture is decoded once, reassembled as it is
 * (the reference), then damaged in memory and reassembled again:
 * - two adjacent segments swapped, or one segment duplicated: every direction of every
 *   connection must come out byte-identical to the reference;
 * - one data segment dropped: the same bytes without that segment's payload, and an explicit
 *   gap of exactly its size where it was;
 * - the first k packets cut: each direction is a suffix of the reference, starting with skip -1
 *   exactly when its start (SYN, or SYN+ACK for the client side) was cut.
 * Cases that no reassembler could get right are left out and counted (see `excluded`): a swap
 * with a RST (data after a reset is dropped), a swap across two connections on one 4-tuple, a
 * swap moving the first segment of a direction whose start was never captured (there is no
 * earlier byte to place it after), a swap across a pause longer than the hole timeout (the
 * later timestamp, arriving first, legitimately expires holes and idle connections: nDPI's
 * pgsql.pcap joins captures 15 years apart), a dropped segment whose bytes another segment
 * carries too (a retransmission fills the hole) or after which nothing in that direction shows
 * the hole before the connection is reset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import type { TcpSegment } from '../src/net/segment.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../src/net/segment.js';
import { seqAdd, seqDiff } from '../src/reassembly/seq.js';
import { DEFAULT_FLOW_TABLE_OPTIONS } from '../src/reassembly/limits.js';
import { publicCapture, publicCaptures, sampleCaptures, SKIP_NO_PUBLIC } from './helpers/public-captures.js';
import {
  endpointKey,
  loadSegments,
  reassemble,
  render,
  type Recorder,
  type Rendered,
  type RenderedDirection,
} from './helpers/reassembly-recorder.js';

/** At most this many damaged variants of one kind per capture (evenly spread), to bound run time. */
const MAX_VARIANTS = 400;

function captures(): string[] {
  const samples = sampleCaptures();
  const pub = publicCaptures() ?? [];
  return [...samples, ...pub.map(publicCapture)];
}

function pairKey(s: TcpSegment): string {
  const a = endpointKey(s.src, s.srcPort);
  const b = endpointKey(s.dst, s.dstPort);
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/**
 * Which connection instance of its 4-tuple each segment belongs to: a SYN without ACK with a
 * new sequence number on a 4-tuple already seen starts the next instance (as the FlowTable does).
 */
function instances(segs: readonly TcpSegment[]): number[] {
  const state = new Map<string, { n: number; isn: number }>();
  return segs.map((s) => {
    const k = pairKey(s);
    const st = state.get(k);
    const synOnly = (s.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    if (!st) {
      state.set(k, { n: 0, isn: synOnly ? s.seq : -1 });
      return 0;
    }
    if (synOnly && st.isn !== s.seq) {
      st.n++;
      st.isn = s.seq;
    }
    return st.n;
  });
}

/** Frames whose payload was the first delivery (skip -1) of a direction that started mid-way. */
function midStartFrames(rec: Recorder): Set<number> {
  const out = new Set<number>();
  for (const c of rec.conns) {
    for (const dir of ['frontend', 'backend'] as const) {
      const first = c.deliveries.find((d) => d.dir === dir);
      if (first && first.skip === -1) out.add(first.frame);
    }
  }
  return out;
}

function describe(d: RenderedDirection): string {
  return `${d.bytes.length} bytes, gaps ${JSON.stringify(d.gaps)}${d.midStream ? ', mid-stream' : ''}`;
}

/** The first difference between two renderings, or null when they are the same. */
function diff(want: Rendered, got: Rendered): string | null {
  const keys = new Set([...want.keys(), ...got.keys()]);
  for (const k of keys) {
    const w = want.get(k);
    const g = got.get(k);
    if (!w || !g) return `connection ${k} ${w ? 'missing' : 'unexpected'}`;
    for (const ep of new Set([...w.keys(), ...g.keys()])) {
      const wd = w.get(ep);
      const gd = g.get(ep);
      if (!wd || !gd) return `${k} direction from ${ep} ${wd ? 'missing' : 'unexpected'}`;
      if (!wd.bytes.equals(gd.bytes) || JSON.stringify(wd.gaps) !== JSON.stringify(gd.gaps) || wd.midStream !== gd.midStream) {
        return `${k} from ${ep}: want ${describe(wd)}, got ${describe(gd)}`;
      }
    }
  }
  return null;
}

/** Indexes 0..n-1, thinned to at most MAX_VARIANTS evenly spread ones. */
function spread(n: number): number[] {
  const step = Math.max(1, Math.ceil(n / MAX_VARIANTS));
  const out: number[] = [];
  for (let i = 0; i < n; i += step) out.push(i);
  return out;
}

interface Tally {
  tested: number;
  excluded: number;
  failures: string[];
}

function tally(): Tally {
  return { tested: 0, excluded: 0, failures: [] };
}

function report(t: { diagnostic(s: string): void }, what: string, r: Tally): void {
  t.diagnostic(`${what}: ${r.tested} variants checked, ${r.excluded} left out`);
  assert.deepEqual(r.failures.slice(0, 10), [], `${r.failures.length} ${what} variants differ`);
}

const files = captures();

test('reassembly damage: swapped adjacent segments give identical streams', { skip: files.length === 0 ? SKIP_NO_PUBLIC : false }, async (t) => {
  const r = tally();
  for (const file of files) {
    const segs = await loadSegments(file);
    const baseRec = reassemble(segs);
    const base = render(baseRec);
    const inst = instances(segs);
    const mid = midStartFrames(baseRec);
    for (const i of spread(segs.length - 1)) {
      const a = segs[i]!;
      const b = segs[i + 1]!;
      if (
        ((a.flags | b.flags) & TCP_RST) !== 0 ||
        (pairKey(a) === pairKey(b) && inst[i] !== inst[i + 1]) ||
        mid.has(a.frame) ||
        mid.has(b.frame) ||
        Math.abs(a.timeUs - b.timeUs) >= DEFAULT_FLOW_TABLE_OPTIONS.holeTimeoutUs
      ) {
        r.excluded++;
        continue;
      }
      const damaged = segs.slice();
      damaged[i] = b;
      damaged[i + 1] = a;
      r.tested++;
      const d = diff(base, render(reassemble(damaged)));
      if (d) r.failures.push(`${basename(file)}: frames ${a.frame}<->${b.frame}: ${d}`);
    }
  }
  report(t, 'swap', r);
});

test('reassembly damage: duplicated segments give identical streams', { skip: files.length === 0 ? SKIP_NO_PUBLIC : false }, async (t) => {
  const r = tally();
  for (const file of files) {
    const segs = await loadSegments(file);
    const base = render(reassemble(segs));
    for (const i of spread(segs.length)) {
      const damaged = segs.slice();
      damaged.splice(i + 1, 0, segs[i]!);
      r.tested++;
      const d = diff(base, render(reassemble(damaged)));
      if (d) r.failures.push(`${basename(file)}: frame ${segs[i]!.frame} twice: ${d}`);
    }
  }
  report(t, 'duplicate', r);
});

/** Offset of each frame's delivery in its direction's stream, keyed "connIndex/dir/frame". */
function deliveryOffsets(rec: Recorder): Map<string, number> {
  const out = new Map<string, number>();
  rec.conns.forEach((c, ci) => {
    const off = { frontend: 0, backend: 0 };
    for (const d of c.deliveries) {
      const k = `${ci}/${d.dir}/${d.frame}`;
      if (!out.has(k)) out.set(k, off[d.dir]);
      off[d.dir] += d.bytes.length;
    }
  });
  return out;
}

test('reassembly damage: a dropped segment is an explicit gap of its size', { skip: files.length === 0 ? SKIP_NO_PUBLIC : false }, async (t) => {
  const r = tally();
  for (const file of files) {
    const segs = await loadSegments(file);
    const baseRec = reassemble(segs);
    const base = render(baseRec);
    const inst = instances(segs);
    const mid = midStartFrames(baseRec);
    const offsets = deliveryOffsets(baseRec);
    const dataIdx = segs.flatMap((s, i) => (s.payload.length > 0 && s.missing === 0 ? [i] : []));
    for (const n of spread(dataIdx.length)) {
      const i = dataIdx[n]!;
      const s = segs[i]!;
      const start = (s.flags & TCP_SYN) !== 0 ? seqAdd(s.seq, 1) : s.seq;
      const end = seqAdd(start, s.payload.length);
      const sameDir = (o: TcpSegment, j: number) =>
        j !== i && inst[j] === inst[i] && o.src === s.src && o.srcPort === s.srcPort && o.dst === s.dst && o.dstPort === s.dstPort;
      // Another copy of any of these bytes would fill the hole: not a loss.
      const covered = segs.some((o, j) => {
        if (!sameDir(o, j) || o.payload.length === 0) return false;
        const os = (o.flags & TCP_SYN) !== 0 ? seqAdd(o.seq, 1) : o.seq;
        return seqDiff(os, end) < 0 && seqDiff(seqAdd(os, o.payload.length), start) > 0;
      });
      // Only a later byte or FIN of the same direction shows that something is missing, and only
      // before a RST ends the connection.
      let resetAt = segs.length;
      for (let j = i + 1; j < segs.length; j++) {
        const o = segs[j]!;
        if ((o.flags & TCP_RST) !== 0 && inst[j] === inst[i] && pairKey(o) === pairKey(s)) {
          resetAt = j;
          break;
        }
      }
      const shown = segs.some(
        (o, j) => j < resetAt && sameDir(o, j) && (o.payload.length > 0 || (o.flags & TCP_FIN) !== 0) && seqDiff(o.seq, end) >= 0,
      );
      const connIdx = baseRec.conns.findIndex(
        (c, ci) => c.info.startFrame <= s.frame && (c.end?.frame ?? Infinity) >= s.frame && pairKey(s) === pairOf(baseRec, ci),
      );
      const conn = baseRec.conns[connIdx];
      const dir = conn && conn.info.client.ip === s.src && conn.info.client.port === s.srcPort ? 'frontend' : 'backend';
      const off = offsets.get(`${connIdx}/${dir}/${s.frame}`);
      if (covered || !shown || mid.has(s.frame) || !conn || off === undefined) {
        r.excluded++;
        continue;
      }
      // The reference with the segment's payload cut out and a gap in its place.
      const want: Rendered = new Map([...base].map(([k, v]) => [k, new Map(v)]));
      const key = [...base.keys()][connIdx]!;
      const ep = endpointKey(s.src, s.srcPort);
      const ref = want.get(key)!.get(ep)!;
      if (ref.gaps.length > 0) {
        r.excluded++;
        continue;
      }
      want.get(key)!.set(ep, {
        bytes: Buffer.concat([ref.bytes.subarray(0, off), ref.bytes.subarray(off + s.payload.length)]),
        gaps: [[off, s.payload.length]],
        midStream: ref.midStream,
      });
      const damaged = segs.slice();
      damaged.splice(i, 1);
      r.tested++;
      const d = diff(want, render(reassemble(damaged)));
      if (d) r.failures.push(`${basename(file)}: frame ${s.frame} dropped: ${d}`);
    }
  }
  report(t, 'drop', r);
});

function pairOf(rec: Recorder, ci: number): string {
  const c = rec.conns[ci]!;
  const a = endpointKey(c.info.client.ip, c.info.client.port);
  const b = endpointKey(c.info.server.ip, c.info.server.port);
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

test('reassembly damage: a capture cut at its start delivers suffixes, skip -1 where the start is gone', { skip: files.length === 0 ? SKIP_NO_PUBLIC : false }, async (t) => {
  const r = tally();
  for (const file of files) {
    const segs = await loadSegments(file);
    const baseRec = reassemble(segs);
    const base = render(baseRec);
    const baseKeys = [...base.keys()];
    for (const k of spread(segs.length - 1)) {
      if (k === 0) continue;
      const damaged = segs.slice(k);
      const got = render(reassemble(damaged));
      r.tested++;
      // Damaged occurrence m of a pair is reference occurrence m + (number cut away entirely).
      const countOf = (keys: Iterable<string>) => {
        const m = new Map<string, number>();
        for (const key of keys) {
          const p = key.slice(0, key.lastIndexOf('#'));
          m.set(p, (m.get(p) ?? 0) + 1);
        }
        return m;
      };
      const baseCount = countOf(baseKeys);
      const gotCount = countOf(got.keys());
      for (const [key, dirs] of got) {
        const hash = key.lastIndexOf('#');
        const pair = key.slice(0, hash);
        const shift = (baseCount.get(pair) ?? 0) - (gotCount.get(pair) ?? 0);
        const refKey = `${pair}#${Number(key.slice(hash + 1)) + shift}`;
        const refIdx = baseKeys.indexOf(refKey);
        const ref = base.get(refKey);
        const refConn = baseRec.conns[refIdx];
        if (!ref || !refConn || shift < 0) {
          r.failures.push(`${basename(file)} cut ${k}: ${key} has no reference connection`);
          continue;
        }
        const lo = refConn.info.startFrame;
        const hi = refConn.end?.frame ?? Infinity;
        const inConn = damaged.filter((s) => s.frame >= lo && s.frame <= hi && pairKey(s) === pair);
        for (const [ep, gd] of dirs) {
          const wd = ref.get(ep);
          if (!wd) {
            r.failures.push(`${basename(file)} cut ${k}: ${key} from ${ep} not in the reference`);
            continue;
          }
          if (gd.bytes.length === 0 && gd.gaps.length === 0) continue;
          const isClient = endpointKey(refConn.info.client.ip, refConn.info.client.port) === ep;
          const startSeen = inConn.some((s) => {
            const from = endpointKey(s.src, s.srcPort) === ep;
            const synOnly = (s.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
            const synAck = (s.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
            return (from && (s.flags & TCP_SYN) !== 0) || (isClient && !from && synAck && !synOnly);
          });
          const wantMid = wd.midStream || !startSeen;
          const suffix = wd.bytes.subarray(wd.bytes.length - gd.bytes.length);
          if (wd.gaps.length > 0 || gd.gaps.length > 0) {
            r.excluded++;
            continue;
          }
          if (gd.bytes.length > wd.bytes.length || !suffix.equals(gd.bytes) || gd.midStream !== wantMid) {
            r.failures.push(
              `${basename(file)} cut ${k}: ${key} from ${ep}: want a suffix of ${describe(wd)}${wantMid ? ' starting mid-stream' : ''}, got ${describe(gd)}`,
            );
          }
          if (!wantMid && !gd.bytes.equals(wd.bytes)) {
            r.failures.push(`${basename(file)} cut ${k}: ${key} from ${ep}: start seen, want all ${wd.bytes.length} bytes, got ${gd.bytes.length}`);
          }
        }
      }
    }
  }
  report(t, 'cut', r);
});
