/**
 * The message code table is declared once, in the dissectors' registry. What other layers keep
 * of it is derived from it (the framer's valid codes) or, where it must be a compile-time
 * constant (the session layer's const enums in src/session/codes.ts, which a switch jumps on),
 * checked against it here: every member names the registry's message for its byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_ENTRIES, lookup, messageCodes } from '../dissectors/registry.js';
import { BACKEND_CODES, FRONTEND_CODES } from '../src/pg/framer.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('the framer\'s valid codes are the registry\'s, per direction', () => {
  const sorted = (s: string): string => [...s].sort().join('');
  assert.equal(sorted(FRONTEND_CODES), sorted(ALL_ENTRIES.filter((e) => e.dir === 'frontend').map((e) => e.code).join('')));
  assert.equal(sorted(BACKEND_CODES), sorted(messageCodes('backend')));
  assert.ok(BACKEND_CODES.includes('S') && FRONTEND_CODES.includes('p'));
});

test('src/session/codes.ts: each FrontendCode/BackendCode member is the registry\'s message of that byte', () => {
  const src = readFileSync(join(root, 'src', 'session', 'codes.ts'), 'utf8');
  let checked = 0;
  for (const [dir, name] of [['frontend', 'FrontendCode'], ['backend', 'BackendCode']] as const) {
    const body = new RegExp(`export const enum ${name} \\{([^}]*)\\}`).exec(src)?.[1];
    assert.ok(body, `enum ${name} found`);
    for (const m of body.matchAll(/^\s*(\w+) = 0x([0-9a-f]{2}),/gm)) {
      const code = String.fromCharCode(parseInt(m[2]!, 16));
      const e = lookup(dir, code);
      assert.notEqual(e.name, 'Unknown', `${name}.${m[1]}: ${dir} ${code} is not in the registry`);
      // 'R' is the Authentication family and frontend 'p' the password family: the registry names the family
      const want = m[1] === 'Authentication' ? 'Authentication' : m[1] === 'PasswordMessage' ? e.name : m[1];
      assert.ok(e.name === want || e.name.startsWith(want), `${name}.${m[1]} = ${code}: the registry has ${e.name}`);
      checked++;
    }
  }
  assert.ok(checked > 30, `${checked} members checked`);
});
