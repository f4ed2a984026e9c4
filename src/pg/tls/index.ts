/**
 * TLS on PostgreSQL connections: after an SSLRequest answered 'S', or from the first byte with
 * direct TLS (PostgreSQL 17+, ALPN "postgresql"). src/pg/connection.ts hands every later
 * Delivery of both directions to a TlsConnection and frames the plaintext it returns.
 */
export { KeyLog, type SessionSecrets } from './keylog.js';
export { TlsConnection, NOTE_NO_KEY, NOTE_WRONG_KEY, type PlaintextOut, type TlsAnomalyHandler } from './connection.js';
export type { TlsSummary } from './summary.js';
export { cipherSuiteName, versionName } from './cipher-suites.js';

/** pcapng Decryption Secrets Block secrets type for an NSS key log (pcapng spec, "DSB"). */
export const DSB_TLS_KEYLOG = 0x544c534b;

/**
 * Whether a direction's first bytes start a TLS handshake record holding a ClientHello:
 * content type 22, version 3.x, a length a record can have, then handshake type 1. A
 * PostgreSQL startup packet can never look like this (its length would be over 369 MB).
 * Fewer than 6 bytes are judged on what is there.
 */
export function looksLikeTls(firstBytes: Buffer): boolean {
  const b = firstBytes;
  if (b.length < 1 || b[0] !== 0x16) return false;
  if (b.length >= 2 && b[1] !== 0x03) return false;
  if (b.length >= 3 && b[2] > 0x04) return false;
  if (b.length >= 5) {
    const len = b.readUInt16BE(3);
    if (len < 4 || len > 16384 + 2048) return false;
  }
  return b.length < 6 || b[5] === 0x01;
}
