/**
 * The packet path hands bytes on as ranges and makes Buffer views only when someone reads them
 * (PacketSegment.payload, StreamDelivery.bytes, FramedMessage.body). These tests hold the lazy
 * forms to what the eager ones were: the same bytes wherever they come from (in order, buffered
 * out of order, cut by retransmission overlaps, collected across frames), a stable view once
 * made, assignment that replaces the range; and classic pcap read in any chunk size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TcpDecoder, decodeTcp } from '../src/net/decoder.js';
import { PacketSegment, TCP_ACK, type TcpSegment } from '../src/net/segment.js';
import { FlowTable, StreamDelivery } from '../src/reassembly/index.js';
import type { ConnectionInfo, ConnectionSink, Delivery, StreamConsumer } from '../src/reassembly/types.js';
import { DirectionFramer, FramedMessage } from '../src/pg/framer.js';
import { pcapFile, tcpFrame, BASE_TIME_US } from './helpers/build-packets.js';
import { readAll } from './helpers/read-all.js';
import { prng } from './helpers/prng.js';
import { tempDir } from './helpers/temp-dir.js';
import { msg } from './helpers/pg-builder.js';

function packetOf(data: Buffer, frame = 1) {
  return { frame, timeUs: BASE_TIME_US + frame, linkType: 1, data, origLen: data.length, interfaceId: 0, fileOffset: -1 };
}

test('views: the decoder gives its payload as a range of the packet, viewed on demand', () => {
  const dec = new TcpDecoder(() => assert.fail('no anomaly'));
  const frame = tcpFrame({ payload: 'Q\0\0\0\x0dselect 1\0' });
  const seg = dec.decode(packetOf(frame));
  assert.ok(seg instanceof PacketSegment);
  assert.equal(seg.data, frame);
  assert.deepEqual(seg.data.subarray(seg.payloadStart, seg.payloadEnd), Buffer.from('Q\0\0\0\x0dselect 1\0'));
  assert.equal(seg.payload.toString('latin1'), 'Q\0\0\0\x0dselect 1\0');
  assert.equal(seg.payload, seg.payload, 'one view, made once');
  seg.payload = Buffer.from('xyz');
  assert.equal(seg.payloadEnd - seg.payloadStart, 3);
  assert.equal(seg.data.toString(), 'xyz');
  const plain = decodeTcp(packetOf(frame), () => undefined);
  assert.ok(plain !== null && !(plain instanceof PacketSegment));
  assert.equal(plain.payload.toString('latin1'), 'Q\0\0\0\x0dselect 1\0');
});

/** Records each direction's bytes both through the lazy view and through the range. */
class Both implements StreamConsumer {
  readonly viaBytes = new Map<string, Buffer[]>();
  readonly viaRange = new Map<string, Buffer[]>();
  open(info: ConnectionInfo): ConnectionSink {
    return {
      data: (d: Delivery) => {
        const key = `${info.id}/${d.dir}`;
        if (!this.viaBytes.has(key)) {
          this.viaBytes.set(key, []);
          this.viaRange.set(key, []);
        }
        this.viaBytes.get(key)!.push(Buffer.from(d.bytes));
        assert.ok(d instanceof StreamDelivery);
        this.viaRange.get(key)!.push(Buffer.from(d.data.subarray(d.start, d.end)));
        assert.equal(d.bytes.length, d.end - d.start);
      },
      close: () => undefined,
    };
  }
}

test('views: deliveries read as ranges equal their views, and equal the eager path, out of order and overlapped', () => {
  const rnd = prng(42);
  const stream = Buffer.alloc(20000);
  for (let i = 0; i < stream.length; i++) stream[i] = Math.floor(rnd() * 256);
  // Segments of random size, shuffled a little, some sent twice, some overlapping.
  const segs: Array<{ seq: number; len: number }> = [];
  for (let at = 0; at < stream.length;) {
    const len = Math.min(stream.length - at, 1 + Math.floor(rnd() * 1500));
    segs.push({ seq: at, len });
    if (rnd() < 0.1) segs.push({ seq: Math.max(0, at - 100), len: Math.min(stream.length - Math.max(0, at - 100), len + 150) });
    at += len;
  }
  for (let i = 0; i < segs.length - 1; i++) if (rnd() < 0.2) [segs[i], segs[i + 1]] = [segs[i + 1]!, segs[i]!];
  const dec = new TcpDecoder(() => undefined);
  const lazy = new Both();
  const eager = new Both();
  const ftLazy = new FlowTable(lazy, () => undefined, { serverPorts: [5432] });
  const ftEager = new FlowTable(eager, () => undefined, { serverPorts: [5432] });
  segs.forEach((s, i) => {
    const payload = stream.subarray(s.seq, s.seq + s.len);
    const seg = dec.decode(packetOf(tcpFrame({ seq: 1000 + s.seq, flags: TCP_ACK, payload }), i + 1))!;
    ftLazy.segment(seg);
    // The same segment as a plain object: the path every non-decoder caller takes.
    const plain: TcpSegment = { ...seg, payload: Buffer.from(seg.payload) };
    ftEager.segment(plain);
  });
  ftLazy.finish(segs.length + 1, 0);
  ftEager.finish(segs.length + 1, 0);
  for (const rec of [lazy, eager]) {
    for (const [k, parts] of rec.viaBytes) assert.deepEqual(Buffer.concat(parts), Buffer.concat(rec.viaRange.get(k)!), k);
  }
  assert.deepEqual([...lazy.viaBytes.keys()], [...eager.viaBytes.keys()]);
  for (const [k, parts] of lazy.viaBytes) assert.deepEqual(parts, eager.viaBytes.get(k), k);
  assert.deepEqual(Buffer.concat(lazy.viaBytes.get('0/frontend')!), stream);
});

test('views: a framed message answers bodyLength, firstByte, int32At0 and its source range like its body, however it was cut', () => {
  const msgs: Buffer[] = [];
  const bodies: Buffer[] = [];
  for (const [code, body] of [['R', Buffer.from([0, 0, 0, 10, 65])], ['D', Buffer.alloc(3000, 7)], ['Z', Buffer.from('I')], ['I', Buffer.alloc(0)]] as const) {
    msgs.push(msg(code, body));
    bodies.push(body);
  }
  const stream = Buffer.concat(msgs);
  for (const cut of [1, 3, 6, 700, stream.length]) {
    const seen: FramedMessage[] = [];
    const checks: string[] = [];
    const f = new DirectionFramer('backend', 'typed', {
      message: (m) => {
        seen.push(m);
        // Asked before the view exists, then compared with it.
        const len = m.bodyLength;
        const first = m.firstByte();
        const i32 = len >= 4 ? m.int32At0() : null;
        const range = Buffer.from(m.source.subarray(m.bodyStart, m.bodyEnd));
        const body = m.body;
        assert.deepEqual(body, range);
        assert.equal(m.body, body, 'one view, made once');
        assert.equal(len, body.length);
        assert.equal(first, body.length > 0 ? body[0] : -1);
        if (i32 !== null) assert.equal(i32, body.readInt32BE(0));
        checks.push(body.toString('hex'));
      },
      skipped: () => assert.fail('nothing skipped'),
      tooLarge: () => assert.fail('nothing too large'),
      notStartup: () => assert.fail('typed'),
    });
    for (let at = 0; at < stream.length; at += cut) {
      // Push through a range of a larger buffer, as the connection does.
      const wrapped = Buffer.concat([Buffer.from('pad'), stream.subarray(at, at + cut), Buffer.from('pad')]);
      f.push(wrapped, at + 1, 0, 3, wrapped.length - 3);
    }
    assert.deepEqual(checks, bodies.map((b) => b.toString('hex')), `cut ${cut}`);
    assert.deepEqual(seen.map((m) => m.code), ['R', 'D', 'Z', 'I']);
  }
  const m = new FramedMessage('frontend', 'Q', 9, Buffer.from('xxselect'), 2, 8, 0, 1, 0, 1, 0);
  m.body = Buffer.from('other');
  assert.equal(m.body.toString(), 'other');
  assert.equal(m.bodyLength, 5);
  assert.equal(m.firstByte(), 0x6f);
  assert.equal(m.source.subarray(m.bodyStart, m.bodyEnd).toString(), 'other');
});

test('views: classic pcap files read the same in any chunk size (records straddling reads)', async () => {
  const dir = tempDir('pgsniff-views-');
  const rnd = prng(7);
  const frames = Array.from({ length: 300 }, (_, i) => ({
    data: tcpFrame({ seq: i * 2000, payload: Buffer.alloc(Math.floor(rnd() * 1800), i & 0xff) }),
    timeUs: BASE_TIME_US + i,
  }));
  for (const opts of [{}, { nanos: true }, { bigEndian: true }]) {
    const path = join(dir, `f${JSON.stringify(opts).length}.pcap`);
    writeFileSync(path, pcapFile(frames, opts));
    const whole = await readAll(path);
    assert.equal(whole.packets.length, 300);
    for (const chunkSize of [16, 17, 100, 1000, 4096, 65536]) {
      assert.deepEqual(await readAll(path, { chunkSize }), whole, `chunk ${chunkSize}`);
    }
    // Byte-at-a-time reads on a dozen frames: every cut point of header and record, without
    // the hundreds of thousands of reads the whole file would take.
    const small = join(dir, `s${JSON.stringify(opts).length}.pcap`);
    writeFileSync(small, pcapFile(frames.slice(0, 12), opts));
    const smallWhole = await readAll(small);
    assert.equal(smallWhole.packets.length, 12);
    for (const chunkSize of [1, 7]) {
      assert.deepEqual(await readAll(small, { chunkSize }), smallWhole, `chunk ${chunkSize}`);
    }
  }
});
