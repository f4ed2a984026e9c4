/**
 * The public conformance corpus lives outside the project (../shared/captures/public, see its
 * INDEX.md) and is never copied in. Tests that use it call publicCaptures() and skip, saying
 * so, when it is absent.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const here = fileURLToPath(new URL('.', import.meta.url));
/** Project root: dist/test/helpers -> ../../.. */
export const projectRoot = resolve(here, '..', '..', '..');

export const publicCapturesDir = resolve(projectRoot, '..', 'shared', 'captures', 'public');

export const SKIP_NO_PUBLIC = `../shared/captures/public is absent (${publicCapturesDir}): public-capture conformance skipped`;

/** Every .pcap/.pcapng under the corpus, as paths relative to it (e.g. "zeek/psql-login.pcap"), or null when absent. */
export function publicCaptures(): string[] | null {
  if (!existsSync(publicCapturesDir)) return null;
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(pcap|pcapng)$/.test(name)) out.push(relative(publicCapturesDir, p));
    }
  };
  walk(publicCapturesDir);
  return out;
}

export function publicCapture(rel: string): string {
  return join(publicCapturesDir, rel);
}

/** The project's own samples (samples/*.pcap[ng]). */
export function sampleCaptures(): string[] {
  const dir = join(projectRoot, 'samples');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => /\.(pcap|pcapng)$/.test(n)).sort().map((n) => join(dir, n));
}

let tsharkPath: string | null | undefined;
/** Path of tshark when installed, else null (tests comparing against it then skip, saying so). */
export function tshark(): string | null {
  if (tsharkPath !== undefined) return tsharkPath;
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    tsharkPath = 'tshark';
  } catch {
    tsharkPath = null;
  }
  return tsharkPath;
}

export const SKIP_NO_TSHARK = 'tshark is not installed (Debian package tshark): comparison with tshark skipped';
