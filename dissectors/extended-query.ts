/**
 * Extended query ("Message Flow": Extended Query, Pipelining; "Message Formats": Parse, Bind,
 * Describe, Execute, Close, Sync, Flush, ParseComplete, BindComplete, CloseComplete,
 * ParameterDescription, NoData, PortalSuspended).
 */
import type { Entry } from './entry.js';
import type { Reader } from './reader.js';
import { F, TARGETS } from './fields.js';
import { readTypedValue, readFormats, formatFor } from './typed.js';
import { decodeValue, typeName } from './values/index.js';
import type { Bind, DissectContext, TypedValue, DecodedMessage } from './types.js';

function readTypeOids(r: Reader): number[] {
  const n = r.i16(F.paramTypeCount);
  const oids: number[] = [];
  if (r.fits(F.paramType, n, 4)) {
    for (let i = 0; i < n && r.ok; i++) {
      const oid = r.u32(F.paramType, i);
      if (r.ok) oids.push(oid);
    }
  }
  return oids;
}

/** Describe and Close: 'S' statement or 'P' portal, then the name. */
function readTarget(r: Reader): 'statement' | 'portal' {
  const b = r.u8(F.target);
  const t = TARGETS[String.fromCharCode(b) as 'S' | 'P'];
  if (t === undefined) {
    if (r.ok) r.fail('invalid', `${F.target.label}: byte 0x${b.toString(16).padStart(2, '0')} is not S or P`, r.pos - 1);
    return 'statement';
  }
  return t;
}

const parse: Entry = {
  dir: 'frontend',
  code: 'P',
  name: 'Parse',
  decode(r) {
    const statement = r.cstr(F.statement);
    const query = r.cstr(F.query);
    return { type: 'Parse', statement, query, paramTypes: readTypeOids(r) };
  },
};

/** Int16 at p, signed; the caller checked that two bytes are there. */
function int16(b: Buffer, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16)) >> 16;
}

/** Int16 format codes at p: 0 text, 1 binary; null for any other code. */
function directFormats(b: Buffer, p: number, n: number): Array<'text' | 'binary'> | null {
  const out: Array<'text' | 'binary'> = [];
  for (let i = 0; i < n; i++, p += 2) {
    const c = int16(b, p);
    if (c === 0) out.push('text');
    else if (c === 1) out.push('binary');
    else return null;
  }
  return out;
}

/**
 * A Bind read straight from body[start, end) when it is well formed: the object the reader's
 * way below makes, without its per-field bookkeeping (a Bind is sent for every execution, and
 * the NDJSON export and the session tracker both want its parameters typed). On anything the
 * reader's way would find fault with (a missing NUL, a count or length out of range, an
 * unknown format code, bytes left over) it returns null, and that way then runs and reports it.
 */
export function bindDirect(b: Buffer, start: number, end: number, ctx: DissectContext): Bind | null {
  const n1 = b.indexOf(0, start);
  if (n1 < 0 || n1 >= end) return null;
  const n2 = b.indexOf(0, n1 + 1);
  if (n2 < 0 || n2 >= end) return null;
  let p = n2 + 1;
  if (end - p < 2) return null;
  const nf = int16(b, p);
  p += 2;
  if (nf < 0 || nf * 2 > end - p) return null;
  const paramFormats = directFormats(b, p, nf);
  if (paramFormats === null) return null;
  p += nf * 2;
  if (end - p < 2) return null;
  const np = int16(b, p);
  p += 2;
  if ((nf > 1 && nf !== np) || np < 0 || np * 4 > end - p) return null;
  const statement = b.toString('utf8', n1 + 1, n2);
  const types = np > 0 ? ctx.statementParamTypes(statement) : undefined;
  const params: TypedValue[] = [];
  for (let i = 0; i < np; i++) {
    if (end - p < 4) return null;
    const len = b.readInt32BE(p);
    p += 4;
    if (len < -1 || len > end - p) return null;
    const oid = types !== undefined && i < types.length ? types[i]! : 0;
    const format = formatFor(paramFormats, i);
    let value: TypedValue['value'] = null;
    if (len >= 0) {
      if (oid !== 0) value = decodeValue(oid, format, b.subarray(p, p + len));
      else value = format === 'text' ? b.toString('utf8', p, p + len) : '\\x' + b.toString('hex', p, p + len);
      p += len;
    }
    params.push({ oid, typeName: oid === 0 ? null : typeName(oid), format, value });
  }
  if (end - p < 2) return null;
  const nr = int16(b, p);
  p += 2;
  if (nr < 0 || nr * 2 !== end - p) return null;
  const resultFormats = directFormats(b, p, nr);
  if (resultFormats === null) return null;
  return { type: 'Bind', portal: b.toString('utf8', start, n1), statement, paramFormats, params, resultFormats };
}

const bind: Entry = {
  dir: 'frontend',
  code: 'B',
  name: 'Bind',
  decode(r, ctx) {
    if (r.trace === null && r.pos === 0) {
      const direct = bindDirect(r.buf, 0, r.end, ctx);
      if (direct !== null) {
        r.pos = r.end;
        return direct;
      }
    }
    const portal = r.cstr(F.portal);
    const statement = r.cstr(F.statement);
    const nf = r.i16(F.paramFormatCount);
    const paramFormats = r.fits(F.paramFormat, nf, 2) ? readFormats(r, F.paramFormat, nf) : [];
    const at = r.pos;
    const np = r.i16(F.paramCount);
    const params: TypedValue[] = [];
    if (r.ok && nf > 1 && nf !== np) {
      r.fail('invalid', `${nf} parameter format codes for ${np} parameters (0, 1 or one each)`, at);
    }
    if (r.fits(F.param, np, 4)) {
      const types = ctx.statementParamTypes(statement);
      for (let i = 0; i < np && r.ok; i++) {
        const oid = types !== undefined && i < types.length ? types[i] : 0;
        r.open(F.param, i);
        const v = readTypedValue(r, oid, formatFor(paramFormats, i));
        r.close(v.value);
        if (r.ok) params.push(v);
      }
    }
    const nr = r.i16(F.resultFormatCount);
    const resultFormats = r.fits(F.resultFormat, nr, 2) ? readFormats(r, F.resultFormat, nr) : [];
    return { type: 'Bind', portal, statement, paramFormats, params, resultFormats };
  },
};

/** Describe and Close share one layout: a target byte ('S' statement / 'P' portal) and a name. */
function targetEntry(code: 'D' | 'C', type: 'Describe' | 'Close'): Entry {
  return {
    dir: 'frontend',
    code,
    name: type,
    decode(r) {
      const target = readTarget(r);
      return { type, target, name: r.cstr(F.name) };
    },
  };
}

const describe = targetEntry('D', 'Describe');
const close = targetEntry('C', 'Close');

const execute: Entry = {
  dir: 'frontend',
  code: 'E',
  name: 'Execute',
  decode(r) {
    const portal = r.cstr(F.portal);
    return { type: 'Execute', portal, maxRows: r.i32(F.maxRows) };
  },
};

const parameterDescription: Entry = {
  dir: 'backend',
  code: 't',
  name: 'ParameterDescription',
  decode(r) {
    return { type: 'ParameterDescription', paramTypes: readTypeOids(r) };
  },
};

/** Messages with no body: the decoded record is just its type. */
function empty(dir: 'frontend' | 'backend', code: string, type: 'Sync' | 'Flush' | 'ParseComplete' | 'BindComplete' | 'CloseComplete' | 'NoData' | 'PortalSuspended'): Entry {
  const m: DecodedMessage = { type };
  return {
    dir,
    code,
    name: type,
    // A fresh object per message: records are handed to sinks that may keep them.
    decode: () => ({ ...m }),
  };
}

export const entries: Entry[] = [
  parse, bind, describe, close, execute, parameterDescription,
  empty('frontend', 'S', 'Sync'),
  empty('frontend', 'H', 'Flush'),
  empty('backend', '1', 'ParseComplete'),
  empty('backend', '2', 'BindComplete'),
  empty('backend', '3', 'CloseComplete'),
  empty('backend', 'n', 'NoData'),
  empty('backend', 's', 'PortalSuspended'),
];
