/**
 * Cipher suites pgsniff names and can decrypt. Names are the IANA registry's ("TLS Cipher
 * Suites"), which is what Wireshark and the key-log tooling print. A suite missing here is
 * still reported by its number (0xC0xx) and just not decrypted.
 */

type BulkCipher = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305' | 'aes-128-ccm' | 'aes-128-cbc' | 'aes-256-cbc';
type HashName = 'sha1' | 'sha256' | 'sha384';

export interface CipherSuite {
  id: number;
  name: string;
  /** 'tls13': one of the TLS 1.3 suites (key schedule from traffic secrets). 'tls12': key block from the master secret. */
  family: 'tls12' | 'tls13';
  cipher: BulkCipher;
  keyLength: number;
  /**
   * Implicit part of the nonce from the key block / key schedule: 4 for TLS 1.2 GCM (the other 8
   * bytes travel in each record), 12 for ChaCha20 and every TLS 1.3 suite, 0 for CBC (explicit IV).
   */
  fixedIvLength: number;
  /** HMAC of CBC suites (null for AEAD suites). */
  mac: HashName | null;
  macLength: number;
  /** Hash of the PRF (TLS 1.2) or of HKDF (TLS 1.3). */
  prfHash: 'sha256' | 'sha384';
}

const HASH_LEN: Record<HashName, number> = { sha1: 20, sha256: 32, sha384: 48 };

function aead(id: number, name: string, cipher: BulkCipher, prfHash: 'sha256' | 'sha384', family: 'tls12' | 'tls13'): CipherSuite {
  const keyLength = cipher === 'aes-128-gcm' || cipher === 'aes-128-ccm' ? 16 : 32;
  const fixedIvLength = family === 'tls13' || cipher === 'chacha20-poly1305' ? 12 : 4;
  return { id, name, family, cipher, keyLength, fixedIvLength, mac: null, macLength: 0, prfHash };
}

function cbc(id: number, name: string, bits: 128 | 256, mac: HashName): CipherSuite {
  return {
    id, name, family: 'tls12', cipher: bits === 128 ? 'aes-128-cbc' : 'aes-256-cbc', keyLength: bits / 8,
    fixedIvLength: 0, mac, macLength: HASH_LEN[mac], prfHash: mac === 'sha384' ? 'sha384' : 'sha256',
  };
}

const SUITES: CipherSuite[] = [
  aead(0x1301, 'TLS_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', 'tls13'),
  aead(0x1302, 'TLS_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', 'tls13'),
  aead(0x1303, 'TLS_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256', 'tls13'),
  aead(0x1304, 'TLS_AES_128_CCM_SHA256', 'aes-128-ccm', 'sha256', 'tls13'),

  aead(0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', 'tls12'),
  aead(0x009d, 'TLS_RSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', 'tls12'),
  aead(0x009e, 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', 'tls12'),
  aead(0x009f, 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', 'tls12'),
  aead(0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', 'tls12'),
  aead(0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', 'tls12'),
  aead(0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', 'tls12'),
  aead(0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', 'tls12'),
  aead(0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256', 'tls12'),
  aead(0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256', 'tls12'),
  aead(0xccaa, 'TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256', 'tls12'),

  cbc(0x002f, 'TLS_RSA_WITH_AES_128_CBC_SHA', 128, 'sha1'),
  cbc(0x0035, 'TLS_RSA_WITH_AES_256_CBC_SHA', 256, 'sha1'),
  cbc(0x003c, 'TLS_RSA_WITH_AES_128_CBC_SHA256', 128, 'sha256'),
  cbc(0x003d, 'TLS_RSA_WITH_AES_256_CBC_SHA256', 256, 'sha256'),
  cbc(0x0033, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA', 128, 'sha1'),
  cbc(0x0039, 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA', 256, 'sha1'),
  cbc(0x0067, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA256', 128, 'sha256'),
  cbc(0x006b, 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA256', 256, 'sha256'),
  cbc(0xc009, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA', 128, 'sha1'),
  cbc(0xc00a, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA', 256, 'sha1'),
  cbc(0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', 128, 'sha1'),
  cbc(0xc014, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA', 256, 'sha1'),
  cbc(0xc023, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 128, 'sha256'),
  cbc(0xc024, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384', 256, 'sha384'),
  cbc(0xc027, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256', 128, 'sha256'),
  cbc(0xc028, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384', 256, 'sha384'),
];

const BY_ID = new Map<number, CipherSuite>(SUITES.map((s) => [s.id, s]));

export function cipherSuite(id: number): CipherSuite | undefined {
  return BY_ID.get(id);
}

/** The IANA name when known, else the number as 0xNNNN (never throws, never empty). */
export function cipherSuiteName(id: number): string {
  return BY_ID.get(id)?.name ?? '0x' + id.toString(16).toUpperCase().padStart(4, '0');
}

const VERSIONS: Record<number, string> = { 0x0300: 'SSL 3.0', 0x0301: 'TLS 1.0', 0x0302: 'TLS 1.1', 0x0303: 'TLS 1.2', 0x0304: 'TLS 1.3' };

export function versionName(v: number): string {
  return VERSIONS[v] ?? '0x' + v.toString(16).padStart(4, '0');
}
