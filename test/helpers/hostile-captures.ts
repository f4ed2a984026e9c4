/**
 * Hostile capture shapes from issue 19, written by the tests and by `npm run fuzz` rather than
 * committed: many connections that never carry PostgreSQL, declared lengths that never arrive,
 * conflicting overlapping copies. Each returns a whole pcap file.
 */
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/net/segment.js';
import { BASE_TIME_US, pcapFile, tcpFrame, type FrameRecord } from './build-packets.js';
import { cstring, msg, startup } from './pg-builder.js';

/** The client address of connection i (spread over 10.x.y.z so ports never run out). */
function clientOf(i: number): { ip: string; port: number } {
  return { ip: `10.${1 + ((i >> 16) & 0x7f)}.${(i >> 8) & 0xff}.${i & 0xff}`, port: 40000 + (i % 20000) };
}

/** A v3 StartupMessage for `user`. */
export function startupMessage(user = 'u'): Buffer {
  return startup({ user });
}

/**
 * `n` connections to 10.0.0.2:5432 that each send one SYN ('syn'), or a SYN then a
 * StartupMessage never answered ('startup'). 100,000 SYN-only connections are a 7 MB file.
 */
export function manyConnections(n: number, kind: 'syn' | 'startup'): Buffer {
  const frames: FrameRecord[] = [];
  for (let i = 0; i < n; i++) {
    const c = clientOf(i);
    const timeUs = BASE_TIME_US + i * 10;
    frames.push({ data: tcpFrame({ src: c.ip, dst: '10.0.0.2', sport: c.port, dport: 5432, seq: 1000, flags: TCP_SYN }), timeUs });
    if (kind === 'startup') {
      frames.push({
        data: tcpFrame({ src: c.ip, dst: '10.0.0.2', sport: c.port, dport: 5432, seq: 1001, ack: 1, flags: TCP_PSH | TCP_ACK, payload: startupMessage() }),
        timeUs: timeUs + 5,
      });
    }
  }
  return pcapFile(frames);
}

/**
 * `n` connections, each opened (SYN, SYN+ACK, StartupMessage, AuthenticationOk) and then sent a
 * DataRow header from the server that declares `declared` bytes followed by one byte of body,
 * and nothing more (issue 19: 10,000 of them declaring 60 MiB each took 78 s).
 */
export function declaredLengths(n: number, declared: number): Buffer {
  const frames: FrameRecord[] = [];
  const authOk = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]);
  const msg = Buffer.alloc(6);
  msg.write('D', 0, 'latin1');
  msg.writeUInt32BE(declared, 1);
  const startup = startupMessage();
  for (let i = 0; i < n; i++) {
    const c = clientOf(i);
    const t = BASE_TIME_US + i * 40;
    const fe = { src: c.ip, dst: '10.0.0.2', sport: c.port, dport: 5432 };
    const be = { src: '10.0.0.2', dst: c.ip, sport: 5432, dport: c.port };
    frames.push({ data: tcpFrame({ ...fe, seq: 1000, flags: TCP_SYN }), timeUs: t });
    frames.push({ data: tcpFrame({ ...be, seq: 5000, ack: 1001, flags: TCP_SYN | TCP_ACK }), timeUs: t + 1 });
    frames.push({ data: tcpFrame({ ...fe, seq: 1001, ack: 5001, flags: TCP_PSH | TCP_ACK, payload: startup }), timeUs: t + 2 });
    frames.push({ data: tcpFrame({ ...be, seq: 5001, ack: 1001 + startup.length, flags: TCP_PSH | TCP_ACK, payload: Buffer.concat([authOk, msg]) }), timeUs: t + 3 });
  }
  return pcapFile(frames);
}

/**
 * `n` connections whose client sends a Query twice with different bytes: first its tail out of
 * order (`'EVIL'`), then the whole of it in order (`'GOOD'`), the evasion of issue 19.
 */
export function conflictingOverlaps(n: number): Buffer {
  const frames: FrameRecord[] = [];
  const authOk = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5a, 0, 0, 0, 5, 0x49]);
  const startup = startupMessage();
  const query = (word: string): Buffer => msg('Q', cstring(`SELECT '${word}'`));
  const good = query('OOO_GOOD');
  const evil = query('OOO_EVIL');
  for (let i = 0; i < n; i++) {
    const c = clientOf(i);
    const t = BASE_TIME_US + i * 60;
    const fe = { src: c.ip, dst: '10.0.0.2', sport: c.port, dport: 5432 };
    const be = { src: '10.0.0.2', dst: c.ip, sport: 5432, dport: c.port };
    const q0 = 1001 + startup.length;
    frames.push({ data: tcpFrame({ ...fe, seq: 1000, flags: TCP_SYN }), timeUs: t });
    frames.push({ data: tcpFrame({ ...be, seq: 5000, ack: 1001, flags: TCP_SYN | TCP_ACK }), timeUs: t + 1 });
    frames.push({ data: tcpFrame({ ...fe, seq: 1001, ack: 5001, flags: TCP_PSH | TCP_ACK, payload: startup }), timeUs: t + 2 });
    frames.push({ data: tcpFrame({ ...be, seq: 5001, ack: q0, flags: TCP_PSH | TCP_ACK, payload: authOk }), timeUs: t + 3 });
    frames.push({ data: tcpFrame({ ...fe, seq: q0 + 8, ack: 5001 + authOk.length, flags: TCP_PSH | TCP_ACK, payload: evil.subarray(8) }), timeUs: t + 4 });
    frames.push({ data: tcpFrame({ ...fe, seq: q0, ack: 5001 + authOk.length, flags: TCP_PSH | TCP_ACK, payload: good }), timeUs: t + 5 });
  }
  return pcapFile(frames);
}

/** One of the shapes above with a size from `r` (a number in [0, 1)), for the fuzzer. */
export function hostileShape(r: number, pick: number): { name: string; data: Buffer } {
  const n = 100 + Math.floor(r * 400);
  switch (pick % 4) {
    case 0: return { name: `hostile:syn-only x${n}`, data: manyConnections(n, 'syn') };
    case 1: return { name: `hostile:startup-only x${n}`, data: manyConnections(n, 'startup') };
    case 2: return { name: `hostile:declared-lengths x${n}`, data: declaredLengths(n, 4 + Math.floor(r * 64 * 1024 * 1024)) };
    default: return { name: `hostile:conflicting-overlaps x${n}`, data: conflictingOverlaps(n) };
  }
}
