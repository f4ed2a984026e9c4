/**
 * src/cli/engine.ts: `read` and `stats` on a file run in a second Node.js process started with
 * V8 flags for throughput. The user must not be able to tell, but for the speed: same output,
 * same exit status and one-line errors, and signals reach the process doing the work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINE_FLAGS, engineFlags, RELAUNCH_MIN_BYTES } from '../src/cli/engine.js';

/** A batch job on a file is what the CLI relaunches: anything engineFlags gives flags for. */
const isBatchJob = (argv: string[], stdoutTty: boolean, stdinTty: boolean): boolean => engineFlags(argv, stdoutTty, stdinTty) !== null;
import { projectRoot, sampleCaptures } from './helpers/public-captures.js';

const MAIN = join(projectRoot, 'dist', 'src', 'cli', 'main.js');

function run(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, timeout: 60_000, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('read --json and stats run with a larger young generation, read --text without', () => {
  const young = ['--min-semi-space-size=8', '--max-semi-space-size=8'];
  assert.deepEqual(engineFlags(['read', 'x.pcap', '--json'], true, true), [...ENGINE_FLAGS, ...young]);
  // --json-out is record's: read ignores it and writes text
  assert.deepEqual(engineFlags(['read', 'x.pcap', '--json-out', 'o.ndjson'], false, true), ENGINE_FLAGS);
  assert.deepEqual(engineFlags(['stats', 'x.pcap'], true, true), [...ENGINE_FLAGS, ...young]);
  assert.deepEqual(engineFlags(['read', 'x.pcap', '--text'], true, true), ENGINE_FLAGS);
  assert.deepEqual(engineFlags(['read', 'x.pcap'], false, true), ENGINE_FLAGS);
  assert.equal(engineFlags(['read', 'x.pcap'], true, true), null);
});

test('which commands are batch jobs on a file', () => {
  assert.equal(isBatchJob(['read', 'x.pcap', '--json'], true, true), true);
  assert.equal(isBatchJob(['read', 'x.pcap'], false, true), true);
  assert.equal(isBatchJob(['-r', 'x.pcap', '--text'], true, true), true);
  assert.equal(isBatchJob(['stats', 'x.pcap'], true, true), true);
  // the terminal UI, live capture, help, the other commands: run in this process
  assert.equal(isBatchJob(['read', 'x.pcap'], true, true), false);
  assert.equal(isBatchJob(['-i', 'lo', '--json'], false, false), false);
  assert.equal(isBatchJob(['stats', '-i', 'lo'], false, false), false);
  assert.equal(isBatchJob(['read', '--help'], false, false), false);
  assert.equal(isBatchJob(['check', 'x.pcap', 'rules.json'], false, false), false);
  assert.equal(isBatchJob(['record', '--', 'true'], false, false), false);
  assert.equal(isBatchJob(['schema'], false, false), false);
  // parsed as the command parses them
  assert.equal(isBatchJob(['--json', 'read', 'x.pcap'], true, true), true);
  assert.equal(isBatchJob(['-p', '5433', 'stats', 'x.pcap'], false, false), true);
  assert.equal(isBatchJob(['read', 'x.pcap', '--', '--json'], true, true), false);
  assert.equal(isBatchJob(['read', '-ieth0', '--json'], false, false), false);
  assert.equal(isBatchJob(['stats', '-ieth0'], false, false), false);
  assert.equal(isBatchJob(['read', 'x.pcap', '--no-such-option'], false, false), false);
  // a descriptor path: Node.js does not pass its low descriptors on to a child
  assert.equal(isBatchJob(['read', '/dev/fd/5', '--json'], false, false), false);
  assert.equal(isBatchJob(['read', '/proc/self/fd/5', '--json'], false, false), false);
});

test('a capture smaller than RELAUNCH_MIN_BYTES runs in the first process; standard input and a larger file are relaunched', () => {
  const sample = sampleCaptures()[0]!;
  assert.ok(statSync(sample).size < RELAUNCH_MIN_BYTES);
  assert.equal(engineFlags(['stats', sample], false, false, RELAUNCH_MIN_BYTES), null);
  assert.equal(engineFlags(['read', '/nonexistent.pcap', '--json'], false, false, RELAUNCH_MIN_BYTES), null);
  assert.notEqual(engineFlags(['stats', sample], false, false, 1), null);
  assert.notEqual(engineFlags(['read', '-', '--json'], false, false, RELAUNCH_MIN_BYTES), null);
});

test('read and stats give the same output and exit status with and without the second process', () => {
  const sample = sampleCaptures().find((p) => p.endsWith('extended-query.pcap')) ?? sampleCaptures()[0]!;
  for (const args of [['read', sample, '--json'], ['read', sample, '--text'], ['stats', sample, '--json'], ['read', '/nonexistent.pcap', '--json']]) {
    const relaunched = run(args, { PGSNIFF_RELAUNCH: '1' });
    const inProcess = run(args, { PGSNIFF_RELAUNCH: '0' });
    assert.equal(relaunched.status, inProcess.status, args.join(' '));
    assert.equal(relaunched.stdout, inProcess.stdout, args.join(' '));
    assert.equal(relaunched.stderr, inProcess.stderr, args.join(' '));
  }
  const missing = run(['read', '/nonexistent.pcap', '--json'], {});
  assert.equal(missing.status, 2);
  assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
});

/** The PIDs of `pid`'s children (Linux /proc). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts `read - --json` on a pipe that never ends, and finds the child doing the work. */
async function startWork(detached: boolean): Promise<{ p: ReturnType<typeof spawn>; worker: number }> {
  const p = spawn(process.execPath, [MAIN, 'read', '-', '--json'], { stdio: ['pipe', 'ignore', 'pipe'], detached });
  let worker = 0;
  for (let i = 0; i < 100 && worker === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    worker = childrenOf(p.pid!).find((c) => readFileSync(`/proc/${c}/cmdline`, 'utf8').includes('--no-concurrent-recompilation')) ?? 0;
  }
  assert.ok(worker > 0, 'the work runs in a child started with the engine flags');
  return { p, worker };
}

async function gone(pid: number, ms: number): Promise<boolean> {
  for (let i = 0; i < ms / 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

const exitOf = (p: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  new Promise((r) => p.on('exit', (code, signal) => r({ code, signal })));

test('a signal to the command reaches the process doing the work, and the command dies of it', { skip: process.platform !== 'linux' }, async () => {
  const { p, worker } = await startWork(false);
  const exited = exitOf(p);
  p.kill('SIGTERM');
  const { code, signal } = await exited;
  assert.equal(signal, 'SIGTERM', `exit code ${code}`);
  assert.ok(await gone(worker, 2000), 'no process left behind');
  p.stdin!.destroy();
});

test('a Ctrl-C to the job (its whole process group) ends both processes once', { skip: process.platform !== 'linux' }, async () => {
  const { p, worker } = await startWork(true);
  const exited = exitOf(p);
  process.kill(-p.pid!, 'SIGINT');
  const { code, signal } = await exited;
  assert.equal(signal, 'SIGINT', `exit code ${code}`);
  assert.ok(await gone(worker, 2000), 'no process left behind');
  p.stdin!.destroy();
});

test('killed outright, the command leaves no process behind', { skip: process.platform !== 'linux' }, async () => {
  const { p, worker } = await startWork(false);
  const exited = exitOf(p);
  p.kill('SIGKILL');
  await exited;
  assert.ok(await gone(worker, 4000), 'the child stops once its parent is gone');
  p.stdin!.destroy();
});
