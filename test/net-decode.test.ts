import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Anomaly } from '../src/core/anomaly.js';
import type { Packet } from '../src/capture/packet.js';
import { TcpDecoder, decodeTcp } from '../src/net/decoder.js';
import { formatIpv6 } from '../src/net/address.js';
import { TCP_ACK, TCP_PSH, TCP_SYN, type TcpSegment } from '../src/net/segment.js';
import { LINK_TYPE, ipv6Bytes, linkFrame, ipPacket, tcpFrame, udpFrame, tcpSegmentBytes, type Link, type TcpFrameSpec } from './helpers/build-packets.js';

function packet(data: Buffer, linkType: number, extra: Partial<Packet> = {}): Packet {
  return { frame: 7, timeUs: 1_000_000, linkType, data, origLen: data.length, interfaceId: 0, fileOffset: -1, ...extra };
}

function decodeOne(data: Buffer, linkType: number, extra: Partial<Packet> = {}): { seg: TcpSegment | null; anomalies: Anomaly[] } {
  const anomalies: Anomaly[] = [];
  const seg = decodeTcp(packet(data, linkType, extra), (a) => anomalies.push(a));
  return { seg, anomalies };
}

const links: Link[] = ['ethernet', 'sll', 'sll2', 'null', 'null-be', 'loop', 'loop-le', 'raw', 'ipv4', 'ipv6'];
const addrs = [
  { src: '192.168.1.10', dst: '10.0.0.254' },
  { src: '2001:db8::1', dst: 'fe80::abcd:12:0:1' },
];

for (const link of links) {
  for (const a of addrs) {
    const v6 = a.src.includes(':');
    if ((link === 'ipv4' && v6) || (link === 'ipv6' && !v6)) continue;
    test(`${link} / IPv${v6 ? 6 : 4} / TCP`, () => {
      const spec: TcpFrameSpec = { ...a, sport: 5432, dport: 51234, seq: 0xfffffff0, ack: 0x80000001, flags: TCP_PSH | TCP_ACK, payload: 'Z\x00\x00\x00\x05I', link };
      const { seg, anomalies } = decodeOne(tcpFrame(spec), LINK_TYPE[link]);
      assert.deepEqual(anomalies, []);
      assert.ok(seg);
      assert.equal(seg.frame, 7);
      assert.equal(seg.timeUs, 1_000_000);
      assert.equal(seg.ipVersion, v6 ? 6 : 4);
      assert.equal(seg.src, a.src);
      assert.equal(seg.dst, a.dst);
      assert.equal(seg.srcPort, 5432);
      assert.equal(seg.dstPort, 51234);
      assert.equal(seg.seq, 0xfffffff0);
      assert.equal(seg.ack, 0x80000001);
      assert.equal(seg.flags, TCP_PSH | TCP_ACK);
      assert.equal(seg.payload.toString('latin1'), 'Z\x00\x00\x00\x05I');
      assert.equal(seg.missing, 0);
    });
  }
}

test('raw IP under the platform DLT values 12 and 14', () => {
  for (const lt of [12, 14]) {
    const { seg } = decodeOne(tcpFrame({ link: 'raw', payload: 'x' }), lt);
    assert.equal(seg?.payload.toString(), 'x');
  }
});

test('Ethernet VLAN stacks: 802.1Q, QinQ, three tags, old 0x9100 tags', () => {
  for (const vlans of [[10], [100, 200], [1, 2, 3]]) {
    for (const a of addrs) {
      const { seg, anomalies } = decodeOne(tcpFrame({ ...a, vlans, payload: 'vlan' }), 1);
      assert.deepEqual(anomalies, []);
      assert.equal(seg?.payload.toString(), 'vlan', `vlans ${vlans}`);
      assert.equal(seg?.src, a.src);
    }
  }
  const f = tcpFrame({ vlans: [5, 6], payload: 'old' });
  f.writeUInt16BE(0x9100, 12);
  assert.equal(decodeOne(f, 1).seg?.payload.toString(), 'old');
});

test('VLAN tag cut off is malformed (or truncated when snaplen cut it)', () => {
  const f = tcpFrame({ vlans: [5] }).subarray(0, 16);
  assert.equal(decodeOne(f, 1).anomalies[0]?.code, 'malformed-packet');
  assert.equal(decodeOne(f, 1, { origLen: 80 }).anomalies[0]?.code, 'packet-truncated');
});

test('PPPoE session and MPLS inside Ethernet', () => {
  const ip = ipPacket({}, tcpSegmentBytes({}, Buffer.from('pppoe')));
  const pppoe = Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0x64, 0x11, 0, 0, 1, 0, ip.length + 2, 0, 0x21]), ip]);
  assert.equal(decodeOne(pppoe, 1).seg?.payload.toString(), 'pppoe');
  const mpls = Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0x47, 0, 0x10, 0x00, 64, 0, 0x20, 0x01, 64]), ip]);
  assert.equal(decodeOne(mpls, 1).seg?.payload.toString(), 'pppoe');
});

test('IPv4 options and TCP options are skipped', () => {
  const ipOptions = Buffer.from([0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00]); // router alert, NOPs, end
  const tcpOptions = Buffer.from([2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
  const { seg, anomalies } = decodeOne(tcpFrame({ ipOptions, options: tcpOptions, flags: TCP_SYN, payload: 'opts' }), 1);
  assert.deepEqual(anomalies, []);
  assert.equal(seg?.payload.toString(), 'opts');
  assert.equal(seg?.flags, TCP_SYN);
});

test('IPv6 extension headers are skipped; an atomic fragment is decoded', () => {
  const cases = [
    [{ type: 0 }],
    [{ type: 0 }, { type: 60, length: 16 }, { type: 43, length: 24 }],
    [{ type: 51, length: 24 }],
    [{ type: 44 }],
    [{ type: 60 }, { type: 44 }, { type: 60 }],
  ];
  for (const ipv6ExtHeaders of cases) {
    const { seg, anomalies } = decodeOne(tcpFrame({ src: '::1', dst: '::2', ipv6ExtHeaders, payload: 'ext' }), 1);
    assert.deepEqual(anomalies, [], JSON.stringify(ipv6ExtHeaders));
    assert.equal(seg?.payload.toString(), 'ext');
  }
});

test('fragments are reported, not decoded; non-TCP fragments are ignored', () => {
  for (const spec of [{ moreFragments: true }, { fragmentOffset: 185 }] as TcpFrameSpec[]) {
    const { seg, anomalies } = decodeOne(tcpFrame({ ...spec, payload: 'frag' }), 1);
    assert.equal(seg, null);
    assert.deepEqual(anomalies.map((a) => [a.code, a.frame]), [['ip-fragment', 7]]);
  }
  for (const frag of [{ type: 44, moreFragments: true }, { type: 44, fragmentOffset: 3 }]) {
    const { seg, anomalies } = decodeOne(tcpFrame({ src: '::1', dst: '::2', ipv6ExtHeaders: [frag] }), 1);
    assert.equal(seg, null);
    assert.deepEqual(anomalies.map((a) => a.code), ['ip-fragment']);
  }
  assert.deepEqual(decodeOne(udpFrame({ moreFragments: true }), 1).anomalies, []);
});

test('non-TCP packets: null and no anomaly', () => {
  const arp = Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x06]), Buffer.alloc(46)]);
  const ethLen = Buffer.concat([Buffer.from([1, 0x80, 0xc2, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0x00, 0x26]), Buffer.alloc(46)]); // 802.3 + LLC (STP)
  const icmp = linkFrame(ipPacket({ protocol: 1 }, Buffer.alloc(8)));
  const esp = linkFrame(ipPacket({ src: '::1', dst: '::2', protocol: 50 }, Buffer.alloc(16)));
  const nullOther = Buffer.concat([Buffer.from([7, 0, 0, 0]), Buffer.alloc(40)]);
  for (const [data, lt] of [[arp, 1], [ethLen, 1], [icmp, 1], [esp, 1], [udpFrame(), 1], [udpFrame({ src: '::1', dst: '::2' }), 1], [nullOther, 0]] as [Buffer, number][]) {
    const { seg, anomalies } = decodeOne(data, lt);
    assert.equal(seg, null);
    assert.deepEqual(anomalies, []);
  }
});

test('payload is clipped to the IP length: Ethernet padding and FCS are not payload', () => {
  const f = tcpFrame({ payload: 'ab', trailer: Buffer.from([0xde, 0xad, 0xbe, 0xef]) });
  assert.equal(f.length, 64); // padded to 60, plus FCS
  const { seg } = decodeOne(f, 1);
  assert.equal(seg?.payload.toString(), 'ab');
  assert.equal(seg?.missing, 0);
});

test('missing = payload bytes the IP length promises but snaplen cut', () => {
  const full = tcpFrame({ payload: Buffer.alloc(1000, 0x41) });
  const cut = full.subarray(0, 14 + 20 + 20 + 100);
  const { seg, anomalies } = decodeOne(cut, 1, { origLen: full.length });
  assert.deepEqual(anomalies, []);
  assert.equal(seg?.payload.length, 100);
  assert.equal(seg?.missing, 900);
  // Cut inside the TCP options: a segment with no payload, all of it missing.
  const opts = tcpFrame({ options: Buffer.alloc(12, 1), payload: Buffer.alloc(50) });
  const r = decodeOne(opts.subarray(0, 14 + 20 + 24), 1, { origLen: opts.length });
  assert.equal(r.seg?.payload.length, 0);
  assert.equal(r.seg?.missing, 50);
});

test('segmentation offload: IPv4 total length 0 means the frame is the packet', () => {
  const f = tcpFrame({ ipLength: 0, payload: Buffer.alloc(3000, 1) });
  const { seg, anomalies } = decodeOne(f, 1);
  assert.deepEqual(anomalies, []);
  assert.equal(seg?.payload.length, 3000);
});

test('malformed headers: one malformed-packet anomaly each, with the frame', () => {
  const good = tcpFrame({ payload: 'x' });
  const bad: [string, Buffer, number][] = [];
  bad.push(['short Ethernet', good.subarray(0, 10), 1]);
  bad.push(['short SLL', Buffer.alloc(12), 113]);
  bad.push(['short SLL2', Buffer.alloc(12), 276]);
  bad.push(['short NULL', Buffer.alloc(2), 0]);
  bad.push(['empty raw', Buffer.alloc(0), 101]);
  bad.push(['raw version 5', Buffer.from([0x50, 0, 0, 0]), 101]);
  let b: Buffer = Buffer.from(good);
  b[14] = 0x44; // IHL 4
  bad.push(['IHL under 5', b, 1]);
  b = Buffer.from(good);
  b[14] = 0x4f; // IHL 15 > total
  b.writeUInt16BE(40, 16);
  bad.push(['IHL past total length', b, 1]);
  b = Buffer.from(good);
  b.writeUInt16BE(10, 16); // total < IHL
  bad.push(['total under IHL', b, 1]);
  b = Buffer.from(good);
  b.writeUInt16BE(30, 16); // no room for TCP
  bad.push(['no room for TCP', b, 1]);
  b = Buffer.from(good);
  b[14 + 20 + 12] = 0x30; // TCP offset 3
  bad.push(['TCP offset under 5', b, 1]);
  b = Buffer.from(good);
  b[14 + 20 + 12] = 0xf0; // TCP offset 15 > payload
  bad.push(['TCP offset past IP length', b, 1]);
  b = tcpFrame({ src: '::1', dst: '::2', ipv6ExtHeaders: [{ type: 0, length: 16 }] });
  b[14 + 40 + 1] = 200; // hop-by-hop length far past the packet
  bad.push(['IPv6 extension past the packet', b, 1]);
  b = tcpFrame({ src: '::1', dst: '::2' });
  b[14] = 0x40;
  bad.push(['IPv6 ethertype, version 4', b, 1]);
  for (const [name, data, lt] of bad) {
    const { seg, anomalies } = decodeOne(data, lt);
    assert.equal(seg, null, name);
    assert.deepEqual(anomalies.map((a) => [a.code, a.frame]), [['malformed-packet', 7]], name);
  }
});

test('snaplen-cut headers are packet-truncated', () => {
  const good = tcpFrame({ payload: 'x'.repeat(100) });
  for (const n of [10, 20, 40, 50]) {
    const { seg, anomalies } = decodeOne(good.subarray(0, n), 1, { origLen: good.length });
    assert.equal(seg, null);
    assert.deepEqual(anomalies.map((a) => a.code), ['packet-truncated'], `cut at ${n}`);
  }
});

test('unsupported link type: one anomaly per interface, not per packet', () => {
  const anomalies: Anomaly[] = [];
  const dec = new TcpDecoder((a) => anomalies.push(a));
  const f = tcpFrame();
  for (let i = 0; i < 5; i++) {
    assert.equal(dec.decode(packet(f, 147, { interfaceId: 0, frame: i + 1 })), null);
    assert.equal(dec.decode(packet(f, 147, { interfaceId: 2, frame: i + 1 })), null);
  }
  assert.deepEqual(anomalies.map((a) => [a.code, a.frame]), [['unsupported-link-type', 1], ['unsupported-link-type', 1]]);
  assert.match(anomalies[0]!.reason, /147/);
  assert.deepEqual(dec.stats, { packets: 10, tcp: 0, other: 8, anomalies: 2 });
});

test('TcpDecoder reuses its segment object; decodeTcp returns its own', () => {
  const dec = new TcpDecoder(() => assert.fail('no anomaly'));
  const a = dec.decode(packet(tcpFrame({ seq: 1 }), 1));
  const b = dec.decode(packet(tcpFrame({ seq: 2 }), 1));
  assert.equal(a, b);
  assert.equal(b?.seq, 2);
  const c = decodeTcp(packet(tcpFrame({ seq: 3 }), 1), () => {});
  const d = decodeTcp(packet(tcpFrame({ seq: 4 }), 1), () => {});
  assert.notEqual(c, d);
  assert.equal(c?.seq, 3);
});

test('address cache: same address, same string; colliding addresses stay right', () => {
  const dec = new TcpDecoder(() => {});
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const src = `10.${(i >> 8) & 255}.${i & 255}.1`;
    const seg = dec.decode(packet(tcpFrame({ src, dst: '10.0.0.2' }), 1));
    assert.equal(seg?.src, src);
    seen.add(seg!.dst);
    const v6 = `2001:db8::${(i + 1).toString(16)}`;
    assert.equal(dec.decode(packet(tcpFrame({ src: v6, dst: '::1' }), 1))?.src, v6);
  }
  assert.deepEqual([...seen], ['10.0.0.2']);
});

test('IPv6 text is RFC 5952', () => {
  const cases: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of equal runs
    ['FE80:0:0:0:ABCD:0012:0:1', 'fe80::abcd:12:0:1'],
    ['0:0:0:0:0:ffff:c000:0201', '::ffff:192.0.2.1'],
  ];
  for (const [input, want] of cases) assert.equal(formatIpv6(ipv6Bytes(input), 0), want, input);
});

test('an IP length past the frame on the wire: malformed-packet, and the frame\'s bytes are decoded', () => {
  const f = tcpFrame({ payload: 'abc', ipLength: 1000 });
  const { seg, anomalies } = decodeOne(f, 1);
  assert.deepEqual(anomalies.map((a) => a.code), ['malformed-packet']);
  // The Ethernet frame was padded to 60 bytes; without a trustworthy IP length the padding is payload.
  assert.equal(seg?.payload.length, 60 - 14 - 40);
  assert.equal(seg?.missing, 0);
  // Cut by snaplen: the wire length bounds what is missing.
  const big = tcpFrame({ payload: Buffer.alloc(500), ipLength: 5000 });
  const r = decodeOne(big.subarray(0, 100), 1, { origLen: big.length });
  assert.equal(r.seg?.payload.length, 100 - 54);
  assert.equal(r.seg?.missing, big.length - 100);
});

test('TCP window and window scale: the scale is read from a SYN\'s options (after MSS, NOPs, SACK-permitted), never from other segments', () => {
  // MSS 65495, SACK permitted, timestamps, NOP, window scale 7: what Linux sends on loopback.
  const opts = Buffer.from([2, 4, 0xff, 0xd7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);
  const syn = decodeOne(tcpFrame({ flags: TCP_SYN, window: 65495, options: opts }), LINK_TYPE.ethernet).seg!;
  assert.equal(syn.window, 65495);
  assert.equal(syn.wscale, 7);
  const data = decodeOne(tcpFrame({ flags: TCP_ACK, window: 512, options: opts }), LINK_TYPE.ethernet).seg!;
  assert.equal(data.window, 512);
  assert.equal(data.wscale, -1);
  // A shift over 14 is taken as 14 (RFC 7323 section 2.3); a truncated option list is no scale.
  assert.equal(decodeOne(tcpFrame({ flags: TCP_SYN, options: Buffer.from([3, 3, 20]) }), LINK_TYPE.ethernet).seg!.wscale, 14);
  assert.equal(decodeOne(tcpFrame({ flags: TCP_SYN, options: Buffer.from([1, 1, 3, 9]) }), LINK_TYPE.ethernet).seg!.wscale, -1);
});
