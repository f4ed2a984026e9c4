/**
 * Drives the real TUI in a pseudo-terminal: tmux runs the launcher (dist/scripts/tui-demo.js) in a
 * detached session of a fixed size; tests send keys and read the screen back as text.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from './public-captures.js';

let seq = 0;

export function tmuxAvailable(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const SKIP_NO_TMUX = 'tmux is not installed (Debian package tmux): TUI screen tests skipped';

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export class TmuxUi {
  readonly name: string;
  private constructor(name: string) {
    this.name = name;
  }

  /** Starts `node dist/scripts/tui-demo.js ...args` (or `script`, relative to dist/src/tui) in a new detached tmux session. */
  static start(args: string[], opts: { width?: number; height?: number; script?: string } = {}): TmuxUi {
    const name = `pgsniff-tui-${process.pid}-${++seq}`;
    const script = join(projectRoot, 'dist', 'src', 'tui', opts.script ?? '../../scripts/tui-demo.js');
    // NCURSES_NO_UTF8_ACS: borders as Unicode box characters, which capture-pane reports as
    // drawn (the alternate character set would come back as 'q' and 'x').
    const cmd = `env TERM=xterm-256color LANG=C.UTF-8 NCURSES_NO_UTF8_ACS=1 node ${quote(script)} ${args.map(quote).join(' ')}; ` +
      `echo "[exit $?]"; sleep 60`;
    const argv = ['new-session', '-d', '-s', name, '-x', String(opts.width ?? 160), '-y', String(opts.height ?? 48), cmd];
    // When the previous test killed the last session, the tmux server may still be exiting:
    // "server exited unexpectedly". A moment later a new server starts cleanly.
    for (let attempt = 0; ; attempt++) {
      try {
        execFileSync('tmux', argv, { stdio: 'pipe' });
        break;
      } catch (e) {
        if (attempt >= 4) throw e;
        execFileSync('sleep', ['0.2']);
      }
    }
    return new TmuxUi(name);
  }

  /** tmux key names ('Enter', 'Escape', 'Tab', 'C-c', 'j', ...), one key each. */
  keys(...keys: string[]): void {
    execFileSync('tmux', ['send-keys', '-t', this.name, ...keys]);
  }

  /** Literal text, character by character as typed. */
  type(text: string): void {
    execFileSync('tmux', ['send-keys', '-t', this.name, '-l', text]);
  }

  /** The screen as plain text. */
  screen(): string {
    return execFileSync('tmux', ['capture-pane', '-p', '-t', this.name], { encoding: 'utf8' });
  }

  /** The screen with colours (SGR sequences as tmux re-creates them). */
  screenWithColours(): string {
    return execFileSync('tmux', ['capture-pane', '-p', '-e', '-t', this.name], { encoding: 'utf8' });
  }

  /** The pane's title: an application that could set it would have escaped the sandbox. */
  title(): string {
    return execFileSync('tmux', ['display-message', '-p', '-t', this.name, '#{pane_title}'], { encoding: 'utf8' }).trim();
  }

  resize(width: number, height: number): void {
    execFileSync('tmux', ['resize-window', '-t', this.name, '-x', String(width), '-y', String(height)]);
  }

  /** Polls the screen until `want` shows (or the predicate holds); fails with the last screen. */
  async waitFor(want: string | RegExp | ((screen: string) => boolean), timeoutMs = 5000): Promise<string> {
    const test = typeof want === 'function' ? want : typeof want === 'string' ? (s: string) => s.includes(want) : (s: string) => want.test(s);
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      last = this.screen();
      if (test(last)) return last;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${String(want)}; screen was:\n${last}`);
  }

  /**
   * Keys, then the screen once it has reacted: it waits for a change (up to two seconds, for
   * keys that change nothing) and then for two captures in a row to agree, the status line
   * aside (it ticks while a capture loads). Fixed sleeps were flaky on a loaded machine.
   */
  async press(...keys: string[]): Promise<string> {
    const body = (s: string) => s.split('\n').slice(0, -2).join('\n');
    const before = body(this.screen());
    this.keys(...keys);
    let cur = this.screen();
    const deadline = Date.now() + 2000;
    while (body(cur) === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 40));
      cur = this.screen();
    }
    for (let k = 0; k < 20; k++) {
      await new Promise((r) => setTimeout(r, 100));
      const next = this.screen();
      if (body(next) === body(cur)) return next;
      cur = next;
    }
    return cur;
  }

  stop(): void {
    try {
      execFileSync('tmux', ['kill-session', '-t', this.name], { stdio: 'ignore' });
    } catch {
      // Already gone: nothing to clean up.
    }
  }
}

/** Starts the UI and waits until the capture is loaded (or live). */
export async function openTui(args: string[], size?: { width: number; height: number }): Promise<TmuxUi> {
  const ui = TmuxUi.start(args, size);
  await ui.waitFor(/loaded in|● live/, 8000);
  return ui;
}

/** Goes to a frame through the find prompt (`:` then a number); the screen once it is shown. */
export async function gotoFrame(ui: TmuxUi, frame: number): Promise<string> {
  ui.keys(':');
  await ui.waitFor('Find:');
  ui.type(String(frame));
  ui.keys('Enter');
  return ui.waitFor(`Frame ${frame}:`);
}
