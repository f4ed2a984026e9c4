/**
 * README.md's example outputs, generated from the shipped samples so that they cannot drift from
 * what pgsniff prints. An example is a fenced block right after a marker line:
 *
 *   <!-- example: stats samples/n-plus-one.pcap -->          the output of `pgsniff stats ...`
 *   <!-- example $: check samples/tls-13.pcap --no-errors --> the same, after a "$ pgsniff ..." line
 *   <!-- example: read samples/x.pcap --text | skip 6 | head 5 -->   some lines of it
 *   <!-- example: read samples/x.pcap --json | keys kind,sql -->     NDJSON with some keys (and ...)
 *   <!-- example $: check cut.pcap | cut.pcap = samples/x.pcap cut in frame 17 -->
 *       on a damaged capture no sample is: the sample's file up to the middle of that frame's
 *       record (the frame found by the capture reader), written to a temporary file
 *
 * and the block ends at its closing fence. Between `<!-- filter-fields -->` and
 * `<!-- /filter-fields -->` goes the table of the field registry's filter keys (src/filter/fields.ts). `node dist/scripts/readme-examples.js` rewrites the
 * blocks in README.md; test/readme-examples.test.ts fails when README.md differs from them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCapture } from '../src/capture/open.js';
import { registryFieldDocs } from '../src/filter/fields.js';

const MARKER = /^<!-- example( \$)?: (.+?) -->$/;

/** The repository's root (this file runs from dist/scripts). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Words of a command line, split as a shell would for the quoting examples use ('...' and "..."). */
function words(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** `NAME = samples/FILE cut in frame N`: a damaged capture made from a sample for an example. */
const CUT = /^(\S+) = (samples\/\S+) cut in frame (\d+)$/;

/** The sample's bytes up to the middle of frame `frame`'s captured data: a file cut short there. */
async function cutCapture(sample: string, frame: number): Promise<Buffer> {
  const file = readFileSync(join(ROOT, sample));
  let end = -1;
  await readCapture(join(ROOT, sample), {
    packet: (p) => {
      // A pcap record is its 16-byte header, then the captured bytes.
      if (p.frame === frame) end = p.fileOffset + 16 + Math.floor(p.data.length / 2);
    },
    anomaly: () => {},
  });
  if (end < 0 || !file.subarray(0, 4).equals(Buffer.from([0xd4, 0xc3, 0xb2, 0xa1]))) {
    throw new Error(`README example: ${sample} is not a little-endian pcap with a frame ${frame}`);
  }
  return file.subarray(0, end);
}

/** The damaged captures the README's examples name (`| NAME = samples/FILE cut in frame N`), made in a temporary directory. */
export async function exampleInputs(readme: string): Promise<{ files: Map<string, string>; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-readme-'));
  const files = new Map<string, string>();
  for (const line of readme.split('\n')) {
    const m = MARKER.exec(line);
    for (const step of m === null ? [] : m[2].split(' | ').slice(1)) {
      const cut = CUT.exec(step.trim());
      if (cut === null || files.has(cut[1])) continue;
      const path = join(dir, cut[1]);
      writeFileSync(path, await cutCapture(cut[2], Number(cut[3])));
      files.set(cut[1], path);
    }
  }
  return { files, remove: () => { rmSync(dir, { recursive: true, force: true }); } };
}

/**
 * What pgsniff prints for `command` (its arguments, then `| skip N` / `| head N` steps), run in
 * the repository; a word that names one of `inputs` (exampleInputs) is that file's path.
 */
export function exampleOutput(command: string, inputs: ReadonlyMap<string, string> = new Map()): string {
  const [args, ...steps] = command.split(' | ');
  const cli = join(ROOT, 'dist', 'src', 'cli', 'main.js');
  const argv = words(args).map((w) => inputs.get(w) ?? w);
  const r = spawnSync(process.execPath, [cli, ...argv], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, COLUMNS: '200' } });
  if (r.error) throw r.error;
  let lines = (r.stdout + r.stderr).replace(/\n$/, '').split('\n');
  for (const step of steps) {
    const cut = CUT.exec(step.trim());
    if (cut !== null) {
      if (!inputs.has(cut[1])) throw new Error(`README example "${command}": ${cut[1]} was not made (exampleInputs)`);
      continue;
    }
    const keys = /^keys (\S+)$/.exec(step.trim());
    if (keys !== null) {
      lines = lines.map((l) => pickKeys(l, keys[1].split(',')));
      continue;
    }
    const m = /^(skip|head) (\d+)$/.exec(step.trim());
    if (m === null) throw new Error(`README example "${command}": unknown step "${step}" (skip N, head N, keys A,B,..., NAME = samples/FILE cut in frame N)`);
    lines = m[1] === 'skip' ? lines.slice(Number(m[2])) : lines.slice(0, Number(m[2]));
  }
  return lines.join('\n');
}

/** An NDJSON line with only the keys named (in the record's order), and `...` where keys were left out. */
function pickKeys(line: string, keep: string[]): string {
  const rec = JSON.parse(line) as Record<string, unknown>;
  const kept = Object.keys(rec).filter((k) => keep.includes(k));
  const body = kept.map((k) => `${JSON.stringify(k)}:${JSON.stringify(rec[k])}`).join(',');
  return kept.length < Object.keys(rec).length ? `{${body}, ...}` : `{${body}}`;
}

/** The filter keys of the field registry as a Markdown table: key, the tree's label, where records keep it. */
function filterFieldsTable(): string {
  const rows = registryFieldDocs().map((f) => `| \`${f.key}\` | ${f.label} | ${f.where.replace(/\|/g, '\\|')} |`);
  return ['| key | `-V` label | where it is read |', '|---|---|---|', ...rows].join('\n');
}

/** README text with every example block replaced by the output of its marker's command, and the filter keys' table. */
export function renderExamples(readme: string, inputs: ReadonlyMap<string, string> = new Map()): string {
  const lines = readme.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    out.push(lines[i]);
    if (lines[i] === '<!-- filter-fields -->') {
      const end = lines.indexOf('<!-- /filter-fields -->', i);
      if (end < 0) throw new Error(`README.md line ${i + 1}: <!-- filter-fields --> is not closed`);
      out.push(filterFieldsTable(), lines[end]);
      i = end;
      continue;
    }
    const m = MARKER.exec(lines[i]);
    if (m === null) continue;
    const open = lines[i + 1];
    if (open === undefined || !open.startsWith('```')) throw new Error(`README.md line ${i + 1}: an example marker must be followed by a fenced block`);
    let close = i + 2;
    while (close < lines.length && lines[close] !== '```') close++;
    if (close >= lines.length) throw new Error(`README.md line ${i + 2}: the example block is not closed`);
    out.push(open);
    if (m[1] !== undefined) out.push(`$ pgsniff ${m[2].split(' | ')[0]}`);
    out.push(exampleOutput(m[2], inputs));
    out.push('```');
    i = close;
  }
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = join(ROOT, 'README.md');
  const before = readFileSync(file, 'utf8');
  const inputs = await exampleInputs(before);
  let after: string;
  try {
    after = renderExamples(before, inputs.files);
  } finally {
    inputs.remove();
  }
  if (after !== before) writeFileSync(file, after);
  process.stdout.write(after === before ? 'README.md: examples up to date\n' : 'README.md: examples rewritten\n');
}
