/**
 * The fast-path function call ("Message Flow": Function Call; "Message Formats": FunctionCall,
 * FunctionCallResponse). Argument and result types are not on the wire (only the function's
 * OID is), so values decode as unknown types: text as text, binary as hex.
 */
import type { Entry } from './entry.js';
import { F } from './fields.js';
import { readTypedValue, readFormats, formatFor, formatOf } from './typed.js';
import type { TypedValue } from './types.js';

const functionCall: Entry = {
  dir: 'frontend',
  code: 'F',
  name: 'FunctionCall',
  decode(r) {
    const functionOid = r.u32(F.functionOid);
    const nf = r.i16(F.argFormatCount);
    const formats = r.fits(F.argFormat, nf, 2) ? readFormats(r, F.argFormat, nf) : [];
    const at = r.pos;
    const na = r.i16(F.argCount);
    if (r.ok && nf > 1 && nf !== na) r.fail('invalid', `${nf} argument format codes for ${na} arguments (0, 1 or one each)`, at);
    const args: TypedValue[] = [];
    if (r.fits(F.arg, na, 4)) {
      for (let i = 0; i < na && r.ok; i++) {
        r.open(F.arg, i);
        const v = readTypedValue(r, 0, formatFor(formats, i));
        r.close(v.value);
        if (r.ok) args.push(v);
      }
    }
    const rat = r.pos;
    const resultFormat = formatOf(r, r.i16(F.functionResultFormat), F.functionResultFormat, rat);
    return { type: 'FunctionCall', functionOid, args, resultFormat };
  },
};

const functionCallResponse: Entry = {
  dir: 'backend',
  code: 'V',
  name: 'FunctionCallResponse',
  decode(r, ctx) {
    // The result's format is the one the FunctionCall asked for; it is not repeated here, so
    // when that request is unknown the bytes decide (text when they read as text, else hex) and
    // the record says so: resultFormat null.
    const asked = ctx.functionResultFormat?.() ?? null;
    r.open(F.functionResult);
    const v = readTypedValue(r, 0, asked ?? 'guess');
    r.close(v.value);
    return { type: 'FunctionCallResponse', result: v, resultFormat: asked };
  },
};

export const entries: Entry[] = [functionCall, functionCallResponse];
