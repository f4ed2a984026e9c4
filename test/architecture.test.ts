/**
 * The layers' import rules (STYLE.md: capture -> net -> reassembly -> pg -> dissectors -> session
 * -> sinks/TUI, imports flow one way) as a test, so that a new import running back up fails here
 * rather than in a reviewer's reading. Reads the sources' import statements; no build needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// dist/test/architecture.test.js -> the repository root; the sources are read, not the build.
const root = resolve(here, '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...sources(rel));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

// Static imports, re-exports and dynamic import('...') of relative paths; type-only imports
// count too, since a type from a higher layer is still a dependency on it.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    out.push(relative(root, resolve(root, dirname(file), m[1]!.replace(/\.js$/, '.ts'))));
  }
  return out;
}

const files = [...sources('src'), ...sources('dissectors')];
const graph = new Map(files.map((f) => [f, importsOf(f)]));

function violations(from: (f: string) => boolean, to: (t: string) => boolean): string[] {
  const out: string[] = [];
  for (const [f, deps] of graph) if (from(f)) for (const d of deps) if (to(d)) out.push(`${f} -> ${d}`);
  return out;
}

const under = (dir: string) => (f: string) => f.startsWith(dir + '/');

test('every relative import resolves to a source file (the rules below see the whole graph)', () => {
  const known = new Set(files);
  const missing = violations(() => true, (d) => !known.has(d) && !d.endsWith('.json'));
  assert.deepEqual(missing, []);
});

test('dissectors/ import nothing from src/ but src/core', () => {
  assert.deepEqual(violations(under('dissectors'), (d) => d.startsWith('src/') && !under('src/core')(d)), []);
});

test('src/core imports no other layer', () => {
  assert.deepEqual(violations(under('src/core'), (d) => !under('src/core')(d)), []);
});

test('src/pg imports neither the session layer nor the sinks nor the TUI', () => {
  const up = (d: string) => ['src/session', 'src/sinks', 'src/tui', 'src/pipeline', 'src/cli'].some((dir) => under(dir)(d));
  assert.deepEqual(violations(under('src/pg'), up), []);
});

test('the layers below the session import nothing above it', () => {
  const low = ['src/capture', 'src/net', 'src/reassembly', 'src/pg', 'dissectors', 'src/core'];
  const high = ['src/session', 'src/sinks', 'src/tui', 'src/pipeline', 'src/cli', 'src/filter'];
  assert.deepEqual(violations((f) => low.some((dir) => under(dir)(f)), (d) => high.some((dir) => under(dir)(d))), []);
});

test('nobody imports src/cli but src/cli itself', () => {
  assert.deepEqual(violations((f) => !under('src/cli')(f), under('src/cli')), []);
});

// The message carries its byte range in the type every layer sees (issue 15 §1): no downcast to
// the framer's classes above src/pg.
test('session and sinks import nothing from src/pg/framer.ts', () => {
  const framer = (d: string) => d === 'src/pg/framer.ts';
  assert.deepEqual(violations((f) => under('src/session')(f) || under('src/sinks')(f), framer), []);
});

test('no import cycles between files', () => {
  const cycles: string[] = [];
  const state = new Map<string, 1 | 2>(); // 1: on the current path, 2: done
  const path: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 1);
    path.push(f);
    for (const d of graph.get(f) ?? []) {
      const s = state.get(d);
      if (s === 1) cycles.push([...path.slice(path.indexOf(d)), d].join(' -> '));
      else if (s === undefined && graph.has(d)) visit(d);
    }
    path.pop();
    state.set(f, 2);
  };
  for (const f of files) if (!state.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});
