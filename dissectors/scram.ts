/**
 * SCRAM messages carried in SASL data (RFC 5802, used by SCRAM-SHA-256 and SCRAM-SHA-256-PLUS,
 * "SASL Authentication" in the PostgreSQL documentation). All four messages are comma-separated
 * `letter=value` attributes; the client-first message starts with a gs2 header
 * (`n,,` / `y,,` / `p=cb-type,` then an optional `a=authzid`).
 *
 * What is redacted unless secrets are shown (SECRET_ATTRIBUTES): the client proof `p` and the
 * server signature `v`. Each is an HMAC keyed by a value derived from the password
 * (ClientKey / ServerKey) over the exchange's AuthMessage: with either one, the salt, the
 * iteration count and the nonces, a password guess can be tested offline (a dictionary
 * attack). Without both, what stays visible (user, nonces, salt, iteration count, channel
 * binding, error) is derived from no secret: the salt and the count are what the server sends
 * to anyone who asks for that user, and the nonces are random; no value computed from the
 * password remains to test a guess against.
 */
import type { ScramAttributes } from './types.js';
import { REDACTED } from './fields.js';

/** One attribute with its character range in the SASL data (SCRAM is ASCII, so characters are bytes). */
interface ScramPart {
  letter: string;
  value: string;
  start: number;
  end: number;
}

/** Split SCRAM text into attributes (and gs2 header parts, letter 'gs2'). Bounded by the text's length. */
export function scramParts(text: string): ScramPart[] {
  const parts: ScramPart[] = [];
  let pos = 0;
  // A gs2 header: cbind flag, then authzid (possibly empty), each followed by a comma.
  const c0 = text.charCodeAt(0);
  if ((c0 === 0x6e /* n */ || c0 === 0x79 /* y */) && text.charCodeAt(1) === 0x2c) {
    parts.push({ letter: 'gs2', value: text[0], start: 0, end: 1 });
    pos = 2;
  } else if (text.startsWith('p=')) {
    const comma = text.indexOf(',');
    const end = comma < 0 ? text.length : comma;
    parts.push({ letter: 'gs2', value: text.slice(0, end), start: 0, end });
    pos = comma < 0 ? text.length : comma + 1;
  }
  if (parts.length > 0) {
    const comma = text.indexOf(',', pos);
    const end = comma < 0 ? text.length : comma;
    if (end > pos) parts.push({ letter: 'a', value: text.slice(pos + 2, end), start: pos, end });
    pos = comma < 0 ? text.length : comma + 1;
  }
  while (pos < text.length) {
    const comma = text.indexOf(',', pos);
    const end = comma < 0 ? text.length : comma;
    const eq = text.indexOf('=', pos);
    if (eq > pos && eq < end) parts.push({ letter: text.slice(pos, eq), value: text.slice(eq + 1, end), start: pos, end });
    else if (end > pos) parts.push({ letter: '', value: text.slice(pos, end), start: pos, end });
    pos = end + 1;
  }
  return parts;
}

/** Whether text looks like a SCRAM message (the first attribute is one SCRAM messages start with). */
export function looksLikeScram(text: string): boolean {
  return /^(?:[ny],|p=[^,]*,|r=|c=|v=|e=)/.test(text);
}

/** The attributes that allow a password test (see the file comment): `p` client proof, `v` server signature. */
export const SECRET_ATTRIBUTES: ReadonlySet<string> = new Set(['p', 'v']);

export function scramAttributes(parts: ScramPart[], showSecrets: boolean): ScramAttributes {
  const a: ScramAttributes = {};
  for (const p of parts) {
    switch (p.letter) {
      case 'gs2':
        if (p.value === 'n' || p.value === 'y') a.gs2Flag = p.value;
        else {
          a.gs2Flag = 'p';
          a.channelBindingType = p.value.slice(2);
        }
        break;
      case 'a': a.authzid = p.value; break;
      case 'n': a.user = p.value; break;
      case 'r': a.nonce = p.value; break;
      case 's': a.salt = p.value; break;
      case 'i': {
        const n = Number(p.value);
        if (/^[0-9]{1,10}$/.test(p.value)) a.iterations = n;
        else extensions(a).i = p.value;
        break;
      }
      case 'c': a.channelBinding = p.value; break;
      case 'p': a.proof = showSecrets ? p.value : REDACTED; break;
      case 'v': a.serverSignature = showSecrets ? p.value : REDACTED; break;
      case 'e': a.error = p.value; break;
      default: extensions(a)[p.letter] = p.value;
    }
  }
  return a;
}

function extensions(a: ScramAttributes): Record<string, string> {
  return (a.extensions ??= Object.create(null) as Record<string, string>);
}

/** The SCRAM text with the proof's and the server signature's values replaced, for the `data` field when secrets are hidden. */
export function redactScram(text: string, parts: ScramPart[]): string {
  let out = '';
  let pos = 0;
  for (const p of parts) {
    if (!SECRET_ATTRIBUTES.has(p.letter)) continue;
    out += text.slice(pos, p.start + 2) + REDACTED;
    pos = p.end;
  }
  return pos === 0 ? text : out + text.slice(pos);
}
