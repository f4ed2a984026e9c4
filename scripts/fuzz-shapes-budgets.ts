/**
 * Generated captures shaped after the memory budgets of src/core/budget.ts (issue 19): what a
 * capture can make pgsniff keep until an answer that never comes, kept rows, and query records
 * held for a transaction block that never ends. Each generator takes its size: the fuzz corpus
 * (scripts/fuzz-mutate.ts loadCorpus) takes them under 1 MB, so that a mutation (a copy) stays
 * cheap, and mutates them like every corpus entry (the runner reports the slowest input and the
 * largest worker heap); test/hostile-memory.test.ts writes them large and holds pgsniff's peak
 * resident size under --memory-limit on each.
 *  - pending: many connections, each pipelining simple Query messages that are never answered
 *    (the corpus's 12,800 in all are just past the session share of the smallest
 *    --memory-limit, 128 MB, which every fifth fuzz input runs under);
 *  - pending-extended: Parse/Bind/Execute of named statements and portals, never synced or answered;
 *  - rows: a query answered with rows of large int8 arrays (the --rows byte budget per query);
 *  - open blocks: connections that BEGIN and run answered SELECTs never committed (the records
 *    wait for the end of the block: test/helpers/held-captures.ts).
 */
import { pcapFile, tcpFrame } from '../test/helpers/build-packets.js';
import {
  authentication, bind, commandComplete, dataRow, execute, parse, query, readyForQuery, rowDescription, startup,
} from '../test/helpers/pg-builder.js';
import { openBlocks as openBlockFrames } from '../test/helpers/held-captures.js';

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

/** `conns` connections x `rounds` x 100 unanswered Query messages (`sql`), interleaved 100 at a time. */
export function pendingQueries(conns = 64, rounds = 2, sql = 'SELECT 1'): Buffer {
  const frames: Buffer[] = [];
  const clients = Array.from({ length: conns }, (_, i) => new Client(frames, i));
  const batch = Buffer.concat(Array.from({ length: 100 }, () => query(sql)));
  for (let round = 0; round < rounds; round++) for (const c of clients) c.c(batch);
  return pcapFile(frames);
}

/** `conns` connections x `rounds` x 50 Parse/Bind/Execute of distinct statements and portals, never synced. */
export function pendingExtended(conns = 30, rounds = 4): Buffer {
  const frames: Buffer[] = [];
  const clients = Array.from({ length: conns }, (_, i) => new Client(frames, 1000 + i));
  for (let round = 0; round < rounds; round++) {
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

/** `queries` queries (one connection each) answered with `rows` rows of an `elements`-element int8 array each (text format). */
export function arrayRows(rows = 20, elements = 20_000, queries = 1): Buffer {
  const frames: Buffer[] = [];
  const arr = '{' + Array.from({ length: elements }, (_, i) => String(i % 10)).join(',') + '}';
  const row = dataRow([arr]);
  for (let q = 0; q < queries; q++) {
    const c = new Client(frames, 2000 + q);
    c.c(query(`SELECT array_fill(1::int8, ARRAY[${elements}]) FROM generate_series(1, ${rows})`));
    c.s(rowDescription([{ name: 'a', typeOid: 1016 }]));
    for (let i = 0; i < rows; i++) c.s(row);
    c.s(Buffer.concat([commandComplete(`SELECT ${rows}`), readyForQuery()]));
  }
  return pcapFile(frames);
}

/** `conns` connections x `perConn` answered SELECTs of `sqlBytes` characters (one row of `rowBytes`) in blocks never committed. */
export function openBlocks(conns = 40, perConn = 10, sqlBytes = 2000, rowBytes = 100): Buffer {
  return pcapFile(openBlockFrames(conns, perConn, sqlBytes, rowBytes));
}
