/**
 * Issue 16, "what Wireshark and termshark users expect": the TCP/IP layer in the details tree
 * (addresses, ports, relative seq/ack, flags, window, payload length, reassembly's notes), the
 * Info column of frames without PostgreSQL (Wireshark's wording, TLS records named TLS), at
 * 80x24 and larger, in a real pseudo-terminal. The retransmission and the segment ahead of a
 * hole are built into a capture; tshark, where installed, must flag the same frames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTui, gotoFrame, tmuxAvailable, SKIP_NO_TMUX, type TmuxUi } from './helpers/tui-tmux.js';
import { conversation, pcapFile, type FrameRecord } from './helpers/build-packets.js';
import { startup, query, readyForQuery, commandComplete, rowDescription, dataRow, authentication } from './helpers/pg-builder.js';
import { projectRoot, SKIP_NO_TSHARK, tshark } from './helpers/public-captures.js';
import { width } from '../src/tui/term-width.js';

const skip = tmuxAvailable() ? false : SKIP_NO_TMUX;


/**
 * A connection whose query (split in two segments of 16 bytes) arrives second part first, then
 * the first part (out of order), and whose answer is sent twice (a retransmission). Frames:
 * 1-3 handshake, 4 startup, 5 auth+RFQ, 6 query part 2, 7 query part 1, 8 answer, 9 answer again.
 */
function lossyCapture(): Buffer {
  const sql = "SELECT '日本語🐘' AS v";
  const frames = conversation([
    { from: 'client', data: startup({ user: 'alice', database: 'db' }) },
    { from: 'server', data: Buffer.concat([authentication(0), readyForQuery()]) },
    { from: 'client', data: query(sql) },
    { from: 'server', data: Buffer.concat([rowDescription([{ name: 'v', typeOid: 25 }]), dataRow(['日本語🐘']), commandComplete('SELECT 1'), readyForQuery()]) },
  ], { mss: 16, close: 'none' });
  // The query's segments: after the handshake (3), the startup (its own segments) and the answer.
  const qlen = query(sql).length;
  const startLen = startup({ user: 'alice', database: 'db' }).length;
  const authLen = Buffer.concat([authentication(0), readyForQuery()]).length;
  const firstQ = 3 + Math.ceil(startLen / 16) + Math.ceil(authLen / 16);
  const qSegs = Math.ceil(qlen / 16);
  const out: FrameRecord[] = frames.slice(0, firstQ);
  // The query's second segment before its first.
  out.push(frames[firstQ + 1] as FrameRecord, frames[firstQ] as FrameRecord, ...frames.slice(firstQ + 2, firstQ + qSegs));
  const rest = frames.slice(firstQ + qSegs);
  out.push(...rest, rest[0] as FrameRecord);
  // Timestamps in order again (the reordering is of arrival, not of the clock); the copy a
  // retransmission timeout later (within 3 ms tshark calls it out of order).
  return pcapFile(out.map((f, i) => ({ data: f.data, timeUs: 1_700_000_000_000_000 + i * 1000 + (i === out.length - 1 ? 200_000 : 0) })));
}

function layout(): { file: string; dir: string; ahead: number; late: number; retrans: number; total: number } {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-tui-layers-'));
  const file = join(dir, 'lossy.pcap');
  const buf = lossyCapture();
  writeFileSync(file, buf);
  const startLen = startup({ user: 'alice', database: 'db' }).length;
  const authLen = Buffer.concat([authentication(0), readyForQuery()]).length;
  const firstQ = 3 + Math.ceil(startLen / 16) + Math.ceil(authLen / 16);
  // Frame numbers are 1-based.
  const total = Number(execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' }).trim().split('\n').length);
  return { file, dir, ahead: firstQ + 1, late: firstQ + 2, retrans: total, total };
}

function assertIntact(screen: string, cols: number): void {
  for (const [i, line] of screen.split('\n').slice(0, -1).entries()) {
    const l = line.trimEnd();
    if (/^[│┌└]/.test(l)) assert.equal(width(l), cols, `row ${i} is ${width(l)} columns:\n${screen}`);
  }
}

test('the TCP layer: ports, relative seq/ack, flags, window, length, and reassembly notes as tshark flags them', { skip: skip || (tshark() === null && SKIP_NO_TSHARK) }, async () => {
  const c = layout();
  try {
    // tshark's own analysis on the same file: the retransmission and the segment after a hole.
    const flagged = (f: string) => execFileSync('tshark', ['-r', c.file, '-Y', f, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' }).trim();
    assert.equal(flagged('tcp.analysis.retransmission'), String(c.retrans));
    assert.equal(flagged('tcp.analysis.lost_segment'), String(c.ahead));
    assert.equal(flagged('tcp.analysis.out_of_order'), String(c.late));
    for (const size of [{ width: 80, height: 24 }, { width: 160, height: 48 }]) {
      const ui = await openTui([c.file], size);
      try {
        let s = ui.screen();
        // Frames without PostgreSQL: Wireshark's Info line (cut at 80 columns, whole at 160).
        const wide = size.width >= 160;
        assert.match(s, wide ? /40000 → 5432 \[SYN\] Seq=0 Win=65535 Len=0/ : /40000 → 5432 \[SYN\] S…/);
        if (wide) assert.match(s, /5432 → 40000 \[SYN, ACK\] Seq=0 Ack=1 Win=65535 Len=0/);
        s = await gotoFrame(ui, c.ahead);
        assertIntact(s, size.width);
        assert.match(s, wide ? /\[TCP Previous segment not captured\] 40000 → 5432 \[PSH, ACK\] Seq=49 Ack=16/ : /\[TCP Previous segmen…/);
        // The TCP node opens by itself when reassembly has something to say; z shows the
        // details pane alone (at 80x24 it is five rows otherwise), z again gives the panes back.
        s = await ui.press('Tab', 'z');
        assertIntact(s, size.width);
        assert.match(s, wide ? /Transmission Control Protocol, Src Port: 40000, Dst Port: 5432, Seq: 49, Ack: 16, Len: 16/ : /Transmission Control Protocol, Src Port: 40000, Dst Port: 5432, Seq: 49, Ac…/);
        assert.match(s, /Sequence Number: 49 \(relative; raw 1049\)/);
        assert.match(s, /Reassembly: previous segment not captured/);
        assert.match(s, /Internet Protocol Version 4, Src: 10\.0\.0\.1, Dst: 10\.0\.0\.2/);
        s = await gotoFrame(ui, c.late);
        s = await ui.press('Tab', 'z');
        assert.match(s, /Reassembly: out of order: it fills a hole/);
        s = await gotoFrame(ui, c.retrans);
        assert.match(s, new RegExp(`^│\\s+${c.retrans} .*\\[TCP Retransmiss`, 'm'));
        s = await ui.press('Tab', 'z');
        assert.match(s, /Reassembly: retransmission: every byte of it was delivered before/);
        assert.match(s, /Sequence Number: 16 \(relative; raw 5016\)/);
        assert.match(s, /Acknowledgment Number: 66 \(relative; raw 1066\)/);
        assert.match(s, /Flags: 0x018 \(PSH, ACK\)/);
        assert.match(s, /Window: 65535 \(the field, unscaled\)/);
        assert.match(s, /Source Port: 5432/);
        assert.match(s, /TCP payload: 16 bytes/);
        // Frames, details, bytes: one pane maximised, the others reduced to their borders.
        assert.doesNotMatch(s, /^│0000 /m);
        assertIntact(s, size.width);
      } finally {
        ui.stop();
      }
    }
  } finally {
    rmSync(c.dir, { recursive: true, force: true });
  }
});

test('TLS records are named TLS in Info (content type), not TCP; the tree says which record', { skip }, async () => {
  const ui: TmuxUi = await openTui([join(projectRoot, 'samples', 'tls-13.pcap')], { width: 80, height: 24 });
  try {
    let s = ui.screen();
    s = await gotoFrame(ui, 8);
    assert.match(s, /^│\s+8 .*TLS Handshake, Len=2…│$/m);
    s = await gotoFrame(ui, 11);
    assert.match(s, /^│\s+11 .*TLS Application Dat/m);
    assert.doesNotMatch(s, /^│\s+11 .* TCP\s*│$/m);
    s = await ui.press('Tab', 'j', 'j', 'l', 'z');
    assert.match(s, /TLS: the payload begins with a record of content type 23 \(Application Dat/);
    assertIntact(s, 80);
  } finally {
    ui.stop();
  }
});
