/**
 * Extended query ("Message Flow": Extended Query, Pipelining; "Message Formats": Parse, Bind,
 * Describe, Execute, Close, Sync, Flush, ParseComplete, BindComplete, CloseComplete,
 * ParameterDescription, NoData, PortalSuspended).
 */
import type { Entry } from './entry.js';
import type { Reader } from './reader.js';
import { F, TARGETS } from './fields.js';
import { readTypedValue, readFormats, formatFor } from './typed.js';
import { bindRange, closeRange, describeRange, executeRange, parseRange } from './ranges.js';
import type { TypedValue, DecodedMessage } from './types.js';

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
  direct: parseRange,
  decode(r) {
    const statement = r.cstr(F.statement);
    const query = r.cstr(F.query);
    return { type: 'Parse', statement, query, paramTypes: readTypeOids(r) };
  },
};

const bind: Entry = {
  dir: 'frontend',
  code: 'B',
  name: 'Bind',
  direct: bindRange,
  decode(r, ctx) {
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
    direct: type === 'Describe' ? describeRange : closeRange,
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
  direct: executeRange,
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
