/**
 * Damage a real capture one way at a time (a payload-carrying packet deleted, two deleted, one
 * duplicated, two swapped) and compare its query records with the undamaged run's: a record is
 * right when it equals its undamaged twin in sql, command, rows, error and skipped, and
 * otherwise it must say so (incomplete). A null sql claims nothing (the statement's text is
 * unknown: a pooler's server leg whose statement was parsed on a connection that lost bytes),
 * so it is not wrong when the rest equals. Records are matched by session, the frame their request
 * began in, their statement index and their order among those (frame numbers are the original
 * ones: a deleted packet leaves a hole in the numbering, not a shift).
 * Used by test/session-loss.test.ts, and by hand to count wrong records before a change.
 */
import type { Packet } from '../../src/capture/packet.js';
import { PacketPipeline } from '../../src/pipeline/analyze.js';
import type { OutRecord, PipelineSink } from '../../src/pipeline/events.js';
import { decodeTcp } from '../../src/net/decoder.js';
import type { QueryRecord } from '../../src/session/schema.js';
import { readAll } from './read-all.js';
import { prng } from './prng.js';

export interface Capture {
  packets: Packet[];
  /** Indexes of the packets that carry TCP payload. */
  payload: number[];
}

export async function loadCapture(path: string): Promise<Capture> {
  const { packets } = await readAll(path);
  const payload: number[] = [];
  packets.forEach((p, i) => {
    const seg = decodeTcp(p, () => {});
    if (seg !== null && seg.payload.length > 0) payload.push(i);
  });
  return { packets, payload };
}

export async function queryRecords(packets: readonly Packet[]): Promise<QueryRecord[]> {
  const out: QueryRecord[] = [];
  const sink: PipelineSink = { record: (r: OutRecord) => { if (r.kind === 'query') out.push(r as unknown as QueryRecord); } };
  const p = new PacketPipeline(sink, { messages: false });
  for (const pkt of packets) p.packet(pkt);
  await p.finish();
  return out;
}

function keyed(records: readonly QueryRecord[]): Map<string, QueryRecord> {
  const m = new Map<string, QueryRecord>();
  for (const r of records) {
    const base = `${r.session}/${r.firstFrame}/${r.statementIndex}`;
    let k = 0;
    while (m.has(`${base}/${k}`)) k++;
    m.set(`${base}/${k}`, r);
  }
  return m;
}

const outcome = (r: QueryRecord): string =>
  JSON.stringify([r.sql, r.command, r.rows, r.error?.sqlstate ?? null, r.error?.message ?? null, r.skipped]);

interface Verdict {
  /** Records neither equal to their undamaged twin nor marked incomplete. */
  wrong: number;
  marked: number;
  /** Of the marked, those marked for a gap that the clean run did not mark (the others: the connection ended before their answer, a limit). */
  markedGap: number;
  equal: number;
  /** A few of the wrong ones, for the failure message. */
  examples: string[];
}

export function compare(clean: readonly QueryRecord[], damaged: readonly QueryRecord[]): Verdict {
  const want = keyed(clean);
  const v: Verdict = { wrong: 0, marked: 0, markedGap: 0, equal: 0, examples: [] };
  for (const [k, r] of keyed(damaged)) {
    if (r.incomplete) {
      v.marked++;
      // Marked in the clean run too (the capture itself lost packets: tcpdump under load) is not
      // the damage's doing.
      if (r.incompleteReason === 'gap' && !want.get(k)?.incomplete) v.markedGap++;
      continue;
    }
    const w = want.get(k);
    if (w !== undefined && (outcome(w) === outcome(r) || (r.sql === null && outcome(w) === outcome({ ...r, sql: w.sql })))) {
      v.equal++;
      continue;
    }
    v.wrong++;
    if (v.examples.length < 3) v.examples.push(`${k}: got ${outcome(r)}, want ${w ? outcome(w) : 'no such record'}`);
  }
  return v;
}

export type Damage = { kind: 'delete'; at: number[] } | { kind: 'duplicate'; at: number } | { kind: 'swap'; at: number };

export function damage(packets: readonly Packet[], d: Damage): Packet[] {
  switch (d.kind) {
    case 'delete': {
      const drop = new Set(d.at);
      return packets.filter((_, i) => !drop.has(i));
    }
    case 'duplicate':
      return [...packets.slice(0, d.at + 1), packets[d.at]!, ...packets.slice(d.at + 1)];
    case 'swap': {
      // Each keeps its own timestamp and frame number: the later one simply arrives first.
      const out = packets.slice();
      out[d.at] = packets[d.at + 1]!;
      out[d.at + 1] = packets[d.at]!;
      return out;
    }
  }
}

/**
 * The damages to try on a capture: every payload packet deleted when there are at most `each`,
 * else `each` of them drawn with a fixed seed; and `few` each of pairs deleted, duplicates and
 * adjacent swaps (a payload packet with the packet after it).
 */
export function damages(c: Capture, each: number, few: number, seed: number): Damage[] {
  const rnd = prng(seed);
  const pick = (): number => c.payload[Math.floor(rnd() * c.payload.length)]!;
  const out: Damage[] = [];
  if (c.payload.length <= each) for (const i of c.payload) out.push({ kind: 'delete', at: [i] });
  else for (let k = 0; k < each; k++) out.push({ kind: 'delete', at: [pick()] });
  if (c.payload.length < 2) return out;
  for (let k = 0; k < few; k++) {
    const a = pick();
    let b = pick();
    if (b === a) b = c.payload[(c.payload.indexOf(a) + 1) % c.payload.length]!;
    out.push({ kind: 'delete', at: [a, b] });
    out.push({ kind: 'duplicate', at: pick() });
    const s = pick();
    if (s + 1 < c.packets.length) out.push({ kind: 'swap', at: s });
  }
  return out;
}

export function describeDamage(d: Damage): string {
  return d.kind === 'delete' ? `packet(s) ${d.at.map((i) => i + 1).join('+')} deleted`
    : d.kind === 'duplicate' ? `packet ${d.at + 1} duplicated` : `packets ${d.at + 1} and ${d.at + 2} swapped`;
}
