/**
 * `pgsniff -i lo` on a terminal: the UI on a live capture of the loopback interface, while a
 * small PostgreSQL-speaking server in this process answers one client. Needs root (or
 * CAP_NET_RAW) and tcpdump (the capture process); skips, saying so, without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { TmuxUi, tmuxAvailable, SKIP_NO_TMUX } from './helpers/tui-tmux.js';
import { findTcpdump } from '../src/capture/live-source.js';
import { msg } from './helpers/pg-builder.js';

const skip = !tmuxAvailable() ? SKIP_NO_TMUX
  : findTcpdump() === null ? 'tcpdump (the capture process) is not installed (apt-get install tcpdump): live TUI test skipped'
  : process.getuid?.() !== 0 ? 'live capture needs root: live TUI test skipped'
  : false;

/** Just enough of a server: trust authentication, then one row for every Query. */
function fakeServer(): Promise<{ port: number; close: () => void }> {
  const server = createServer((sock: Socket) => {
    let started = false;
    sock.on('data', (d: Buffer) => {
      if (!started) {
        started = true;
        sock.write(Buffer.concat([msg('R', Buffer.from([0, 0, 0, 0])), msg('Z', Buffer.from('I'))]));
        return;
      }
      if (d[0] === 0x51) {
        const rowDesc = Buffer.concat([Buffer.from([0, 1]), Buffer.from('v\0'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 255, 255, 255, 255, 255, 255, 0, 0])]);
        const row = Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 4]), Buffer.from('live')]);
        sock.write(Buffer.concat([msg('T', rowDesc), msg('D', row), msg('C', Buffer.from('SELECT 1\0')), msg('Z', Buffer.from('I'))]));
      }
    });
    sock.on('error', () => sock.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ port: (server.address() as AddressInfo).port, close: () => server.close() });
    });
  });
}

function client(port: number, sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const params = Buffer.from('user\0live\0database\0db\0\0');
    const startup = Buffer.alloc(8);
    startup.writeUInt32BE(8 + params.length, 0);
    startup.writeUInt32BE(196608, 4);
    let step = 0;
    sock.on('connect', () => sock.write(Buffer.concat([startup, params])));
    sock.on('data', () => {
      step++;
      if (step === 1) sock.write(msg('Q', Buffer.from(sql + '\0')));
      else {
        sock.write(msg('X', Buffer.alloc(0)));
        sock.end();
      }
    });
    sock.on('close', () => resolve());
    sock.on('error', reject);
  });
}

test('pgsniff -i lo shows traffic as it happens, follows it, and stops on Ctrl-C', { skip, timeout: 60_000 }, async () => {
  const srv = await fakeServer();
  const ui = TmuxUi.start(['-i', 'lo', '-p', String(srv.port)], { script: '../cli/main.js' });
  try {
    let s = await ui.waitFor('● live', 10_000);
    assert.match(s, /pgsniff live: lo/);
    assert.match(s, /drops unknown|\d+ dropped/);
    // libpcap needs a moment after opening before it delivers.
    await new Promise((r) => setTimeout(r, 500));
    await client(srv.port, "SELECT 'live test'");
    s = await ui.waitFor(/>Q Query "SELECT 'live test'"/, 10_000);
    assert.match(s, />@ StartupMessage user=live database=db/);
    // The answer is a later packet: it may reach the screen a refresh after the Query.
    s = await ui.waitFor(/<T\/D\/C\/Z RowDescription/, 10_000);
    assert.match(s, /Frames \d+ \(following\)/);
    ui.keys('C-c');
    await ui.waitFor('capture stopped', 5000);
    ui.keys('C-c');
    await ui.waitFor('[exit 0]', 5000);
  } finally {
    ui.stop();
    srv.close();
  }
});
