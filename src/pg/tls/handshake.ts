/**
 * The handshake messages whose clear fields pgsniff reports (RFC 8446 section 4, RFC 5246
 * section 7.4): ClientHello (random, SNI, offered ALPN), ServerHello (random, chosen suite,
 * negotiated version from supported_versions, ALPN in TLS 1.2, encrypt_then_mac),
 * EncryptedExtensions (ALPN in TLS 1.3) and Certificate (the end-entity certificate's subject).
 * Every read is bounded by its enclosing vector; a message that does not fit yields null or
 * the fields read so far, never an exception.
 */
import { X509Certificate } from 'node:crypto';
import { escapeTerminal } from '../../core/escape.js';

export const HS_CLIENT_HELLO = 1;
export const HS_SERVER_HELLO = 2;
const HS_NEW_SESSION_TICKET = 4;
export const HS_ENCRYPTED_EXTENSIONS = 8;
export const HS_CERTIFICATE = 11;
export const HS_FINISHED = 20;
export const HS_KEY_UPDATE = 24;

const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_ENCRYPT_THEN_MAC = 22;
const EXT_SUPPORTED_VERSIONS = 43;

/** ServerHello.random of a HelloRetryRequest (RFC 8446 section 4.1.3): SHA-256 of "HelloRetryRequest". */
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

/** A bounds-checked cursor: a read past the end marks it failed and returns zeros / empty. */
class Reader {
  ok = true;
  constructor(private readonly b: Buffer, private pos = 0, private readonly end = b.length) {}
  get left(): number { return this.end - this.pos; }
  private need(n: number): boolean {
    if (this.pos + n > this.end) { this.ok = false; this.pos = this.end; return false; }
    return true;
  }
  u8(): number { if (!this.need(1)) return 0; return this.b[this.pos++]; }
  u16(): number { if (!this.need(2)) return 0; const v = this.b.readUInt16BE(this.pos); this.pos += 2; return v; }
  u24(): number { if (!this.need(3)) return 0; const v = this.b.readUIntBE(this.pos, 3); this.pos += 3; return v; }
  bytes(n: number): Buffer { if (!this.need(n)) return Buffer.alloc(0); const v = this.b.subarray(this.pos, this.pos + n); this.pos += n; return v; }
  vec8(): Reader { return this.sub(this.u8()); }
  vec16(): Reader { return this.sub(this.u16()); }
  vec24(): Reader { return this.sub(this.u24()); }
  private sub(n: number): Reader {
    if (!this.need(n)) return new Reader(this.b, 0, 0);
    const r = new Reader(this.b, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
}

export interface ClientHello {
  random: Buffer;
  sni: string | null;
  alpn: string[];
  /** supported_versions offered (empty when the extension is absent). */
  versions: number[];
}

export interface ServerHello {
  random: Buffer;
  /** Negotiated version: supported_versions when present, else legacy_version. */
  version: number;
  cipherSuite: number;
  alpn: string | null;
  encryptThenMac: boolean;
  helloRetryRequest: boolean;
}

function printable(b: Buffer): string {
  // SNI and ALPN are ASCII by definition; anything else is shown escaped, never trusted.
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '\\x' + c.toString(16).padStart(2, '0');
  return s;
}

function readAlpnList(r: Reader): string[] {
  const list = r.vec16();
  const out: string[] = [];
  while (list.ok && list.left > 0 && out.length < 32) {
    const name = list.vec8();
    if (!list.ok) break;
    out.push(printable(name.bytes(name.left)));
  }
  return out;
}

export function parseClientHello(body: Buffer): ClientHello | null {
  const r = new Reader(body);
  r.u16();
  const random = r.bytes(32);
  r.vec8(); // legacy_session_id
  r.vec16(); // cipher_suites
  r.vec8(); // legacy_compression_methods
  if (!r.ok) return null;
  const hello: ClientHello = { random: Buffer.from(random), sni: null, alpn: [], versions: [] };
  if (r.left === 0) return hello;
  const exts = r.vec16();
  while (exts.ok && exts.left >= 4) {
    const type = exts.u16();
    const data = exts.vec16();
    if (!exts.ok) break;
    if (type === EXT_SERVER_NAME) {
      const list = data.vec16();
      while (list.ok && list.left >= 3) {
        const nameType = list.u8();
        const name = list.vec16();
        if (list.ok && nameType === 0) { hello.sni = printable(name.bytes(name.left)); break; }
      }
    } else if (type === EXT_ALPN) {
      hello.alpn = readAlpnList(data);
    } else if (type === EXT_SUPPORTED_VERSIONS) {
      const list = data.vec8();
      while (list.ok && list.left >= 2) hello.versions.push(list.u16());
    }
  }
  return hello;
}

export function parseServerHello(body: Buffer): ServerHello | null {
  const r = new Reader(body);
  const legacy = r.u16();
  const random = r.bytes(32);
  r.vec8();
  const cipherSuite = r.u16();
  r.u8();
  if (!r.ok) return null;
  const hello: ServerHello = {
    random: Buffer.from(random), version: legacy, cipherSuite, alpn: null, encryptThenMac: false,
    helloRetryRequest: random.equals(HRR_RANDOM),
  };
  if (r.left === 0) return hello;
  const exts = r.vec16();
  while (exts.ok && exts.left >= 4) {
    const type = exts.u16();
    const data = exts.vec16();
    if (!exts.ok) break;
    if (type === EXT_SUPPORTED_VERSIONS && data.left === 2) hello.version = data.u16();
    else if (type === EXT_ALPN) hello.alpn = readAlpnList(data)[0] ?? null;
    else if (type === EXT_ENCRYPT_THEN_MAC) hello.encryptThenMac = true;
  }
  return hello;
}

/** TLS 1.3 EncryptedExtensions: the server's ALPN choice, when there is one. */
export function parseEncryptedExtensionsAlpn(body: Buffer): string | null {
  const exts = new Reader(body).vec16();
  while (exts.ok && exts.left >= 4) {
    const type = exts.u16();
    const data = exts.vec16();
    if (exts.ok && type === EXT_ALPN) return readAlpnList(data)[0] ?? null;
  }
  return null;
}

/** The subject of the first (end-entity) certificate, as "CN=..., O=...", or null. */
export function parseCertificateSubject(body: Buffer, tls13: boolean): string | null {
  const r = new Reader(body);
  if (tls13) r.vec8(); // certificate_request_context
  const list = r.vec24();
  const der = list.vec24();
  if (!r.ok || !list.ok || der.left === 0) return null;
  try {
    const subject = new X509Certificate(der.bytes(der.left)).subject;
    return escapeTerminal(subject.split('\n').join(', '));
  } catch {
    return null;
  }
}
