/**
 * The fuzzer's inputs: a corpus of real captures (the samples and the public captures) and
 * seeded mutations of them. Every input is a pure function of (corpus, seed, index), so a
 * failure can be reproduced from the two numbers the fuzzer prints.
 *
 * Mutations work at three levels, so that damage reaches every stage instead of stopping at
 * the first header that no longer parses:
 * - bytes of the file: bit flips, truncation;
 * - pcap records: segments swapped, duplicated, dropped;
 * - PostgreSQL messages inside TCP payloads: length fields set to 0, 3, 4, 5, 2^31-1, -1 or a
 *   random value, type bytes replaced, payloads replaced with random bytes in valid frames;
 * plus synthetic connections of random bytes on port 5432.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../src/net/segment.js';
import { pcapFile, tcpFrame } from '../test/helpers/build-packets.js';
import { hostileShape } from '../test/helpers/hostile-captures.js';
import { publicCapture, publicCaptures, sampleCaptures } from '../test/helpers/public-captures.js';
import { arrayRows, openBlocks, pendingExtended, pendingQueries } from './fuzz-shapes-budgets.js';

/** A small, fast, seedable generator (mulberry32): fuzz runs must be reproducible, not secure. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** The seed of input `index` of a run seeded with `seed`. */
function inputSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

export interface CorpusEntry {
  name: string;
  data: Buffer;
}

/** Captures larger than this are left out: a mutation costs a copy, and small files give more inputs a second. */
const MAX_CORPUS_FILE = 1024 * 1024;

/** The budget shapes (fuzz-shapes-budgets.ts), made once per process. */
let budgetShapes: CorpusEntry[] | null = null;

/** The samples, (when present) the public captures, smallest first, then the budget shapes. */
export function loadCorpus(): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  for (const p of sampleCaptures()) if (statSync(p).size <= MAX_CORPUS_FILE) out.push({ name: p.replace(/^.*\/samples\//, 'samples/'), data: readFileSync(p) });
  for (const rel of publicCaptures() ?? []) {
    const p = publicCapture(rel);
    if (existsSync(p) && statSync(p).size <= MAX_CORPUS_FILE) out.push({ name: `public/${rel}`, data: readFileSync(p) });
  }
  budgetShapes ??= [
    { name: 'generated/pending-queries', data: pendingQueries() },
    { name: 'generated/pending-extended', data: pendingExtended() },
    { name: 'generated/array-rows', data: arrayRows() },
    { name: 'generated/open-blocks', data: openBlocks() },
  ];
  out.push(...budgetShapes);
  return out;
}

interface PcapLayout {
  little: boolean;
  linkType: number;
  /** [start, end) of each record, header included. */
  records: Array<[number, number]>;
}

/** Record boundaries of a classic pcap file (null for pcapng or a damaged header). */
function pcapLayout(b: Buffer): PcapLayout | null {
  if (b.length < 24) return null;
  const m = b.readUInt32BE(0);
  let little: boolean;
  if (m === 0xd4c3b2a1 || m === 0x4d3cb2a1) little = true;
  else if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) little = false;
  else return null;
  const u32 = (o: number): number => (little ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const records: Array<[number, number]> = [];
  let off = 24;
  while (off + 16 <= b.length) {
    const cap = u32(off + 8);
    if (off + 16 + cap > b.length) break;
    records.push([off, off + 16 + cap]);
    off += 16 + cap;
  }
  return { little, linkType: u32(20) & 0xffff, records };
}

/** Offset of the TCP payload inside a frame, and its length; null when not TCP over IP. */
function tcpPayload(frame: Buffer, linkType: number): { off: number; len: number; sport: number; dport: number } | null {
  let ip: number;
  let etherType = 0;
  switch (linkType) {
    case 1: {
      if (frame.length < 14) return null;
      ip = 14;
      etherType = frame.readUInt16BE(12);
      while ((etherType === 0x8100 || etherType === 0x88a8) && frame.length >= ip + 4) {
        etherType = frame.readUInt16BE(ip + 2);
        ip += 4;
      }
      break;
    }
    case 113:
      if (frame.length < 16) return null;
      ip = 16;
      etherType = frame.readUInt16BE(14);
      break;
    case 276:
      if (frame.length < 20) return null;
      ip = 20;
      etherType = frame.readUInt16BE(0);
      break;
    case 0:
    case 108:
      ip = 4;
      break;
    default:
      ip = 0;
  }
  if (frame.length < ip + 20) return null;
  const version = frame[ip]! >> 4;
  if (etherType !== 0 && etherType !== 0x0800 && etherType !== 0x86dd) return null;
  let tcp: number;
  if (version === 4) {
    if (frame[ip + 9] !== 6) return null;
    tcp = ip + (frame[ip]! & 0x0f) * 4;
  } else if (version === 6) {
    if (frame[ip + 6] !== 6) return null;
    tcp = ip + 40;
  } else {
    return null;
  }
  if (frame.length < tcp + 20) return null;
  const off = tcp + (frame[tcp + 12]! >> 4) * 4;
  if (off > frame.length) return null;
  return { off, len: frame.length - off, sport: frame.readUInt16BE(tcp), dport: frame.readUInt16BE(tcp + 2) };
}

/** Positions (in the file) of plausible PostgreSQL message headers: typed ones chained from a
 * payload's start, and untyped (startup-phase) ones at a payload's start. */
function messageHeaders(b: Buffer, layout: PcapLayout): Array<{ at: number; typed: boolean }> {
  const out: Array<{ at: number; typed: boolean }> = [];
  for (const [start, end] of layout.records) {
    const frame = b.subarray(start + 16, end);
    const p = tcpPayload(frame, layout.linkType);
    if (p === null || p.len < 5) continue;
    const base = start + 16 + p.off;
    const first = b.readInt32BE(base);
    if (first >= 8 && first <= 10000 && p.len >= 8) out.push({ at: base, typed: false });
    let i = 0;
    while (i + 5 <= p.len) {
      const code = b[base + i]!;
      const len = b.readInt32BE(base + i + 1);
      if (code < 0x41 || code > 0x7a || len < 4) break;
      out.push({ at: base + i, typed: true });
      i += 1 + len;
    }
  }
  return out;
}

const LENGTH_VALUES = [0, 3, 4, 5, 0x7fffffff, -1, 0x40000000, 65536];

type Mutation =
  | 'bitflip' | 'truncate' | 'length' | 'type-byte' | 'swap' | 'duplicate' | 'drop' | 'random-payload' | 'synthetic';

const MUTATIONS: readonly Mutation[] = ['bitflip', 'truncate', 'length', 'length', 'type-byte', 'swap', 'duplicate', 'drop', 'random-payload', 'synthetic'];

function rebuild(b: Buffer, layout: PcapLayout, records: Array<[number, number]>): Buffer {
  return Buffer.concat([b.subarray(0, 24), ...records.map(([s, e]) => b.subarray(s, e))]);
}

/** Random bytes between a client and port 5432, with or without the handshake, some of them
 * typed-message-shaped so the framer goes past its first check. */
function syntheticRandom(rng: Rng): Buffer {
  const frames: Buffer[] = [];
  const withSyn = rng.next() < 0.5;
  const sport = 30000 + rng.int(30000);
  let cseq = rng.int(2 ** 32);
  let sseq = rng.int(2 ** 32);
  const c = { src: '10.1.0.1', dst: '10.1.0.2', sport, dport: 5432 };
  const s = { src: '10.1.0.2', dst: '10.1.0.1', sport: 5432, dport: sport };
  if (withSyn) {
    frames.push(tcpFrame({ ...c, seq: cseq, flags: TCP_SYN }));
    frames.push(tcpFrame({ ...s, seq: sseq, ack: cseq + 1, flags: TCP_SYN | TCP_ACK }));
    cseq = (cseq + 1) >>> 0;
    sseq = (sseq + 1) >>> 0;
  }
  const n = 1 + rng.int(12);
  for (let i = 0; i < n; i++) {
    const fromClient = rng.next() < 0.5;
    let payload: Buffer;
    if (rng.next() < 0.4) {
      // A typed header with a random type and a random (often extreme) length, then noise.
      const body = rng.bytes(rng.int(64));
      payload = Buffer.alloc(5 + body.length);
      payload[0] = 0x41 + rng.int(58);
      payload.writeInt32BE(rng.next() < 0.5 ? rng.pick(LENGTH_VALUES) : 4 + body.length, 1);
      body.copy(payload, 5);
    } else {
      payload = rng.bytes(1 + rng.int(1500));
    }
    const spec = fromClient ? c : s;
    const seq = fromClient ? cseq : sseq;
    frames.push(tcpFrame({ ...spec, seq, flags: TCP_PSH | TCP_ACK, payload }));
    if (fromClient) cseq = (cseq + payload.length) >>> 0;
    else sseq = (sseq + payload.length) >>> 0;
  }
  if (rng.next() < 0.5) frames.push(tcpFrame({ ...c, seq: cseq, flags: TCP_FIN | TCP_ACK }));
  return pcapFile(frames);
}

/** Applies one mutation; returns the new file (may share nothing with the old). */
export function mutateOnce(b: Buffer, rng: Rng, kind: Mutation): Buffer {
  if (kind === 'synthetic') return syntheticRandom(rng);
  if (kind === 'bitflip') {
    const out = Buffer.from(b);
    const n = 1 + rng.int(16);
    // Mostly past the file header, which otherwise just makes an unreadable file.
    const from = rng.next() < 0.05 || out.length <= 24 ? 0 : 24;
    for (let i = 0; i < n && out.length > from; i++) {
      const at = from + rng.int(out.length - from);
      out[at] = out[at]! ^ (1 << rng.int(8));
    }
    return out;
  }
  if (kind === 'truncate') return b.subarray(0, rng.int(b.length + 1));
  const layout = pcapLayout(b);
  if (layout === null || layout.records.length === 0) return mutateOnce(b, rng, 'bitflip');
  const recs = layout.records;
  switch (kind) {
    case 'swap': {
      const copy = recs.slice();
      const i = rng.int(copy.length);
      const j = rng.next() < 0.7 ? Math.min(copy.length - 1, i + 1) : rng.int(copy.length);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
      return rebuild(b, layout, copy);
    }
    case 'duplicate': {
      const copy = recs.slice();
      const i = rng.int(copy.length);
      copy.splice(i + rng.int(3), 0, copy[i]!);
      return rebuild(b, layout, copy);
    }
    case 'drop': {
      const copy = recs.slice();
      copy.splice(rng.int(copy.length), 1);
      return rebuild(b, layout, copy);
    }
    case 'random-payload': {
      const out = Buffer.from(b);
      const [start, end] = rng.pick(recs);
      const p = tcpPayload(out.subarray(start + 16, end), layout.linkType);
      if (p === null || p.len === 0) return mutateOnce(b, rng, 'bitflip');
      rng.bytes(p.len).copy(out, start + 16 + p.off);
      return out;
    }
    case 'length':
    case 'type-byte': {
      const heads = messageHeaders(b, layout);
      if (heads.length === 0) return mutateOnce(b, rng, 'bitflip');
      const out = Buffer.from(b);
      const h = rng.pick(heads);
      if (kind === 'type-byte') {
        if (h.typed) out[h.at] = rng.int(256);
        else out.writeInt32BE(rng.int(2 ** 31), h.at + 4);
        return out;
      }
      const v = rng.next() < 0.8 ? rng.pick(LENGTH_VALUES) : rng.int(2 ** 31);
      if (out.length >= h.at + (h.typed ? 5 : 4)) {
        if (h.typed) out.writeInt32BE(v | 0, h.at + 1);
        else out.writeInt32BE(v | 0, h.at);
      }
      return out;
    }
  }
  return b;
}

/**
 * The shape an input belongs to, by its source, for the per-shape report (scripts/fuzz-run.ts):
 * the hostile shapes of issue 19 (hostileShape; the budget shapes of fuzz-shapes-budgets.ts,
 * mutated like every corpus entry), and the mutated samples and public captures.
 */
export function shapeOf(source: string): string {
  if (source.startsWith('hostile:syn-only') || source.startsWith('hostile:startup-only')) return 'many connections';
  if (source.startsWith('hostile:declared-lengths')) return 'declared lengths';
  if (source.startsWith('hostile:conflicting-overlaps')) return 'conflicting overlaps';
  if (source.startsWith('generated/pending-')) return 'pending requests';
  if (source === 'generated/array-rows') return 'kept rows';
  if (source === 'generated/open-blocks') return 'open blocks';
  return 'mutated captures';
}

export interface FuzzInput {
  index: number;
  source: string;
  mutations: Mutation[];
  data: Buffer;
  /** Read sizes to feed the reader with (0: one chunk). */
  chunk: number;
}

/** Input `index` of the run seeded `seed` over `corpus`. */
export function makeInput(corpus: readonly CorpusEntry[], seed: number, index: number): FuzzInput {
  const rng = new Rng(inputSeed(seed, index));
  // One input in 50 is a hostile shape of issue 19 (many connections, declared lengths,
  // conflicting overlaps), made whole, not mutated: it is the shape that must stay bounded.
  if (rng.next() < 0.02) {
    const h = hostileShape(rng.next(), rng.int(4));
    return { index, source: h.name, mutations: [], data: h.data, chunk: 0 };
  }
  const src = rng.pick(corpus);
  const n = 1 + rng.int(3);
  const mutations: Mutation[] = [];
  let data = src.data;
  for (let i = 0; i < n; i++) {
    const m = rng.pick(MUTATIONS);
    mutations.push(m);
    data = mutateOnce(data, rng, m);
  }
  const chunk = rng.next() < 0.2 ? 1 + rng.int(4096) : 0;
  return { index, source: src.name, mutations, data, chunk };
}

/** Every message-length field of every sample set to `value`, one file per header found
 * (at most `limit` per file, spread over the file), for the mutation tests. */
export function lengthVariants(b: Buffer, value: number, limit: number): Buffer[] {
  const layout = pcapLayout(b);
  if (layout === null) return [];
  const heads = messageHeaders(b, layout).filter((h) => h.typed);
  const step = Math.max(1, Math.floor(heads.length / limit));
  const out: Buffer[] = [];
  for (let i = 0; i < heads.length && out.length < limit; i += step) {
    const copy = Buffer.from(b);
    copy.writeInt32BE(value | 0, heads[i]!.at + 1);
    out.push(copy);
  }
  return out;
}
