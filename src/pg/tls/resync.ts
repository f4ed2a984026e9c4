/**
 * Finding a record boundary again after bytes were lost in a protected direction. Record
 * boundaries cannot be read from ciphertext, but a record header is a 5-byte pattern (type,
 * 0x0303, length) and the AEAD tag or MAC proves a candidate: if a record decrypts with a
 * sequence number a little past the expected one, both the boundary and the number of lost
 * records are known. Every attempt counts against a budget, so hostile bytes cannot make this
 * expensive.
 */
import type { Decrypted, RecordCipher } from './record-cipher.js';

const CT_ALERT = 21;
const CT_HANDSHAKE = 22;
const CT_APPLICATION_DATA = 23;

/** Sequence numbers tried past the expected one for each candidate header. */
const WINDOW = 256;
/** Decryptions tried before giving the direction up. */
const RESYNC_BUDGET = 8192;

type ResyncResult =
  /** data[offset .. offset + 5 + length] is a record that decrypted as number `seq`. */
  | { kind: 'found'; offset: number; length: number; seq: number; decrypted: Decrypted }
  /** No record yet: keep data from keepFrom on and search again when more bytes come. */
  | { kind: 'more'; keepFrom: number }
  /** The budget is spent. */
  | { kind: 'exhausted' };

interface ResyncSearch {
  cipher: RecordCipher;
  /** TLS 1.3 protects every record as application_data; TLS 1.2 keeps the real type outside. */
  tls13: boolean;
  /** TLS 1.2 GCM: the record's explicit nonce is worth trying as its sequence number (OpenSSL sends it so). */
  explicitNonceIsSeq: boolean;
  expectedSeq: number;
  maxRecord: number;
  /** Attempts so far in this resynchronisation (updated). */
  attempts: number;
}

export function findRecord(s: ResyncSearch, data: Buffer): ResyncResult {
  for (let i = 0; i + 5 <= data.length; i++) {
    const type = data[i];
    const len = data.readUInt16BE(i + 3);
    const plausible = (type === CT_APPLICATION_DATA || (!s.tls13 && (type === CT_ALERT || type === CT_HANDSHAKE)))
      && data[i + 1] === 3 && data[i + 2] === 3 && len >= 16 && len <= s.maxRecord;
    if (!plausible) continue;
    if (i + 5 + len > data.length) return { kind: 'more', keepFrom: i };
    const header = data.subarray(i, i + 5), fragment = data.subarray(i + 5, i + 5 + len);
    let explicit = -1;
    if (s.explicitNonceIsSeq && fragment.length >= 8) {
      const n = fragment.readUInt32BE(0) * 0x100000000 + fragment.readUInt32BE(4);
      if (n >= s.expectedSeq + WINDOW && n < s.expectedSeq + 1_000_000) explicit = n;
    }
    for (let k = explicit >= 0 ? -1 : 0; k < WINDOW; k++) {
      if (++s.attempts > RESYNC_BUDGET) return { kind: 'exhausted' };
      const seq = k < 0 ? explicit : s.expectedSeq + k;
      const r = s.cipher.open(header, fragment, seq);
      if (r) return { kind: 'found', offset: i, length: len, seq, decrypted: r };
    }
  }
  // Keep a possible header cut by the end of data.
  return { kind: 'more', keepFrom: Math.max(0, data.length - 4) };
}
