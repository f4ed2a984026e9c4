/**
 * The COPY sub-protocol's top-level messages ("Message Flow": COPY Operations; "Message
 * Formats": CopyData, CopyDone, CopyFail, CopyInResponse, CopyOutResponse, CopyBothResponse).
 * CopyData's payload (COPY rows, streaming and logical replication) is decoded by
 * dissectors/copy with the COPY state in force.
 */
import type { Entry } from './entry.js';
import type { Reader } from './reader.js';
import { F } from './fields.js';
import { readFormats, formatOf } from './typed.js';
import { decodeCopyData } from './copy/index.js';
import { copyResponseRange } from './ranges.js';
import type { CopyResponse, CopyData, Direction } from './types.js';

function copyData(dir: Direction): Entry {
  return {
    dir,
    code: 'd',
    name: 'CopyData',
    decode(r, ctx) {
      const body = r.rest(F.copyData);
      // The copy decoder's object becomes the record (no copy of a possibly large object).
      const fields = decodeCopyData(body, dir, ctx);
      fields.type = 'CopyData';
      return fields as CopyData;
    },
  };
}

function copyDone(dir: Direction): Entry {
  return { dir, code: 'c', name: 'CopyDone', decode: () => ({ type: 'CopyDone' }) };
}

function readCopyResponse(r: Reader, type: CopyResponse['type']): CopyResponse {
  const at = r.pos;
  const format = formatOf(r, r.u8(F.copyFormat), F.copyFormat, at);
  const n = r.i16(F.copyColumnCount);
  const columnFormats = r.fits(F.copyColumnFormat, n, 2) ? readFormats(r, F.copyColumnFormat, n) : [];
  return { type, format, columnFormats };
}

const copyFail: Entry = {
  dir: 'frontend',
  code: 'f',
  name: 'CopyFail',
  decode(r) {
    return { type: 'CopyFail', message: r.cstr(F.copyError) };
  },
};

export const entries: Entry[] = [
  copyData('frontend'), copyData('backend'), copyDone('frontend'), copyDone('backend'), copyFail,
  { dir: 'backend', code: 'G', name: 'CopyInResponse', direct: (s, a, e) => copyResponseRange('CopyInResponse', s, a, e), decode: (r) => readCopyResponse(r, 'CopyInResponse') },
  { dir: 'backend', code: 'H', name: 'CopyOutResponse', direct: (s, a, e) => copyResponseRange('CopyOutResponse', s, a, e), decode: (r) => readCopyResponse(r, 'CopyOutResponse') },
  { dir: 'backend', code: 'W', name: 'CopyBothResponse', direct: (s, a, e) => copyResponseRange('CopyBothResponse', s, a, e), decode: (r) => readCopyResponse(r, 'CopyBothResponse') },
];
