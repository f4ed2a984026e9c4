/**
 * ErrorResponse and NoticeResponse ("Message Formats"; the field letters are in "Error and
 * Notice Message Fields"): a list of (letter, string) pairs ended by a zero byte. Letters the
 * documentation does not define are kept by letter, as the documentation asks clients to
 * ignore, not reject, them.
 */
import type { Entry } from './entry.js';
import type { Reader } from './reader.js';
import { F, ERROR_FIELDS, ERROR_FIELD_UNKNOWN } from './fields.js';
import type { ErrorFields } from './types.js';

function readErrorFields(r: Reader): ErrorFields {
  const fields: ErrorFields = { severity: null, severityNonLocalized: null, sqlstate: null, message: null };
  const byName = fields as unknown as Record<string, string | null>;
  for (let i = 0; r.ok; i++) {
    if (r.remaining() === 0) {
      r.fail('truncated', 'field list ends without its terminating NUL');
      break;
    }
    const letter = r.buf[r.pos];
    if (letter === 0) {
      r.u8(F.terminator);
      break;
    }
    r.open(F.errorField, i);
    r.u8(F.errorFieldType);
    const ch = String.fromCharCode(letter);
    const info = ERROR_FIELDS[ch];
    const value = r.cstr(info !== undefined ? info.field : ERROR_FIELD_UNKNOWN);
    r.close(value);
    if (!r.ok) break;
    if (info !== undefined) byName[info.json] = value;
    else (fields.unknown ??= Object.create(null) as Record<string, string>)[ch] = value;
  }
  return fields;
}

export const entries: Entry[] = [
  { dir: 'backend', code: 'E', name: 'ErrorResponse', decode: (r) => ({ type: 'ErrorResponse', fields: readErrorFields(r) }) },
  { dir: 'backend', code: 'N', name: 'NoticeResponse', decode: (r) => ({ type: 'NoticeResponse', fields: readErrorFields(r) }) },
];
