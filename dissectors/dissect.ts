/**
 * The one entry point: dissect(raw, ctx) -> DecodedMessage. It picks the decoder (type byte,
 * or the startup-phase rules for messages without one), runs it over a bounds-checked reader,
 * and turns a fault into a Malformed record whose `partial` comes from re-running the decoder
 * with tracing on (faults are rare, so the hot path records nothing).
 */
import { Reader, type Span } from './reader.js';
import { F, REDACTED, tableName } from './fields.js';
import { cappedHex } from './hex.js';
import { lookup } from './registry.js';
import {
  startupKind, decodeStartupMessage, decodeCancelRequest, decodeRequestCodeOnly, decodeEncryptionAnswer,
} from './startup-auth.js';
import type { DecodedMessage, DissectContext, RawMessage, Malformed } from './types.js';

/** Hex kept for a bytes field in a Malformed `partial`. */
const PARTIAL_HEX_CAP = 256;

/** Decode with the reader given; a string result is the reason the message is Unknown. */
function run(raw: RawMessage, ctx: DissectContext, r: Reader): DecodedMessage | string {
  if (raw.code !== null) return lookup(raw.dir, raw.code).decode(r, ctx);
  if (raw.dir === 'backend') {
    if (raw.body.length !== 1) return `a backend message without a type byte must be a one-byte answer, not ${raw.body.length} bytes`;
    return decodeEncryptionAnswer(r, ctx);
  }
  switch (startupKind(raw.body)) {
    case 'StartupMessage': return decodeStartupMessage(r);
    case 'CancelRequest': return decodeCancelRequest(r);
    case 'SSLRequest': return decodeRequestCodeOnly(r, 'SSLRequest');
    case 'GSSENCRequest': return decodeRequestCodeOnly(r, 'GSSENCRequest');
    default: break;
  }
  if (raw.body.length < 4) return `startup packet of ${raw.body.length} bytes has no request code`;
  const code = raw.body.readInt32BE(0);
  return `startup packet with unknown request code ${code} (${code >>> 16}.${code & 0xffff})`;
}

/** The message name a record of this raw message carries (for Malformed records and callers). */
export function messageName(raw: RawMessage, ctx: DissectContext): string {
  if (raw.code !== null) {
    const e = lookup(raw.dir, raw.code);
    return e.nameFor !== undefined ? e.nameFor(raw.body, ctx) : e.name;
  }
  if (raw.dir === 'backend') return ctx.pendingRequest === 'gssenc' ? 'GSSENCResponse' : 'SSLResponse';
  return startupKind(raw.body) ?? 'StartupMessage';
}

/**
 * Whether a message's raw bytes may carry a secret (a 'p' body: password, SASL response; an 'R'
 * body: a SCRAM server signature): Malformed keeps no hex of it then.
 */
function secretBody(raw: RawMessage, ctx: DissectContext): boolean {
  return !ctx.showSecrets && mayCarrySecret(raw.dir, raw.code);
}

/** The message kinds whose bodies can hold a secret (see secretBody). */
export function mayCarrySecret(dir: 'frontend' | 'backend', code: string | null): boolean {
  return (dir === 'frontend' && code === 'p') || (dir === 'backend' && code === 'R');
}

/**
 * Decode one message. Never throws: unknown type bytes become Unknown, bodies that do not match
 * their format Malformed (with what decoded before the fault), and even a bug in a value
 * decoder surfaces as Malformed rather than an exception into the pipeline.
 */
export function dissect(raw: RawMessage, ctx: DissectContext): DecodedMessage {
  try {
    if (raw.code !== null) {
      const direct = lookup(raw.dir, raw.code).direct;
      if (direct !== undefined) {
        const m = direct(raw.source, raw.bodyStart, raw.bodyEnd, ctx);
        if (m !== null) return m;
      }
    }
    const r = new Reader(raw.body);
    r.showSecrets = ctx.showSecrets;
    const m = run(raw, ctx, r);
    if (typeof m === 'string') return { type: 'Unknown', reason: m, raw: cappedHex(raw.body), size: raw.body.length };
    if (m.type === 'Unknown') return m;
    r.finish();
    if (r.fault === null) return m;
    return malformed(raw, ctx, r);
  } catch (err) {
    const reason = `decoder error: ${err instanceof Error ? err.message : String(err)}`;
    return {
      type: 'Malformed', name: safeName(raw, ctx), reason, fault: 'invalid',
      raw: secretBody(raw, ctx) ? REDACTED : cappedHex(raw.body), size: raw.body.length, offset: 0, partial: {},
    };
  }
}

function safeName(raw: RawMessage, ctx: DissectContext): string {
  try {
    return messageName(raw, ctx);
  } catch {
    return 'Unknown';
  }
}

function malformed(raw: RawMessage, ctx: DissectContext, r: Reader): Malformed {
  const t = traceDecode(raw, ctx);
  return {
    type: 'Malformed',
    name: messageName(raw, ctx),
    reason: r.reason,
    fault: r.fault ?? 'invalid',
    raw: secretBody(raw, ctx) ? REDACTED : cappedHex(raw.body),
    size: raw.body.length,
    offset: r.faultOffset,
    partial: partialFrom(t.spans, raw.body, ctx.showSecrets),
  };
}

/** Decode again with tracing: the spans (byte ranges per field) and the reader's final state. */
export function traceDecode(raw: RawMessage, ctx: DissectContext): { spans: Span[]; reader: Reader; result: DecodedMessage | string } {
  const r = new Reader(raw.body, true);
  r.showSecrets = ctx.showSecrets;
  const result = run(raw, ctx, r);
  if (typeof result !== 'string' && result.type !== 'Unknown') r.finish();
  return { spans: r.trace ?? [], reader: r, result };
}

/** Fields decoded before a fault, by their JSON names (lists as arrays, groups as objects). */
function partialFrom(spans: readonly Span[], body: Buffer, showSecrets: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of spans) {
    const f = s.field;
    if (f.json === null) continue;
    let v: unknown;
    if (s.children !== null) {
      const sub = partialFrom(s.children, body, showSecrets);
      v = Object.keys(sub).length > 0 ? sub : s.value;
    } else if (f.secret === true && !showSecrets) {
      v = REDACTED;
    } else if (s.value === null && s.length > 0) {
      v = body.toString('hex', s.offset, s.offset + Math.min(s.length, PARTIAL_HEX_CAP));
    } else if (f.named === true) {
      v = tableName(f, s.value) ?? s.value;
    } else if (f.char === true && typeof s.value === 'number') {
      v = String.fromCharCode(s.value);
    } else {
      v = s.value;
    }
    if (f === F.parameter && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      // StartupMessage parameters are a name -> value record in the full message; so here.
      const rec = (out.parameters ??= Object.create(null) as Record<string, unknown>) as Record<string, unknown>;
      const p = v as Record<string, unknown>;
      if (typeof p.name === 'string') rec[p.name] = p.value;
    } else if (f.list === true) {
      const arr = out[f.json];
      if (Array.isArray(arr)) arr.push(v);
      else out[f.json] = [v];
    } else {
      out[f.json] = v;
    }
  }
  return out;
}
