/**
 * The filter's field names are the field registry's keys and the records' keys (src/filter/fields.ts):
 * - src/filter/record-paths.ts is what the zod record schemas declare (UPDATE_GOLDEN=1 rewrites it);
 * - every registry field says where records keep it, or why they do not;
 * - on every sample, every field the tree (`-V`, the TUI) shows with a value matches its message
 *   through `-Y 'KEY == VALUE'`: the keys the tree shows are the keys the filter accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { z } from 'zod';
import { recordSchema } from '../src/pipeline/schema.js';
import { copyDataFieldsSchema } from '../dissectors/copy/schema.js';
import { RECORD_PATHS } from '../src/filter/record-paths.js';
import { unplacedFields } from '../src/filter/fields.js';
import { compileFilter } from '../src/filter/index.js';
import { allFields, REDACTED } from '../dissectors/fields.js';
import { fieldTree, type FieldNode } from '../dissectors/tree.js';
import { analyzeFile } from '../src/pipeline/analyze.js';
import type { PipelineSink } from '../src/pipeline/events.js';
import { isUserError } from '../src/core/errors.js';
import { projectRoot, sampleCaptures } from './helpers/public-captures.js';

/** Every key path a schema declares: `*` any key of a record-shaped object, `**` anything below a JSON value. */
function schemaPaths(schema: z.ZodType, prefix: string, out: Set<string>): void {
  const d = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  const inner = (k: string): z.ZodType => d[k] as z.ZodType;
  switch (d.type) {
    case 'object':
      for (const [k, v] of Object.entries(d.shape as Record<string, z.ZodType>)) {
        const p = prefix === '' ? k : `${prefix}.${k}`;
        out.add(p);
        schemaPaths(v, p, out);
      }
      return;
    case 'array': return schemaPaths(inner('element'), prefix, out);
    case 'optional': case 'nullable': case 'readonly': case 'default': case 'nonoptional': return schemaPaths(inner('innerType'), prefix, out);
    case 'union': for (const o of d.options as z.ZodType[]) schemaPaths(o, prefix, out); return;
    case 'intersection': schemaPaths(inner('left'), prefix, out); schemaPaths(inner('right'), prefix, out); return;
    case 'record': out.add(`${prefix}.*`); schemaPaths(inner('valueType'), `${prefix}.*`, out); return;
    case 'pipe': return schemaPaths(inner('in'), prefix, out);
    case 'lazy': case 'unknown': case 'any': if (prefix !== '') out.add(`${prefix}.**`); return;
    default: // leaves: string, number, boolean, literal, enum, null
  }
}

function recordPathsSource(paths: string[]): string {
  const lines: string[] = [];
  let line = ' ';
  for (const p of paths) {
    const item = ` '${p}',`;
    if (line.length + item.length > 110) { lines.push(line); line = ' '; }
    line += item;
  }
  lines.push(line);
  return `/**
 * Every key path of the NDJSON records (message, query, session, anomaly, capture), as the zod
 * schemas declare them: \`*\` is any one key of a record-shaped object, \`**\` anything below a JSON
 * value. Generated from the schemas by test/filter-fields.test.ts, which fails when they differ
 * (UPDATE_GOLDEN=1 rewrites this file). The filter reads this list, not the schemas: building
 * the schemas costs more start-up time than reading a small capture.
 */
export const RECORD_PATHS: readonly string[] = [
${lines.join('\n')}
];
`;
}

test('record-paths.ts lists exactly the key paths of the record schemas', () => {
  const out = new Set<string>();
  schemaPaths(recordSchema as unknown as z.ZodType, '', out);
  // CopyData's fields are checked by a refinement against their own schema (dissectors/copy/schema.ts).
  schemaPaths(copyDataFieldsSchema as unknown as z.ZodType, '', out);
  const want = [...out].sort();
  const file = join(projectRoot, 'src', 'filter', 'record-paths.ts');
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(file, recordPathsSource(want));
    return;
  }
  assert.ok(existsSync(file));
  assert.deepEqual([...RECORD_PATHS], want, 'src/filter/record-paths.ts is out of date: UPDATE_GOLDEN=1 node --test dist/test/filter-fields.test.js rewrites it');
  assert.equal(readFileSync(file, 'utf8'), recordPathsSource(want));
});

test('every registry field says where records keep it, or why they do not', () => {
  assert.deepEqual(unplacedFields().map((f) => f.key), []);
});

test('every registry key compiles, or is refused with its reason', () => {
  for (const f of allFields()) {
    try {
      compileFilter(f.key);
    } catch (e) {
      assert.ok(isUserError(e) && e.code === 'BAD_FILTER' && e.message.includes(`${f.key} cannot be filtered on: `), `${f.key}: ${String(e)}`);
    }
  }
});

/** A tree value as a filter literal, or null when the tree shows it differently from the record (shortened, redacted, structured). */
function literal(v: unknown): string | null {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v !== 'string') return null;
  if (v === REDACTED || v.includes('…') || !/^[\x20-\x7e]*$/.test(v)) return null;
  return JSON.stringify(v);
}

const checkedKeys = new Set<string>();

for (const path of sampleCaptures()) {
  test(`every field the tree shows matches its message through -Y: ${basename(path)}`, async () => {
    const failures: string[] = [];
    let checked = 0;
    const compiled = new Map<string, ((r: object) => boolean) | null>();
    const sink: PipelineSink = {
      record: () => {},
      message: (rec, raw, decoded) => {
        if (decoded.type === 'Malformed' || decoded.type === 'Unknown') return;
        const walk = (nodes: FieldNode[]): void => {
          for (const n of nodes) {
            walk(n.children);
            const lit = literal(n.value);
            if (lit === null) continue;
            const expr = `${n.key} == ${lit}`;
            let pred = compiled.get(expr);
            if (pred === undefined) {
              try { pred = compileFilter(expr); } catch { pred = null; } // a field records do not keep
              compiled.set(expr, pred);
            }
            if (pred === null) continue;
            checked++;
            checkedKeys.add(n.key);
            if (!pred(rec) && failures.length < 20) failures.push(`frame ${rec.frame} ${rec.type}: ${expr} (${n.label})`);
          }
        };
        walk(fieldTree(raw, decoded, { showSecrets: false }));
      },
    };
    const keylog = path.replace(/\.pcap(ng)?$/, '.keylog');
    await analyzeFile(path, sink, { messages: true, keylog: existsSync(keylog) ? keylog : null });
    assert.deepEqual(failures, []);
    assert.ok(checked > 0 || basename(path).includes('tls'), 'no field was checked');
  });
}

test('the samples exercise the registry fields that carry the protocol', () => {
  if (sampleCaptures().length === 0) return;
  for (const key of ['pgsql.query', 'pgsql.bind.param', 'pgsql.error.sqlstate', 'pgsql.column.name', 'pgsql.row.value', 'pgsql.tag',
    'pgsql.status', 'pgsql.statement', 'pgsql.parameter.name', 'pgsql.authtype', 'pgsql.type', 'pgsql.length', 'pgsql.function.oid',
    'pgsql.copy.format', 'pgsql.channel', 'pgsql.target', 'pgsql.bind.format', 'pgsql.ncolumns', 'pgsql.bind.nparams']) {
    assert.ok(checkedKeys.has(key), `${key} was never checked against a sample`);
  }
});
