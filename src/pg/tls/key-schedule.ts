/**
 * Key derivation from what a key log gives: the TLS 1.3 traffic secrets (RFC 8446 section 7:
 * HKDF-Expand-Label for "key", "iv" and "traffic upd") and the TLS 1.2 master secret (RFC 5246
 * section 6.3: the key block from the PRF, P_hash over the suite's hash). node:crypto has
 * HKDF, but only extract-then-expand; TLS 1.3 needs the expand step alone, so it is written
 * out here with HMAC.
 */
import { createHmac } from 'node:crypto';
import type { CipherSuite } from './cipher-suites.js';

/** RFC 5869 HKDF-Expand. */
function hkdfExpand(hash: 'sha256' | 'sha384', prk: Buffer, info: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  let prev = Buffer.alloc(0);
  let filled = 0;
  for (let i = 1; filled < length; i++) {
    prev = createHmac(hash, prk).update(prev).update(info).update(Buffer.of(i)).digest();
    filled += prev.copy(out, filled);
  }
  return out;
}

/** RFC 8446 section 7.1 HKDF-Expand-Label with an empty context (all pgsniff needs). */
function hkdfExpandLabel(hash: 'sha256' | 'sha384', secret: Buffer, label: string, length: number): Buffer {
  const full = Buffer.from('tls13 ' + label, 'latin1');
  const info = Buffer.alloc(2 + 1 + full.length + 1);
  info.writeUInt16BE(length, 0);
  info[2] = full.length;
  full.copy(info, 3);
  info[3 + full.length] = 0; // context length
  return hkdfExpand(hash, secret, info, length);
}

export interface TrafficKeys {
  key: Buffer;
  /** Static IV (TLS 1.3, ChaCha20) or salt (TLS 1.2 GCM); empty for CBC. */
  iv: Buffer;
  /** HMAC key (CBC suites only). */
  macKey: Buffer;
}

/** TLS 1.3: the write key and IV of one direction from its traffic secret. */
export function tls13Keys(suite: CipherSuite, secret: Buffer): TrafficKeys {
  return {
    key: hkdfExpandLabel(suite.prfHash, secret, 'key', suite.keyLength),
    iv: hkdfExpandLabel(suite.prfHash, secret, 'iv', 12),
    macKey: Buffer.alloc(0),
  };
}

/** TLS 1.3 KeyUpdate: application_traffic_secret_N+1. */
export function tls13NextSecret(suite: CipherSuite, secret: Buffer): Buffer {
  return hkdfExpandLabel(suite.prfHash, secret, 'traffic upd', secret.length);
}

/** RFC 5246 section 5: PRF(secret, label, seed) = P_<hash>(secret, label + seed). */
function prf12(hash: 'sha256' | 'sha384', secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  const out = Buffer.alloc(length);
  let a = labelSeed;
  let filled = 0;
  while (filled < length) {
    a = createHmac(hash, secret).update(a).digest();
    filled += createHmac(hash, secret).update(a).update(labelSeed).digest().copy(out, filled);
  }
  return out;
}

/** TLS 1.2: both directions' keys from the master secret and the two hello randoms. */
export function tls12Keys(suite: CipherSuite, master: Buffer, clientRandom: Buffer, serverRandom: Buffer): { client: TrafficKeys; server: TrafficKeys } {
  const { macLength: m, keyLength: k, fixedIvLength: v } = suite;
  const block = prf12(suite.prfHash, master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 2 * (m + k + v));
  let o = 0;
  const take = (n: number): Buffer => { const b = block.subarray(o, o + n); o += n; return b; };
  const clientMac = take(m), serverMac = take(m);
  const clientKey = take(k), serverKey = take(k);
  const clientIv = take(v), serverIv = take(v);
  return {
    client: { key: clientKey, iv: clientIv, macKey: clientMac },
    server: { key: serverKey, iv: serverIv, macKey: serverMac },
  };
}
