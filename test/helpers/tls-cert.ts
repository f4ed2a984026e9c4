/**
 * A self-signed RSA certificate for TLS tests, made once per process with the openssl CLI
 * (RSA so that TLS 1.2 RSA key exchange suites can be negotiated too).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp-dir.js';

interface TestCert {
  dir: string;
  certPath: string;
  keyPath: string;
  cert: Buffer;
  key: Buffer;
  /** The subject as node:crypto prints it, joined with ", ". */
  subject: string;
}

let made: TestCert | null = null;

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function testCert(): TestCert {
  if (made) return made;
  const dir = tempDir('pgsniff-tls-');
  chmodSync(dir, 0o755);
  const certPath = join(dir, 'server.crt');
  const keyPath = join(dir, 'server.key');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650',
    '-subj', '/CN=pgsniff-test/O=pgsniff', '-keyout', keyPath, '-out', certPath,
  ], { stdio: 'ignore' });
  made = { dir, certPath, keyPath, cert: readFileSync(certPath), key: readFileSync(keyPath), subject: 'CN=pgsniff-test, O=pgsniff' };
  return made;
}
