/**
 * Writes a large classic pcap (Ethernet, IPv4, TCP) of PostgreSQL traffic for scale tests:
 * a few connections, each with a handshake, then simple queries answered with
 * RowDescription, DataRow, CommandComplete and ReadyForQuery, sequence numbers consistent.
 * Checksums are left zero (capture files from offloading NICs look the same).
 */
import { cstring, msg } from './pg-builder.js';
import { openSync, writeSync, closeSync } from 'node:fs';

const CLIENT_IP = [10, 1, 0, 2];
const SERVER_IP = [10, 1, 0, 1];

function answer(n: number): Buffer {
  const v = Buffer.from(String(n));
  const rowDesc = Buffer.concat([Buffer.from([0, 1]), cstring('n'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 23, 0, 4, 255, 255, 255, 255, 0, 0])]);
  const dataRow = Buffer.concat([Buffer.from([0, 1]), Buffer.from([0, 0, 0, v.length]), v]);
  return Buffer.concat([msg('T', rowDesc), msg('D', dataRow), msg('C', cstring('SELECT 1')), msg('Z', Buffer.from('I'))]);
}

class Writer {
  private readonly fd: number;
  private buf = Buffer.alloc(1 << 20);
  private used = 0;
  packets = 0;
  constructor(path: string) {
    this.fd = openSync(path, 'w');
    const g = Buffer.alloc(24);
    g.writeUInt32LE(0xa1b2c3d4, 0);
    g.writeUInt16LE(2, 4);
    g.writeUInt16LE(4, 6);
    g.writeUInt32LE(65535, 16);
    g.writeUInt32LE(1, 20);
    this.put(g);
  }
  private put(b: Buffer): void {
    if (this.used + b.length > this.buf.length) this.flush();
    b.copy(this.buf, this.used);
    this.used += b.length;
  }
  private flush(): void {
    writeSync(this.fd, this.buf, 0, this.used);
    this.used = 0;
  }
  packet(timeUs: number, fromClient: boolean, port: number, seq: number, ack: number, flags: number, payload: Buffer): void {
    const frame = Buffer.alloc(14 + 20 + 20 + payload.length);
    frame.writeUInt16BE(0x0800, 12);
    frame[14] = 0x45;
    frame.writeUInt16BE(20 + 20 + payload.length, 16);
    frame.writeUInt16BE(0x4000, 20);
    frame[22] = 64;
    frame[23] = 6;
    Buffer.from(fromClient ? CLIENT_IP : SERVER_IP).copy(frame, 26);
    Buffer.from(fromClient ? SERVER_IP : CLIENT_IP).copy(frame, 30);
    frame.writeUInt16BE(fromClient ? port : 5432, 34);
    frame.writeUInt16BE(fromClient ? 5432 : port, 36);
    frame.writeUInt32BE(seq >>> 0, 38);
    frame.writeUInt32BE(ack >>> 0, 42);
    frame[46] = 0x50;
    frame[47] = flags;
    frame.writeUInt16BE(65535, 48);
    payload.copy(frame, 54);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(timeUs / 1e6), 0);
    rec.writeUInt32LE(timeUs % 1e6, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    this.put(rec);
    this.put(frame);
    this.packets++;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

const SYN = 0x02;
const ACK = 0x10;
const PSH_ACK = 0x18;

/** Writes about `packets` packets to `path` over `connections` connections; returns the count written. */
export function writeBigCapture(path: string, packets: number, connections = 4): number {
  const w = new Writer(path);
  let t = Date.UTC(2024, 0, 1) * 1000;
  const conns = Array.from({ length: connections }, (_, i) => ({ port: 40000 + i, cseq: 1000 + i * 7919, sseq: 5000 + i * 104729 }));
  for (const c of conns) {
    w.packet(t += 10, true, c.port, c.cseq, 0, SYN, Buffer.alloc(0));
    w.packet(t += 10, false, c.port, c.sseq, c.cseq + 1, SYN | ACK, Buffer.alloc(0));
    c.cseq++;
    c.sseq++;
    w.packet(t += 10, true, c.port, c.cseq, c.sseq, ACK, Buffer.alloc(0));
    const startup = Buffer.concat([Buffer.from([0, 3, 0, 0]), cstring('user'), cstring('bench'), cstring('database'), cstring('big'), Buffer.from([0])]);
    const sm = Buffer.concat([Buffer.alloc(4), startup]);
    sm.writeUInt32BE(sm.length, 0);
    w.packet(t += 10, true, c.port, c.cseq, c.sseq, PSH_ACK, sm);
    c.cseq += sm.length;
    const ok = Buffer.concat([msg('R', Buffer.from([0, 0, 0, 0])), msg('Z', Buffer.from('I'))]);
    w.packet(t += 10, false, c.port, c.sseq, c.cseq, PSH_ACK, ok);
    c.sseq += ok.length;
  }
  let n = 0;
  while (w.packets + 2 <= packets) {
    const c = conns[n % conns.length] as (typeof conns)[number];
    const q = msg('Q', cstring(`SELECT ${n}`));
    w.packet(t += 20, true, c.port, c.cseq, c.sseq, PSH_ACK, q);
    c.cseq += q.length;
    const a = answer(n);
    w.packet(t += 80, false, c.port, c.sseq, c.cseq, PSH_ACK, a);
    c.sseq += a.length;
    n++;
  }
  w.close();
  return w.packets;
}
