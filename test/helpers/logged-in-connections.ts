/**
 * Made-up TCP connections, each opened with a handshake and a trust login, whose frames are kept
 * in the order the test adds them. The pooler and budget tests build their captures with it.
 */
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/net/segment.js';
import { tcpFrame } from './build-packets.js';
import { authentication, backendKeyData, readyForQuery, startup } from './pg-builder.js';

/** A frontend payload is cut into segments of this size, so that no frame passes an IPv4 packet's 65,535 bytes. */
const SEGMENT = 60_000;

export class LoggedInConnections {
  readonly frames: Buffer[] = [];
  private nextPort = 40000;
  private nextPid = 100;

  /** Opens a connection; c(payload) sends from the client, s(payload) from the server. */
  conn(client: string, server: string, dport: number): { c: (p: Buffer) => void; s: (p: Buffer) => void } {
    const sport = this.nextPort++;
    let cseq = 1000;
    let sseq = 9000;
    this.frames.push(tcpFrame({ src: client, dst: server, sport, dport, seq: cseq++, flags: TCP_SYN }));
    this.frames.push(tcpFrame({ src: server, dst: client, sport: dport, dport: sport, seq: sseq++, ack: cseq, flags: TCP_SYN | TCP_ACK }));
    const c = (payload: Buffer): void => {
      for (let off = 0; off < payload.length; off += SEGMENT) {
        const part = payload.subarray(off, off + SEGMENT);
        this.frames.push(tcpFrame({ src: client, dst: server, sport, dport, seq: cseq, ack: sseq, flags: TCP_PSH | TCP_ACK, payload: part }));
        cseq += part.length;
      }
    };
    const s = (payload: Buffer): void => {
      this.frames.push(tcpFrame({ src: server, dst: client, sport: dport, dport: sport, seq: sseq, ack: cseq, flags: TCP_PSH | TCP_ACK, payload }));
      sseq += payload.length;
    };
    c(startup({ user: 'app', database: 'db' }));
    s(Buffer.concat([authentication(0), backendKeyData(this.nextPid++, Buffer.alloc(4, 7)), readyForQuery()]));
    return { c, s };
  }
}
