/**
 * What a connection costs before it carries PostgreSQL (issue 19: 100,000 SYN-only or
 * startup-only connections were processed at 1-2 MB/s of capture, the time going to per-connection
 * set-up and the garbage collector). Heap figures are V8's used heap after a full collection,
 * divided by the connections: no clock is read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Packet } from '../src/capture/packet.js';
import { TcpDecoder } from '../src/net/decoder.js';
import { TCP_ACK, TCP_SYN } from '../src/net/segment.js';
import { PacketPipeline } from '../src/pipeline/analyze.js';
import type { OutRecord } from '../src/pipeline/events.js';
import { FlowTable } from '../src/reassembly/flow-table.js';
import type { ConnectionEnd, ConnectionInfo, ConnectionSink, StreamConsumer } from '../src/reassembly/types.js';
import { manyConnections } from './helpers/hostile-captures.js';
import { Recorder, tcpSeg } from './helpers/reassembly-recorder.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function usedAfterGc(): number {
  gc();
  gc();
  return getHeapStatistics().used_heap_size;
}

/** The packets of a classic pcap file (hostile-captures.ts writes Ethernet, microseconds). */
function packets(file: Buffer): Packet[] {
  const out: Packet[] = [];
  for (let o = 24, frame = 1; o + 16 <= file.length; frame++) {
    const cap = file.readUInt32LE(o + 8);
    const data = file.subarray(o + 16, o + 16 + cap);
    out.push({ frame, timeUs: file.readUInt32LE(o) * 1e6 + file.readUInt32LE(o + 4), linkType: 1, data, origLen: cap, interfaceId: 0, fileOffset: o });
    o += 16 + cap;
  }
  return out;
}

class CountingConsumer implements StreamConsumer {
  opened = 0;
  unopened: ConnectionInfo[] = [];
  open(): ConnectionSink {
    this.opened++;
    return { data: () => undefined, close: () => undefined };
  }
  closeUnopened(conn: ConnectionInfo, end: ConnectionEnd): void {
    assert.equal(end.reason, 'capture-end');
    this.unopened.push(conn);
  }
}

test('a connection that never carried a byte ends without a sink being opened, and its TCP state stays under 1,100 bytes', () => {
  const N = 20_000;
  const pkts = packets(manyConnections(N, 'syn'));
  const dec = new TcpDecoder(() => undefined);
  // A first table of the same, so that compiled code and type feedback are not counted.
  const warm = new FlowTable(new CountingConsumer(), () => undefined);
  for (const p of pkts.slice(0, 2_000)) warm.segment(dec.decode(p)!);
  const consumer = new CountingConsumer();
  const ft = new FlowTable(consumer, () => undefined);
  const before = usedAfterGc();
  for (const p of pkts) {
    const s = dec.decode(p);
    if (s) ft.segment(s);
  }
  const perConnection = (usedAfterGc() - before) / N;
  assert.equal(ft.connections, N);
  // Before (session 6): 1,330 bytes (a ports Map per address pair, two Delivery objects made up front).
  assert.ok(perConnection < 1_100, `${perConnection.toFixed(0)} bytes per SYN-only connection`);
  ft.finish(pkts.length + 1, 0);
  assert.equal(consumer.opened, 0);
  assert.equal(consumer.unopened.length, N);
  assert.deepEqual(consumer.unopened.slice(0, 3).map((c) => c.id), [0, 1, 2]);
});

test('connections between the same two addresses: found by port, removed and re-added one by one', () => {
  const rec = new Recorder();
  const ft = new FlowTable(rec, rec.onAnomaly);
  let f = 0;
  const seg = (s: Parameters<typeof tcpSeg>[0]): void => ft.segment(tcpSeg(s, ++f));
  for (const port of [40000, 40001, 40002]) seg({ seq: 100, flags: TCP_SYN, clientPort: port });
  assert.equal(ft.connections, 3);
  seg({ seq: 101, data: 'b', clientPort: 40001 });
  seg({ seq: 101, data: 'a', clientPort: 40000 });
  seg({ seq: 101, data: 'c', clientPort: 40002 });
  // Port reuse on 40000 (new ISN): the old connection ends, a new one takes its place.
  seg({ seq: 9000, flags: TCP_SYN, clientPort: 40000 });
  seg({ seq: 9001, data: 'A', clientPort: 40000 });
  seg({ seq: 102, data: 'b2', clientPort: 40001 });
  assert.equal(ft.connections, 3);
  ft.finish(++f, f * 1000);
  assert.deepEqual(rec.conns.map((c) => [c.info.client.port, c.deliveries.map((d) => d.bytes).join(''), c.end?.reason]), [
    [40000, 'a', 'port-reuse'], [40001, 'bb2', 'capture-end'], [40002, 'c', 'capture-end'], [40000, 'A', 'capture-end'],
  ]);
});

/** Every record of a pipeline run over `pkts`, as JSON lines; `opened`: end data-less connections through open().close(). */
async function records(pkts: Packet[], opened: boolean): Promise<string[]> {
  const out: string[] = [];
  const pipeline = new PacketPipeline({ record: (r: OutRecord) => void out.push(JSON.stringify(r)) }, { messages: false });
  if (opened) Object.defineProperty(pipeline.analyzer, 'closeUnopened', { value: undefined });
  for (const p of pkts) pipeline.packet(p);
  await pipeline.finish();
  return out;
}

test('a data-less connection gets the same records without a PgConnection: session record for a SYN or a server port, nothing for a mid-stream flow elsewhere', async () => {
  const { tcpFrame } = await import('./helpers/build-packets.js');
  const frames = [
    tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 5432, seq: 1, flags: TCP_SYN }),
    tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40001, dport: 5432, seq: 1, ack: 1, flags: TCP_ACK }),
    tcpFrame({ src: '10.0.0.1', dst: '10.0.0.3', sport: 40002, dport: 80, seq: 1, ack: 1, flags: TCP_ACK }),
    tcpFrame({ src: '10.0.0.1', dst: '10.0.0.3', sport: 40003, dport: 5555, seq: 1, flags: TCP_SYN }),
  ];
  const pkts = frames.map((data, i): Packet => ({ frame: i + 1, timeUs: 1.7e15 + i, linkType: 1, data, origLen: data.length, interfaceId: 0, fileOffset: -1 }));
  const lean = await records(pkts, false);
  assert.deepEqual(lean, await records(pkts, true));
  assert.deepEqual(lean.map((l) => JSON.parse(l) as { kind: string; session: number }).map((r) => [r.kind, r.session]), [['session', 0], ['session', 1], ['session', 3]]);
});

test('a connection that sent its StartupMessage holds under 5,000 bytes until it ends', async () => {
  const N = 5_000;
  const pkts = packets(manyConnections(N, 'startup'));
  let n = 0;
  const warm = new PacketPipeline({ record: () => undefined }, { messages: false, queryDetail: 'summary' });
  for (const p of pkts.slice(0, 1_000)) warm.packet(p);
  await warm.finish();
  const pipeline = new PacketPipeline({ record: () => void n++ }, { messages: false, queryDetail: 'summary' });
  const before = usedAfterGc();
  for (const p of pkts) pipeline.packet(p);
  const perConnection = (usedAfterGc() - before) / N;
  assert.equal(pipeline.analyzer.connections, N);
  // Before (session 6): 6,957 bytes (framer event closures; the statement table with three empty Maps, the request queue and the outbox made up front; Delivery objects).
  assert.ok(perConnection < 5_000, `${perConnection.toFixed(0)} bytes per startup-only connection`);
  await pipeline.finish();
  assert.equal(n, N);
});
