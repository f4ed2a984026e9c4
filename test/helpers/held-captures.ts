/** Captures of transaction blocks left open (test/held-records.test.ts, and docs/BENCHMARK.md's peak RSS runs). */
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/net/segment.js';
import { BASE_TIME_US, tcpFrame, type FrameRecord } from './build-packets.js';
import { authentication, commandComplete, dataRow, query, readyForQuery, rowDescription, startup } from './pg-builder.js';

/**
 * `conns` connections that each log in, BEGIN, and run `perConn` SELECTs of `sqlBytes`
 * characters, each answered with one row of `rowBytes` and ReadyForQuery 'T', interleaved over
 * the connections, never committed nor closed.
 */
export function openBlocks(conns: number, perConn: number, sqlBytes: number, rowBytes: number): FrameRecord[] {
  const frames: FrameRecord[] = [];
  const cseq: number[] = [];
  const sseq: number[] = [];
  let t = BASE_TIME_US;
  const ends = (c: number) => {
    const cli = `10.20.${c >> 8}.${c & 255}`;
    const port = 30000 + (c % 20000);
    return { fe: { src: cli, dst: '10.20.255.1', sport: port, dport: 5432 }, be: { src: '10.20.255.1', dst: cli, sport: 5432, dport: port } };
  };
  const c2s = (c: number, payload: Buffer) => {
    frames.push({ data: tcpFrame({ ...ends(c).fe, seq: cseq[c]!, flags: TCP_PSH | TCP_ACK, payload }), timeUs: t++ });
    cseq[c]! += payload.length;
  };
  const s2c = (c: number, payload: Buffer) => {
    frames.push({ data: tcpFrame({ ...ends(c).be, seq: sseq[c]!, flags: TCP_PSH | TCP_ACK, payload }), timeUs: t++ });
    sseq[c]! += payload.length;
  };
  for (let c = 0; c < conns; c++) {
    const e = ends(c);
    frames.push({ data: tcpFrame({ ...e.fe, seq: 1000, flags: TCP_SYN }), timeUs: t++ });
    frames.push({ data: tcpFrame({ ...e.be, seq: 5000, ack: 1001, flags: TCP_SYN | TCP_ACK }), timeUs: t++ });
    cseq[c] = 1001;
    sseq[c] = 5001;
    c2s(c, startup({ user: 'u', database: 'd' }));
    s2c(c, Buffer.concat([authentication(0), readyForQuery()]));
    c2s(c, query('BEGIN'));
    s2c(c, Buffer.concat([commandComplete('BEGIN'), readyForQuery('T')]));
  }
  const answer = Buffer.concat([rowDescription([{ name: 'v', typeOid: 25 }]), dataRow(['r'.repeat(rowBytes)]), commandComplete('SELECT 1'), readyForQuery('T')]);
  for (let k = 0; k < perConn; k++) {
    for (let c = 0; c < conns; c++) {
      const head = `SELECT /* ${c}.${k} */ '`;
      c2s(c, query(head + 'q'.repeat(Math.max(0, sqlBytes - head.length - 1)) + "'"));
      s2c(c, answer);
    }
  }
  return frames;
}

