/**
 * Decrypting one TLS record with one direction's keys. TLS 1.3 (RFC 8446 section 5.2-5.3):
 * AEAD over the inner plaintext, nonce = IV xor sequence number, additional data = the record
 * header; the real content type is the last non-zero byte. TLS 1.2 AEAD (RFC 5288, RFC 7905):
 * additional data = seq | type | version | plaintext length; GCM carries 8 nonce bytes in the
 * record, ChaCha20 XORs the sequence into its 12-byte IV. TLS 1.2 CBC (RFC 5246 section
 * 6.2.3.2, RFC 7366 encrypt-then-MAC): explicit IV first, HMAC over the plaintext (or over the
 * ciphertext with encrypt-then-MAC).
 *
 * A record that fails authentication yields null: the caller decides what that means (wrong
 * key, lost records). Nothing here throws on any input.
 */
import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import type { CipherSuite } from './cipher-suites.js';
import type { TrafficKeys } from './key-schedule.js';

const TAG = 16;

export interface Decrypted {
  /** Content type: the record's for TLS 1.2, the inner one for TLS 1.3. */
  type: number;
  plaintext: Buffer;
}

function writeSeq(b: Buffer, offset: number, seq: number): void {
  b.writeUInt32BE(Math.floor(seq / 0x100000000), offset);
  b.writeUInt32BE(seq >>> 0, offset + 4);
}

function aeadOpen(suite: CipherSuite, key: Buffer, nonce: Buffer, aad: Buffer, sealed: Buffer): Buffer | null {
  if (sealed.length < TAG) return null;
  const ct = sealed.subarray(0, sealed.length - TAG);
  const tag = sealed.subarray(sealed.length - TAG);
  try {
    if (suite.cipher === 'aes-128-ccm') {
      const d = createDecipheriv('aes-128-ccm', key, nonce, { authTagLength: TAG });
      d.setAuthTag(tag);
      d.setAAD(aad, { plaintextLength: ct.length });
      const out = d.update(ct);
      d.final();
      return out;
    }
    if (suite.cipher === 'chacha20-poly1305') {
      const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
      d.setAAD(aad, { plaintextLength: ct.length });
      d.setAuthTag(tag);
      const out = d.update(ct);
      d.final();
      return out;
    }
    const d = createDecipheriv(suite.cipher as 'aes-128-gcm' | 'aes-256-gcm', key, nonce);
    d.setAAD(aad);
    d.setAuthTag(tag);
    const head = d.update(ct);
    const tail = d.final();
    return tail.length ? Buffer.concat([head, tail]) : head;
  } catch {
    return null;
  }
}

export class RecordCipher {
  /**
   * Scratch space reused for every record (per-record hot path): node:crypto copies the nonce
   * when a decipher is created and consumes the additional data in setAAD, so neither is kept.
   */
  private readonly nonce = Buffer.alloc(12);
  private readonly aad = Buffer.alloc(13);

  constructor(
    private readonly suite: CipherSuite,
    private readonly keys: TrafficKeys,
    private readonly tls13: boolean,
    /** TLS 1.2 CBC with the encrypt_then_mac extension negotiated. */
    private readonly encryptThenMac: boolean,
  ) {}

  /**
   * header: the 5-byte record header; fragment: the record's payload; seq: this direction's
   * record number under these keys. Returns null when the record does not authenticate.
   */
  open(header: Buffer, fragment: Buffer, seq: number): Decrypted | null {
    if (this.tls13) return this.open13(header, fragment, seq);
    if (this.suite.mac) return this.openCbc(header, fragment, seq);
    return this.open12(header, fragment, seq);
  }

  private open13(header: Buffer, fragment: Buffer, seq: number): Decrypted | null {
    const inner = aeadOpen(this.suite, this.keys.key, this.xorNonce(seq), header, fragment);
    if (!inner) return null;
    // TLSInnerPlaintext: content | type | zero padding.
    let end = inner.length;
    while (end > 0 && inner[end - 1] === 0) end--;
    if (end === 0) return null;
    return { type: inner[end - 1], plaintext: inner.subarray(0, end - 1) };
  }

  /** The static IV with the sequence number XORed into its last 8 bytes (TLS 1.3, ChaCha20 in TLS 1.2). */
  private xorNonce(seq: number): Buffer {
    const n = this.nonce;
    this.keys.iv.copy(n, 0, 0, 12);
    n.writeUInt32BE((n.readUInt32BE(4) ^ Math.floor(seq / 0x100000000)) >>> 0, 4);
    n.writeUInt32BE((n.readUInt32BE(8) ^ (seq >>> 0)) >>> 0, 8);
    return n;
  }

  private aad12(header: Buffer, seq: number, length: number): Buffer {
    const aad = this.aad;
    writeSeq(aad, 0, seq);
    aad[8] = header[0];
    aad[9] = header[1];
    aad[10] = header[2];
    aad.writeUInt16BE(length, 11);
    return aad;
  }

  private open12(header: Buffer, fragment: Buffer, seq: number): Decrypted | null {
    if (this.suite.cipher === 'chacha20-poly1305') {
      if (fragment.length < TAG) return null;
      const aad = this.aad12(header, seq, fragment.length - TAG);
      const pt = aeadOpen(this.suite, this.keys.key, this.xorNonce(seq), aad, fragment);
      return pt ? { type: header[0], plaintext: pt } : null;
    }
    if (fragment.length < 8 + TAG) return null;
    const nonce = this.nonce;
    this.keys.iv.copy(nonce, 0, 0, 4);
    fragment.copy(nonce, 4, 0, 8);
    const aad = this.aad12(header, seq, fragment.length - 8 - TAG);
    const pt = aeadOpen(this.suite, this.keys.key, nonce, aad, fragment.subarray(8));
    return pt ? { type: header[0], plaintext: pt } : null;
  }

  private openCbc(header: Buffer, fragment: Buffer, seq: number): Decrypted | null {
    const mac = this.suite.mac;
    if (!mac) return null;
    const macLen = this.suite.macLength;
    let body = fragment;
    if (this.encryptThenMac) {
      if (fragment.length < 32 + macLen) return null;
      body = fragment.subarray(0, fragment.length - macLen);
      const want = createHmac(mac, this.keys.macKey).update(this.aad12(header, seq, body.length)).update(body).digest();
      if (!timingSafeEqual(want, fragment.subarray(fragment.length - macLen))) return null;
    }
    if (body.length < 32 || body.length % 16 !== 0) return null;
    let pt: Buffer;
    try {
      const d = createDecipheriv(this.suite.cipher, this.keys.key, body.subarray(0, 16));
      d.setAutoPadding(false);
      const head = d.update(body.subarray(16));
      const tail = d.final();
      pt = tail.length ? Buffer.concat([head, tail]) : head;
    } catch {
      return null;
    }
    const pad = pt[pt.length - 1];
    if (pad + 1 > pt.length) return null;
    for (let i = pt.length - 1 - pad; i < pt.length - 1; i++) if (pt[i] !== pad) return null;
    const withMac = pt.subarray(0, pt.length - pad - 1);
    if (this.encryptThenMac) return { type: header[0], plaintext: withMac };
    if (withMac.length < macLen) return null;
    const content = withMac.subarray(0, withMac.length - macLen);
    const want = createHmac(mac, this.keys.macKey).update(this.aad12(header, seq, content.length)).update(content).digest();
    if (!timingSafeEqual(want, withMac.subarray(content.length))) return null;
    return { type: header[0], plaintext: content };
  }
}
