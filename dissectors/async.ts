/**
 * Messages the backend sends outside the request/response rhythm, or once at startup
 * ("Message Flow": Asynchronous Operations, Start-up; "Message Formats": ParameterStatus,
 * NotificationResponse, BackendKeyData, NegotiateProtocolVersion).
 */
import type { Entry } from './entry.js';
import { F } from './fields.js';
import { readBackendKey } from './startup-auth.js';

/** Smallest unrecognized option name: one character and its NUL. */
const MIN_OPTION = 2;

const parameterStatus: Entry = {
  dir: 'backend',
  code: 'S',
  name: 'ParameterStatus',
  decode(r) {
    const name = r.cstr(F.parameterName);
    return { type: 'ParameterStatus', name, value: r.cstr(F.parameterValue) };
  },
};

const notificationResponse: Entry = {
  dir: 'backend',
  code: 'A',
  name: 'NotificationResponse',
  decode(r) {
    // unsigned: a pooler's (PgBouncer, Odyssey) made-up PIDs use all 32 bits (tshark: FT_UINT32)
    const processId = r.u32(F.processId);
    const channel = r.cstr(F.channel);
    return { type: 'NotificationResponse', processId, channel, payload: r.cstr(F.payload) };
  },
};

const backendKeyData: Entry = {
  dir: 'backend',
  code: 'K',
  name: 'BackendKeyData',
  decode(r, ctx) {
    const processId = r.u32(F.processId);
    return { type: 'BackendKeyData', processId, secretKey: readBackendKey(r, ctx) };
  },
};

const negotiateProtocolVersion: Entry = {
  dir: 'backend',
  code: 'v',
  name: 'NegotiateProtocolVersion',
  decode(r) {
    // The documentation calls this the newest minor version, but servers send the whole
    // version number (major << 16 | minor: 196610 for 3.2, as PostgreSQL 18 does and libpq
    // reads it); a bare minor is accepted too.
    const version = r.i32(F.newestMinor);
    const newestMinor = version > 0xffff ? version & 0xffff : version;
    const n = r.i32(F.unrecognizedCount);
    const unrecognized: string[] = [];
    if (r.fits(F.unrecognized, n, MIN_OPTION)) {
      for (let i = 0; i < n && r.ok; i++) {
        const opt = r.cstr(F.unrecognized, i);
        if (r.ok) unrecognized.push(opt);
      }
    }
    return { type: 'NegotiateProtocolVersion', newestMinor, unrecognized };
  },
};

export const entries: Entry[] = [parameterStatus, notificationResponse, backendKeyData, negotiateProtocolVersion];
