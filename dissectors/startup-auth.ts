/**
 * Startup and authentication ("Message Flow": Start-up, SASL Authentication; "Message Formats":
 * StartupMessage, SSLRequest, GSSENCRequest, CancelRequest, Authentication*, PasswordMessage,
 * SASLInitialResponse, SASLResponse, GSSResponse, Terminate).
 *
 * Startup-phase messages carry no type byte: an Int32 after the length says what they are (a
 * protocol version major << 16 | minor, or one of the request codes 1234.5678/5679/5680). The
 * backend's answer to SSLRequest / GSSENCRequest is a single byte with no length at all.
 * Frontend 'p' is four messages that only the authentication request before it tells apart.
 */
import type { Entry } from './entry.js';
import type { Reader } from './reader.js';
import {
  F, AUTH_TYPES, REDACTED, CANCEL_REQUEST_CODE, SSL_REQUEST_CODE, GSSENC_REQUEST_CODE,
} from './fields.js';
import { cappedHex } from './hex.js';
import { scramParts, scramAttributes, looksLikeScram, redactScram } from './scram.js';
import type {
  DecodedMessage, DissectContext, AuthenticationRequest, StartupMessage, CancelRequest,
  PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse, ScramAttributes,
} from './types.js';

/** 3.2 allows a cancel key of up to 256 bytes ("BackendKeyData"); 3.0's is 4. */
const MAX_CANCEL_KEY = 256;
const MIN_CANCEL_KEY = 4;

// ---- startup phase (code null) ----

/** What a startup-phase body is, from its first Int32 (without reading it): for dissect() and nameFor. */
export function startupKind(body: Buffer): 'StartupMessage' | 'SSLRequest' | 'GSSENCRequest' | 'CancelRequest' | null {
  if (body.length < 4) return null;
  const code = body.readInt32BE(0);
  if (code === SSL_REQUEST_CODE) return 'SSLRequest';
  if (code === GSSENC_REQUEST_CODE) return 'GSSENCRequest';
  if (code === CANCEL_REQUEST_CODE) return 'CancelRequest';
  if (code >>> 16 === 3) return 'StartupMessage';
  return null;
}

export function decodeStartupMessage(r: Reader): StartupMessage {
  const version = r.i32(F.protocolVersion);
  const parameters = Object.create(null) as Record<string, string>;
  for (let i = 0; r.ok; i++) {
    if (r.remaining() === 0) {
      r.fail('truncated', 'parameter list ends without its terminating NUL');
      break;
    }
    if (r.buf[r.pos] === 0) {
      r.u8(F.terminator);
      break;
    }
    r.open(F.parameter, i);
    const name = r.cstr(F.parameterName);
    const value = r.cstr(F.parameterValue);
    r.close(value);
    if (r.ok) parameters[name] = value;
  }
  return { type: 'StartupMessage', protocolMajor: version >>> 16, protocolMinor: version & 0xffff, parameters };
}

export function decodeCancelRequest(r: Reader): CancelRequest {
  r.i32(F.requestCode);
  const processId = r.u32(F.processId);
  return { type: 'CancelRequest', processId, secretKey: readKey(r) };
}

/**
 * The cancel key: the rest of the body, 4 bytes in 3.0 and up to 256 in 3.2. A CancelRequest
 * travels on a fresh connection that negotiated nothing, so its length alone says which.
 */
function readKey(r: Reader): string {
  const at = r.pos;
  const key = r.rest(F.secretKey);
  if (r.ok && key.length < MIN_CANCEL_KEY) r.fail('truncated', `${F.secretKey.label}: ${key.length} bytes, at least ${MIN_CANCEL_KEY} expected`, at);
  else if (r.ok && key.length > MAX_CANCEL_KEY) r.fail('invalid', `${F.secretKey.label}: ${key.length} bytes, at most ${MAX_CANCEL_KEY} allowed`, at);
  return key.toString('hex');
}

/** BackendKeyData's key: exactly 4 bytes under 3.0 (more is trailing garbage), 4..256 under 3.2. */
export function readBackendKey(r: Reader, ctx: DissectContext): string {
  if (ctx.protocolMinor < 2) return r.bytes(F.secretKey, 4).toString('hex');
  return readKey(r);
}

export function decodeRequestCodeOnly(r: Reader, type: 'SSLRequest' | 'GSSENCRequest'): DecodedMessage {
  r.i32(F.requestCode);
  return { type };
}

/**
 * The backend's one-byte answer. 'S' accepts an SSLRequest, 'G' a GSSENCRequest, 'N' refuses
 * either: which one it refuses comes from the framer (ctx.pendingRequest); without it, 'N' is
 * taken as refusing SSL, by far the more common request.
 */
export function decodeEncryptionAnswer(r: Reader, ctx: DissectContext): DecodedMessage | string {
  const b = r.u8(F.encryptionAnswer);
  const pending = ctx.pendingRequest ?? null;
  if (b === 0x53 /* S */ && pending !== 'gssenc') return { type: 'SSLResponse', accepted: true };
  if (b === 0x47 /* G */ && pending !== 'ssl') return { type: 'GSSENCResponse', accepted: true };
  if (b === 0x4e /* N */) return pending === 'gssenc' ? { type: 'GSSENCResponse', accepted: false } : { type: 'SSLResponse', accepted: false };
  const answering = pending === null ? 'an encryption request' : pending === 'ssl' ? 'SSLRequest' : 'GSSENCRequest';
  return `byte 0x${b.toString(16).padStart(2, '0')} is not an answer to ${answering} (S, G or N)`;
}

// ---- backend 'R' ----

const SASL_MECHANISM_MIN = 2; // one character and its NUL

/**
 * SASL data in either direction. SCRAM: the client proof and the server signature are redacted
 * (scram.ts says why those and only those). Any other mechanism (PostgreSQL 18's OAUTHBEARER
 * carries a bearer token in SASLInitialResponse, as good as a password while it lives): the
 * data is shown only when secrets are.
 */
function saslText(data: Buffer, r: Reader, mech: string | null): { data: string; scram?: ScramAttributes } {
  const text = data.toString('utf8');
  const scram = mech !== null ? mech.startsWith('SCRAM-') : looksLikeScram(text);
  if (scram) {
    const parts = scramParts(text);
    return { data: r.showSecrets ? text : redactScram(text, parts), scram: scramAttributes(parts, r.showSecrets) };
  }
  return { data: r.showSecrets ? text : REDACTED };
}

const authentication: Entry = {
  dir: 'backend',
  code: 'R',
  name: 'Authentication',
  nameFor(body) {
    return body.length >= 4 ? AUTH_TYPES[body.readInt32BE(0)] ?? 'Authentication' : 'Authentication';
  },
  decode(r, ctx): AuthenticationRequest {
    const at = r.pos;
    const authType = r.i32(F.authType);
    // One case per request code, so each message has exactly its schema's fields.
    switch (authType) {
      case 0: return { type: 'AuthenticationOk', authType };
      case 2: return { type: 'AuthenticationKerberosV5', authType };
      case 3: return { type: 'AuthenticationCleartextPassword', authType };
      case 5: return { type: 'AuthenticationMD5Password', authType, salt: r.bytes(F.salt, 4).toString('hex') };
      case 7: return { type: 'AuthenticationGSS', authType };
      case 8: {
        const data = r.rest(F.authData);
        return { type: 'AuthenticationGSSContinue', authType, dataLength: data.length, data: cappedHex(data) };
      }
      case 9: return { type: 'AuthenticationSSPI', authType };
      case 10: {
        const mechanisms: string[] = [];
        for (let i = 0; r.ok; i++) {
          if (r.remaining() === 0) {
            r.fail('truncated', 'mechanism list ends without its terminating NUL');
            break;
          }
          if (r.buf[r.pos] === 0) {
            r.u8(F.terminator);
            break;
          }
          if (!r.fits(F.mechanismOffered, 1, SASL_MECHANISM_MIN)) break;
          const mech = r.cstr(F.mechanismOffered, i);
          if (r.ok) mechanisms.push(mech);
        }
        return { type: 'AuthenticationSASL', authType, mechanisms };
      }
      case 11:
      case 12: {
        const data = r.rest(F.saslData);
        const t = saslText(data, r, ctx.saslMechanism ?? null);
        const fields = t.scram === undefined ? { dataLength: data.length, data: t.data } : { dataLength: data.length, data: t.data, scram: t.scram };
        return authType === 11
          ? { type: 'AuthenticationSASLContinue', authType, ...fields }
          : { type: 'AuthenticationSASLFinal', authType, ...fields };
      }
      default:
        // A fault: dissect() makes a Malformed of it (its partial comes from the reads above).
        if (r.ok) r.fail('invalid', `unknown authentication request code ${authType}`, at);
        return { type: 'AuthenticationOk', authType: 0 };
    }
  },
};

// ---- frontend 'p' ----

type PKind = 'PasswordMessage' | 'SASLInitialResponse' | 'SASLResponse' | 'GSSResponse';

/**
 * Which 'p' this is. The authentication request the backend sent last decides; without one
 * (the capture started after it), the body's shape is the best evidence.
 */
function passwordKind(body: Buffer, ctx: DissectContext): PKind {
  switch (ctx.authType) {
    case 3: case 5: return 'PasswordMessage';
    case 10: return 'SASLInitialResponse';
    case 11: return 'SASLResponse';
    case 7: case 8: case 9: return 'GSSResponse';
    default: break;
  }
  const nul = body.indexOf(0);
  if (nul > 0 && nul <= 32 && body.length >= nul + 5) {
    const mech = body.toString('latin1', 0, nul);
    const len = body.readInt32BE(nul + 1);
    if (/^[A-Z0-9_-]+$/.test(mech) && (len === -1 || len === body.length - nul - 5)) return 'SASLInitialResponse';
  }
  if (body.length > 2 && body[0] === 0x63 /* c */ && body[1] === 0x3d /* = */) return 'SASLResponse';
  return 'PasswordMessage';
}

function decodePassword(r: Reader, ctx: DissectContext): PasswordMessage {
  const pw = r.cstr(F.password);
  const method = ctx.authType === 3 ? 'cleartext' : ctx.authType === 5 ? 'md5' : 'unknown';
  return { type: 'PasswordMessage', method, password: r.showSecrets ? pw : REDACTED };
}

function decodeSaslInitial(r: Reader, ctx: DissectContext): SASLInitialResponse {
  const mechanism = r.cstr(F.mechanism);
  const at = r.pos;
  const len = r.i32(F.saslDataLength);
  const m: SASLInitialResponse = { type: 'SASLInitialResponse', mechanism, dataLength: len, data: null };
  if (len < -1) {
    if (r.ok) r.fail('invalid', `${F.saslDataLength.label}: ${len} (only -1 means none)`, at);
  } else if (len >= 0) {
    const data = r.bytes(F.saslData, len);
    if (r.ok) {
      const t = saslText(data, r, mechanism);
      m.data = t.data;
      if (t.scram !== undefined) m.scram = t.scram;
    }
  }
  return m;
}

function decodeSaslResponse(r: Reader, ctx: DissectContext): SASLResponse {
  const data = r.rest(F.saslData);
  const t = saslText(data, r, ctx.saslMechanism ?? null);
  const m: SASLResponse = { type: 'SASLResponse', dataLength: data.length, data: t.data };
  if (t.scram !== undefined) m.scram = t.scram;
  return m;
}

function decodeGssResponse(r: Reader): GSSResponse {
  const data = r.rest(F.gssToken);
  return { type: 'GSSResponse', dataLength: data.length, data: r.showSecrets ? cappedHex(data) : REDACTED };
}

const password: Entry = {
  dir: 'frontend',
  code: 'p',
  name: 'PasswordMessage',
  nameFor(body, ctx) {
    return passwordKind(body, ctx);
  },
  decode(r, ctx) {
    switch (passwordKind(r.buf, ctx)) {
      case 'SASLInitialResponse': return decodeSaslInitial(r, ctx);
      case 'SASLResponse': return decodeSaslResponse(r, ctx);
      case 'GSSResponse': return decodeGssResponse(r);
      default: return decodePassword(r, ctx);
    }
  },
};

const terminate: Entry = {
  dir: 'frontend',
  code: 'X',
  name: 'Terminate',
  decode() {
    return { type: 'Terminate' };
  },
};

export const entries: Entry[] = [authentication, password, terminate];
