import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FrameAt } from '../src/capture/frame-at.js';
import { isUserError } from '../src/core/errors.js';
import { pcapFile, pcapngFile, tcpFrame } from './helpers/build-packets.js';
import { readAll } from './helpers/read-all.js';
import { publicCaptures, publicCapture, SKIP_NO_PUBLIC } from './helpers/public-captures.js';
import { tempDir } from './helpers/temp-dir.js';

const dir = tempDir('pgsniff-frame-at-');
const frames = [tcpFrame({ payload: 'a' }), tcpFrame({ payload: 'bb'.repeat(300) }), tcpFrame({ link: 'sll', payload: 'ccc' })];

const files: [string, Buffer][] = [
  ['us-le.pcap', pcapFile(frames)],
  ['ns-be.pcap', pcapFile(frames, { nanos: true, bigEndian: true })],
  ['cut.pcap', pcapFile([frames[0]!, { data: frames[1]!.subarray(0, 40), origLen: frames[1]!.length }])],
  [
    'mixed.pcapng',
    Buffer.concat([
      pcapngFile([{ block: 'idb', linkType: 1 }, { block: 'epb', data: frames[0]! }, { block: 'spb', data: frames[1]! }]),
      pcapngFile([{ block: 'idb', linkType: 113 }, { block: 'opb', data: frames[2]! }, { block: 'epb', data: frames[0]! }], { bigEndian: true }),
    ]),
  ],
];

for (const [name, bytes] of files) {
  test(`FrameAt re-reads every frame of ${name} as readCapture delivered it`, async () => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    const r = await readAll(path);
    assert.ok(r.packets.length >= 2);
    const at = new FrameAt(path);
    for (const p of r.packets) assert.deepEqual(at.read(p.fileOffset), p.data, `frame ${p.frame}`);
    // Offsets that hold no packet record.
    for (const off of [-1, 0.5, 1, 3, bytes.length, bytes.length + 100]) assert.equal(at.read(off), null, `offset ${off}`);
    at.close();
    assert.equal(at.read(r.packets[0]!.fileOffset), null);
  });
}

test('FrameAt: missing and non-capture files are UserErrors', () => {
  assert.throws(() => new FrameAt(join(dir, 'nope.pcap')), (e) => isUserError(e) && e.code === 'ENOENT');
  const txt = join(dir, 'x.txt');
  writeFileSync(txt, 'hello world, not a capture');
  assert.throws(() => new FrameAt(txt), (e) => isUserError(e) && e.code === 'NOT_A_CAPTURE');
});

test('FrameAt on every public capture matches the stream reader', { skip: publicCaptures() === null ? SKIP_NO_PUBLIC : false }, async () => {
  for (const rel of publicCaptures()!) {
    const path = publicCapture(rel);
    const r = await readAll(path);
    const at = new FrameAt(path);
    for (const p of r.packets) assert.deepEqual(at.read(p.fileOffset), p.data, `${rel} frame ${p.frame}`);
    at.close();
  }
});
