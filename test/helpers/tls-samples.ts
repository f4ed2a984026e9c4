/**
 * The TLS samples (samples/tls-*.pcap with their key logs): what scripts/make-tls-samples.ts
 * records and what test/tls-samples.test.ts expects of them.
 */
import type { TlsClientOptions } from './tls-pg-client.js';

export interface TlsSample {
  /** File stem: samples/<name>.pcap and samples/<name>.keylog. */
  name: string;
  title: string;
  client: Omit<TlsClientOptions, 'port' | 'keylogPath'>;
  /** What the handshake negotiates (checked when the sample is made and when it is read). */
  version: 'TLS 1.2' | 'TLS 1.3';
  cipher: string;
}

export const TLS_SAMPLE_PORT = 5432;

export const TLS_SAMPLE_QUERIES = [
  "SELECT 1 AS one, 'über TLS' AS msg",
  'SELECT g, md5(g::text) FROM generate_series(1, 5) g',
  'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
];

const client = { user: 'postgres', database: 'postgres', queries: TLS_SAMPLE_QUERIES };

export const TLS_SAMPLES: TlsSample[] = [
  {
    name: 'tls-13', title: 'SSLRequest, then TLS 1.3 (AES-128-GCM)',
    client: { ...client, mode: 'sslrequest', ciphers: 'TLS_AES_128_GCM_SHA256' },
    version: 'TLS 1.3', cipher: 'TLS_AES_128_GCM_SHA256',
  },
  {
    name: 'tls-12', title: 'SSLRequest, then TLS 1.2 (ECDHE-RSA, AES-256-GCM)',
    client: { ...client, mode: 'sslrequest', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' },
    version: 'TLS 1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  },
  {
    name: 'tls-direct', title: 'direct TLS 1.3 with ALPN "postgresql" (PostgreSQL 17+, sslnegotiation=direct)',
    client: { ...client, mode: 'direct', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' },
    version: 'TLS 1.3', cipher: 'TLS_CHACHA20_POLY1305_SHA256',
  },
];
