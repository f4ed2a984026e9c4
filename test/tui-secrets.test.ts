/**
 * Issue 19: nothing from which a secret can be recovered is printed by default, the terminal
 * UI's bytes pane included. The real CLI runs under tmux on the samples; the secrets are what
 * `pgsniff read FILE --json --show-secrets` reveals, and the pane (frame from the file, then
 * the message) must show them neither as text nor as hex, unless --show-secrets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from './helpers/public-captures.js';
import { TmuxUi, tmuxAvailable, SKIP_NO_TMUX } from './helpers/tui-tmux.js';

const skip = !tmuxAvailable() ? SKIP_NO_TMUX : false;
const CLI = join(projectRoot, 'dist', 'src', 'cli', 'main.js');
const sample = (f: string) => join(projectRoot, 'samples', f);

interface Secret { frame: number; type: string; text: string }

/** The secrets of a sample as --show-secrets reveals them in NDJSON, with their frames. */
function secretsOf(file: string): Secret[] {
  const out = execFileSync(process.execPath, [CLI, 'read', sample(file), '--json', '--show-secrets'], { encoding: 'utf8' });
  const found: Secret[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line) as Record<string, unknown>;
    const scram = r.scram as Record<string, string> | undefined;
    if (r.type === 'PasswordMessage') found.push({ frame: r.frame as number, type: r.type, text: r.password as string });
    if (scram?.proof) found.push({ frame: r.frame as number, type: r.type as string, text: scram.proof });
    if (scram?.serverSignature) found.push({ frame: r.frame as number, type: r.type as string, text: scram.serverSignature });
  }
  return found;
}

/** The bytes pane read back: its label, the hex digits and the ASCII column, each joined across rows. */
function bytesPane(screen: string): { label: string; hex: string; ascii: string } {
  const lines = screen.split('\n');
  const at = lines.findIndex((l) => l.includes('─ Bytes'));
  assert.ok(at >= 0, `no bytes pane:\n${screen}`);
  let hex = '';
  let ascii = '';
  for (const l of lines.slice(at + 1)) {
    const m = /^│[0-9a-f]{4} {2}(.{48}) {2}(.{0,16})/.exec(l);
    if (!m) break;
    const h = (m[1] as string).replace(/\s/g, '');
    hex += h;
    ascii += (m[2] as string).slice(0, h.length / 2);
  }
  return { label: lines[at] as string, hex, ascii };
}

/** Selects frame `no` (frames here are numbered from 1 in list order), the frame's own bytes shown. */
async function frame(ui: TmuxUi, no: number): Promise<string> {
  return ui.press('g', ...Array.from({ length: no - 1 }, () => 'j'));
}

function check(where: string, screen: string, secret: Secret, shown: boolean): void {
  const pane = bytesPane(screen);
  const hex = Buffer.from(secret.text).toString('hex');
  assert.ok(pane.hex.length > 0, `${where}: an empty bytes pane:\n${screen}`);
  if (shown) {
    assert.ok(pane.hex.includes(hex), `${where}: ${secret.type} hex not shown with --show-secrets:\n${screen}`);
    assert.ok(pane.ascii.includes(secret.text), `${where}: ${secret.type} text not shown with --show-secrets:\n${screen}`);
    assert.doesNotMatch(pane.label, /secret bytes hidden/);
  } else {
    assert.ok(!pane.hex.includes(hex), `${where}: ${secret.type} readable as hex:\n${screen}`);
    assert.ok(!screen.includes(secret.text), `${where}: ${secret.type} readable as text:\n${screen}`);
    // Not even a part of it: no 8 consecutive bytes of the secret in either column.
    for (let i = 0; i + 8 <= secret.text.length; i++) {
      assert.ok(!pane.ascii.includes(secret.text.slice(i, i + 8)), `${where}: part of the ${secret.type} readable:\n${screen}`);
      assert.ok(!pane.hex.includes(hex.slice(i * 2, i * 2 + 16)), `${where}: part of the ${secret.type} readable as hex:\n${screen}`);
    }
    assert.match(pane.label, /secret bytes hidden, --show-secrets shows them/);
    assert.match(pane.hex, /\*\*/);
  }
}

/** One session per file and mode: every secret's frame, then its message (the first under the frame). */
async function run(file: string, shown: boolean): Promise<void> {
  const secrets = secretsOf(file);
  const ui = TmuxUi.start(['read', sample(file), ...(shown ? ['--show-secrets'] : [])], { script: '../cli/main.js', width: 160, height: 60 });
  try {
    await ui.waitFor(/Frames \d+/, 15_000);
    for (const s of secrets) {
      check(`frame ${s.frame}`, await frame(ui, s.frame), s, shown);
      const msg = await ui.press('Tab', 'j', 'j', 'j'); // past the Frame, IP and TCP nodes
      assert.match(bytesPane(msg).label, new RegExp(`Bytes: ${s.type} message`));
      check(`frame ${s.frame}, ${s.type} message`, msg, s, shown);
      // Back to the frame list (tree, bytes, list).
      ui.keys('Tab', 'Tab');
    }
  } finally {
    ui.stop();
  }
}

test('auth-methods.pcap: cleartext password and MD5 hashes masked in the bytes pane', { skip, timeout: 120_000 }, async () => {
  const s = secretsOf('auth-methods.pcap');
  assert.deepEqual(s.map((x) => x.type), ['PasswordMessage', 'PasswordMessage', 'PasswordMessage']);
  assert.ok(s.some((x) => x.text === 'clear-secret') && s.some((x) => x.text.startsWith('md5')));
  await run('auth-methods.pcap', false);
});

test('simple-query.pcap: SCRAM client proof and server signature masked in the bytes pane', { skip, timeout: 120_000 }, async () => {
  const s = secretsOf('simple-query.pcap');
  assert.deepEqual(s.map((x) => x.type), ['SASLResponse', 'AuthenticationSASLFinal']);
  await run('simple-query.pcap', false);
});

test('--show-secrets: the bytes pane shows the password and the SCRAM proof as captured', { skip, timeout: 120_000 }, async () => {
  await run('auth-methods.pcap', true);
  await run('simple-query.pcap', true);
});
