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

/**
 * The layers, lowest first (STYLE.md, "What pgsniff takes from them" 1). A file may import its
 * own layer and the layers of lower tiers, never a layer of its own tier or above. So, as issue
 * 15 lists them: dissectors import nothing from src/ but src/core; src/core imports no other
 * layer; src/pg imports neither the session layer nor the sinks; nobody imports src/cli (src/index.ts,
 * the library, is its own tier beside it); and nothing below the session imports above it.
 */
const TIERS: readonly (readonly string[])[] = [
  ['src/core'],
  ['dissectors', 'src/capture'],
  ['src/net'],
  ['src/reassembly'],
  ['src/pg'],
  ['src/session', 'src/filter'],
  ['src/pipeline'],
  ['src/sinks'],
  ['src/tui'],
  ['src/cli', 'src/index.ts'],
];

/** The layer a file belongs to and its tier, or null when it is in none. */
function layerOf(file: string): { layer: string; tier: number } | null {
  for (let tier = 0; tier < TIERS.length; tier++) {
    for (const layer of TIERS[tier]!) if (file === layer || under(layer)(file)) return { layer, tier };
  }
  return null;
}

test('every source file is in a layer of the table', () => {
  assert.deepEqual(files.filter((f) => layerOf(f) === null), []);
});

test('imports run only down the layers: to the same layer or a lower tier', () => {
  const out: string[] = [];
  for (const [f, deps] of graph) {
    const from = layerOf(f);
    for (const d of deps) {
      const to = layerOf(d);
      if (from !== null && to !== null && to.layer !== from.layer && to.tier >= from.tier) out.push(`${f} -> ${d}`);
    }
  }
  assert.deepEqual(out, []);
});

// STYLE.md: dissectors/ does no I/O (they take bytes and return objects), so it may use only the
// Buffer type and zod from outside the repository.
test('dissectors/ import no module that does I/O (only node:buffer and zod from outside)', () => {
  const PACKAGE = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'".][^'"]*)['"]/gm;
  const out: string[] = [];
  for (const f of files.filter(under('dissectors'))) {
    const text = readFileSync(join(root, f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const m of text.matchAll(PACKAGE)) if (m[1] !== 'node:buffer' && m[1] !== 'zod') out.push(`${f} -> ${m[1]}`);
  }
  assert.deepEqual(out, []);
});

// The message carries its byte range in the type every layer sees (issue 15 §1): no downcast to
// the framer's classes above src/pg.
test('session and sinks import nothing from src/pg/framer.ts', () => {
  const framer = (d: string) => d === 'src/pg/framer.ts';
  assert.deepEqual(violations((f) => under('src/session')(f) || under('src/sinks')(f), framer), []);
});

// Cycles are looked for in the whole house, the tests and scripts included.
const house = new Map([...files, ...sources('scripts'), ...sources('test')].map((f) => [f, importsOf(f)]));

test('no import cycles between files (src, dissectors, scripts, test)', () => {
  const cycles: string[] = [];
  const state = new Map<string, 1 | 2>(); // 1: on the current path, 2: done
  const path: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 1);
    path.push(f);
    for (const d of house.get(f) ?? []) {
      const s = state.get(d);
      if (s === 1) cycles.push([...path.slice(path.indexOf(d)), d].join(' -> '));
      else if (s === undefined && house.has(d)) visit(d);
    }
    path.pop();
    state.set(f, 2);
  };
  for (const f of house.keys()) if (!state.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});
