/**
 * TLS sessions in the public corpus (../shared/captures/public, no key logs): what the
 * handshake shows in clear must match what tshark shows for the same captures (version from
 * supported_versions, cipher suite, SNI, certificate subject in TLS 1.2), with one "no key" note
 * and nothing decoded. nDPI/pgsql2.pcapng goes through a TLS 1.3 HelloRetryRequest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyLog, NOTE_NO_KEY } from '../src/pg/tls/index.js';
import { connectionsOf, tlsPart } from './helpers/tls-capture.js';
import { feedAll } from './helpers/tls-feed.js';
import { SSL_REQUEST } from './helpers/tls-pg-client.js';
import { publicCapture, publicCaptures, SKIP_NO_PUBLIC } from './helpers/public-captures.js';

const SKIP = publicCaptures() === null ? SKIP_NO_PUBLIC : false;
const RDS = 'database-1.cyx4x7yvdoay.us-east-1.rds.amazonaws.com';

const CASES = [
  { file: 'nDPI/pgsql2.pcapng', port: 60102, version: 'TLS 1.3', cipher: 'TLS_AES_256_GCM_SHA384', sni: null, subject: null },
  { file: 'suricata-verify/pgsql-upgrade-tls/input.pcap', port: 5432, version: 'TLS 1.2', cipher: 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384', sni: null, subject: 'CN=ubuntu' },
  { file: 'zeek/psql-aws-ssl-require.pcap', port: 5432, version: 'TLS 1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', sni: RDS,
    subject: `CN=${RDS}, OU=RDS, O=Amazon.com, L=Seattle, ST=Washington, C=US` },
  { file: 'zeek/psql-aws-ssl-require-15432.pcap', port: 15432, version: 'TLS 1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', sni: RDS,
    subject: `CN=${RDS}, OU=RDS, O=Amazon.com, L=Seattle, ST=Washington, C=US` },
];

for (const c of CASES) {
  test(`${c.file}: TLS facts in clear, no key, nothing decoded`, { skip: SKIP }, async () => {
    const conns = await connectionsOf(publicCapture(c.file), c.port);
    const tlsConns = conns.filter((x) => x.deliveries.find((d) => d.dir === 'frontend')?.bytes.subarray(0, 8).equals(SSL_REQUEST));
    assert.equal(tlsConns.length, 1);
    const r = feedAll(tlsPart(tlsConns[0].deliveries, false), KeyLog.empty());
    assert.equal(r.chunks.length, 0);
    assert.equal(r.info.version, c.version);
    assert.equal(r.info.cipher, c.cipher);
    assert.equal(r.info.sni, c.sni);
    assert.equal(r.info.certSubject, c.subject);
    assert.equal(r.info.note, NOTE_NO_KEY);
    assert.deepEqual(r.anomalies.map((a) => a.reason), [NOTE_NO_KEY]);
    assert.ok(r.info.encryptedBytes!.frontend > 0 && r.info.encryptedBytes!.backend > 0);
  });
}
