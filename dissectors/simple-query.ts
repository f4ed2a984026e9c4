/**
 * Simple query and the results both query protocols share ("Message Flow": Simple Query;
 * "Message Formats": Query, RowDescription, DataRow, CommandComplete, EmptyQueryResponse,
 * ReadyForQuery).
 */
import type { Entry } from './entry.js';
import type { Reader } from './reader.js';
import { F, TRANSACTION_STATUS } from './fields.js';
import { typeName } from './values/index.js';
import { readTypedValue, formatOf } from './typed.js';
import { commandCompleteRange, readyRange, splitTag } from './ranges.js';
import { dataRowRange } from './rows.js';
import type { ColumnDescription, CommandComplete, TypedValue } from './types.js';

/** Smallest RowDescription field: an empty name's NUL and 18 bytes of numbers. */
const MIN_COLUMN = 19;
/** Smallest DataRow column: its Int32 length (-1, NULL). */
const MIN_VALUE = 4;

const query: Entry = {
  dir: 'frontend',
  code: 'Q',
  name: 'Query',
  decode(r) {
    return { type: 'Query', query: r.cstr(F.query) };
  },
};

const commandComplete: Entry = {
  dir: 'backend',
  code: 'C',
  name: 'CommandComplete',
  direct: commandCompleteRange,
  decode(r) {
    const tag = r.cstr(F.tag);
    const s = splitTag(tag);
    const m: CommandComplete = { type: 'CommandComplete', tag, command: s.command, rows: s.rows };
    if (s.oid !== undefined) m.oid = s.oid;
    return m;
  },
};

const emptyQueryResponse: Entry = {
  dir: 'backend',
  code: 'I',
  name: 'EmptyQueryResponse',
  decode() {
    return { type: 'EmptyQueryResponse' };
  },
};

const readyForQuery: Entry = {
  dir: 'backend',
  code: 'Z',
  name: 'ReadyForQuery',
  direct: readyRange,
  decode(r) {
    const b = r.u8(F.status);
    const status = String.fromCharCode(b) as 'I' | 'T' | 'E';
    const transactionStatus = TRANSACTION_STATUS[status];
    if (transactionStatus === undefined) {
      if (r.ok) r.fail('invalid', `${F.status.label}: byte 0x${b.toString(16).padStart(2, '0')} is not I, T or E`, r.pos - 1);
      return { type: 'ReadyForQuery', status: 'I', transactionStatus: 'idle' };
    }
    return { type: 'ReadyForQuery', status, transactionStatus };
  },
};

const rowDescription: Entry = {
  dir: 'backend',
  code: 'T',
  name: 'RowDescription',
  decode(r) {
    const n = r.i16(F.columnCount);
    const fields: ColumnDescription[] = [];
    if (r.fits(F.column, n, MIN_COLUMN)) {
      for (let i = 0; i < n && r.ok; i++) {
        r.open(F.column, i);
        const name = r.cstr(F.columnName);
        const tableOid = r.u32(F.tableOid);
        const columnNumber = r.i16(F.columnNumber);
        const typeOid = r.u32(F.typeOid);
        const typeSize = r.i16(F.typeSize);
        const typeModifier = r.i32(F.typeModifier);
        const at = r.pos;
        const format = formatOf(r, r.i16(F.columnFormat), F.columnFormat, at);
        r.close(name);
        if (r.ok) fields.push({ name, tableOid, columnNumber, typeOid, typeName: typeName(typeOid), typeSize, typeModifier, format });
      }
    }
    return { type: 'RowDescription', fields };
  },
};

/** Walk n length-prefixed values without decoding them (DissectContext.decodeRows false). */
function skipValues(r: Reader, n: number): void {
  if (!r.fits(F.rowValue, n, MIN_VALUE)) return;
  for (let i = 0; i < n && r.ok; i++) {
    const len = r.i32(F.valueLength);
    if (len < -1) r.fail('invalid', `${F.valueLength.label}: ${len} (only -1 means NULL)`, r.pos - 4);
    else if (len > 0) r.skip(F.valueData, len);
  }
}

const dataRow: Entry = {
  dir: 'backend',
  code: 'D',
  name: 'DataRow',
  direct: dataRowRange,
  decode(r, ctx) {
    const n = r.i16(F.columnCount);
    const values: TypedValue[] = [];
    if (ctx.decodeRows === false && r.trace === null) {
      skipValues(r, n);
      return { type: 'DataRow', values, columnCount: n, valuesOmitted: true };
    }
    if (r.fits(F.rowValue, n, MIN_VALUE)) {
      const cols = ctx.resultColumns();
      for (let i = 0; i < n && r.ok; i++) {
        const col = cols !== undefined && i < cols.length ? cols[i] : undefined;
        r.open(F.rowValue, i);
        const v = readTypedValue(r, col !== undefined ? col.typeOid : 0, col !== undefined ? col.format : 'text');
        r.close(v.value);
        if (r.ok) values.push(v);
      }
    }
    return { type: 'DataRow', values };
  },
};

export const entries: Entry[] = [query, commandComplete, emptyQueryResponse, readyForQuery, rowDescription, dataRow];
