/**
 * Generated captures for the fuzz corpus (scripts/fuzz-mutate.ts loadCorpus), shaped after the
 * session-layer budgets of src/core/budget.ts (issue 19): what a capture can make pgsniff keep
 * until an answer that never comes, and kept rows. Mutated like every corpus entry; the runner
 * reports the slowest input and the largest worker heap.
 *  - pending: many connections, each pipelining simple Query messages that are never answered
 *    (12,800 in all: just past the session share of the smallest --memory-limit, 128 MB, which
 *    every fifth fuzz input runs under);
 *  - pending-extended: Parse/Bind/Execute of named statements and portals, never synced or answered;
 *  - rows: a query answered with rows of large int8 arrays (the --rows byte budget per query).
 * Each is under 1 MB, so that a mutation (a copy) stays cheap.
 */
import { pcapFile, tcpFrame } from '../test/helpers/build-packets.js';
import {
  authentication, bind, commandComplete, dataRow, execute, parse, query, readyForQuery, rowDescription, startup,
} from '../test/helpers/pg-builder.js';
import type { CorpusEntry } from './fuzz-mutate.js';

const SERVER = '10.99.255.1';
const PSH_ACK = 0x18;

/** One client's side: the SYN exchange, a trust login, then `payloads` as frames in order. */
class Client {
  private cseq = 1000;
  private sseq = 5000;
  readonly ip: string;
  constructor(private readonly frames: Buffer[], private readonly n: number) {
    this.ip = `10.99.${n >> 8}.${n & 255}`;
    frames.push(tcpFrame({ src: this.ip, dst: SERVER, sport: 30000 + n, dport: 5432, seq: this.cseq++, flags: 0x02 }));
    frames.push(tcpFrame({ src: SERVER, dst: this.ip, sport: 5432, dport: 30000 + n, seq: this.sseq++, ack: this.cseq, flags: 0x12 }));
    this.c(startup({ user: 'u', database: 'd' }));
    this.s(Buffer.concat([authentication(0), readyForQuery()]));
  }
  c(payload: Buffer): void {
    this.frames.push(tcpFrame({ src: this.ip, dst: SERVER, sport: 30000 + this.n, dport: 5432, seq: this.cseq, flags: PSH_ACK, payload }));
    this.cseq += payload.length;
  }
  s(payload: Buffer): void {
    for (let off = 0; off < payload.length; off += 60_000) {
      const part = payload.subarray(off, off + 60_000);
      this.frames.push(tcpFrame({ src: SERVER, dst: this.ip, sport: 5432, dport: 30000 + this.n, seq: this.sseq, flags: PSH_ACK, payload: part }));
      this.sseq += part.length;
    }
  }
}

/** 64 connections x 200 unanswered Query messages, interleaved 100 at a time. */
function pendingQueries(): Buffer {
  const frames: Buffer[] = [];
  const clients = Array.from({ length: 64 }, (_, i) => new Client(frames, i));
  const batch = Buffer.concat(Array.from({ length: 100 }, () => query('SELECT 1')));
  for (let round = 0; round < 2; round++) for (const c of clients) c.c(batch);
  return pcapFile(frames);
}

/** 30 connections x 200 Parse/Bind/Execute of distinct statements and portals, never synced. */
function pendingExtended(): Buffer {
  const frames: Buffer[] = [];
  const clients = Array.from({ length: 30 }, (_, i) => new Client(frames, 1000 + i));
  for (let round = 0; round < 4; round++) {
    for (const c of clients) {
      const parts: Buffer[] = [];
      for (let k = 0; k < 50; k++) {
        const n = round * 50 + k;
        parts.push(parse(`s${n}`, `select $1::int + ${n}`, [23]), bind(`p${n}`, `s${n}`, [String(n)]), execute(`p${n}`));
      }
      c.c(Buffer.concat(parts));
    }
  }
  return pcapFile(frames);
}

/** One query answered with 20 rows of a 20,000-element int8 array each (text format). */
function arrayRows(): Buffer {
  const frames: Buffer[] = [];
  const c = new Client(frames, 2000);
  c.c(query('SELECT array_fill(1::int8, ARRAY[20000]) FROM generate_series(1, 20)'));
  const arr = '{' + Array.from({ length: 20_000 }, (_, i) => String(i % 10)).join(',') + '}';
  c.s(rowDescription([{ name: 'a', typeOid: 1016 }]));
  for (let i = 0; i < 20; i++) c.s(dataRow([arr]));
  c.s(Buffer.concat([commandComplete('SELECT 20'), readyForQuery()]));
  return pcapFile(frames);
}

let cached: CorpusEntry[] | null = null;

/** The budget shapes, made once per process. */
export function budgetShapes(): CorpusEntry[] {
  cached ??= [
    { name: 'generated/pending-queries', data: pendingQueries() },
    { name: 'generated/pending-extended', data: pendingExtended() },
    { name: 'generated/array-rows', data: arrayRows() },
  ];
  return cached;
}
