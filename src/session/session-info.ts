/**
 * What a session record says about one connection: who connected, how they authenticated,
 * whether it was encrypted, what the server reported, and how it ended. Filled by the tracker
 * as messages pass; turned into the record once, at close. Maps from the wire are capped in
 * entries so a hostile StartupMessage or ParameterStatus flood stays small.
 */
import type { ErrorFields } from '../../dissectors/types.js';
import type { ConnectionEnd, ConnectionInfo } from '../reassembly/types.js';
import { isoTime } from '../core/time.js';
import type { AuthMethod, SessionRecord } from './schema.js';
import type { TlsSummary } from '../pg/tls/summary.js';

const MAX_PARAMETERS = 256;

export type Encryption = SessionRecord['encryption'];

/**
 * Shared empty containers until a session has something to put there (a connection flood's
 * sessions never do); the record gets its own (toRecord), never these.
 */
const NO_PARAMETERS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_MECHANISMS: string[] = Object.freeze([]) as unknown as string[];

export class SessionInfo {
  protocolVersion: string | null = null;
  startupParameters: Record<string, string> = NO_PARAMETERS;
  authMethod: AuthMethod | null = null;
  mechanism: string | null = null;
  mechanismsOffered: string[] = NO_MECHANISMS;
  authOutcome: 'success' | 'failure' | 'unknown' = 'unknown';
  authError: ErrorFields | null = null;
  encryption: Encryption = 'none';
  sslRequested = false;
  gssRequested = false;
  tls: SessionRecord['tls'] = null;
  serverVersion: string | null = null;
  parameters: Record<string, string> = NO_PARAMETERS;
  parameterCount = 0;
  backendPid: number | null = null;
  backendKey: string | null = null;
  terminated = false;
  fatal: ErrorFields | null = null;
  feBytes = 0;
  feMessages = 0;
  beBytes = 0;
  beMessages = 0;
  anomalies = 0;
  queries = 0;
  errors = 0;
  notifications = 0;
  unpaired = 0;
  cancel: SessionRecord['cancel'] = null;

  startup(major: number, minor: number, params: Record<string, string>): void {
    // The usual one is not made again for every session.
    this.protocolVersion = major === 3 && minor === 0 ? '3.0' : major + '.' + minor;
    const out: Record<string, string> = {};
    let n = 0;
    for (const k of Object.keys(params)) {
      if (n++ >= MAX_PARAMETERS) break;
      out[k] = params[k]!;
    }
    this.startupParameters = out;
  }

  parameterStatus(name: string, value: string): void {
    if (!(name in this.parameters)) {
      if (this.parameterCount >= MAX_PARAMETERS) return;
      this.parameterCount++;
      if (this.parameters === NO_PARAMETERS) this.parameters = {};
    }
    this.parameters[name] = value;
    if (name === 'server_version') this.serverVersion = value;
  }

  /** The record's `tls`, its keys in the schema's order whatever the order they came in. */
  setTls(info: TlsSummary): void {
    this.encryption = 'tls';
    this.tls = {
      version: info.version ?? null,
      cipher: info.cipher ?? null,
      sni: info.sni ?? null,
      alpn: info.alpn ?? null,
      ...(info.alpnOffered ? { alpnOffered: info.alpnOffered } : {}),
      ...(info.certSubject !== undefined ? { certSubject: info.certSubject } : {}),
      ...(info.encryptedBytes ? { encryptedBytes: info.encryptedBytes } : {}),
      decrypted: info.decrypted,
      ...(info.note !== undefined ? { note: info.note } : {}),
    };
  }

  toRecord(conn: ConnectionInfo, end: ConnectionEnd): SessionRecord {
    const p = this.startupParameters === NO_PARAMETERS ? {} : this.startupParameters;
    const fatal = this.fatal !== null && this.authOutcome !== 'failure';
    return {
      kind: 'session',
      session: conn.id,
      time: isoTime(end.timeUs),
      frame: Math.max(1, end.frame),
      client: { ip: conn.client.ip, port: conn.client.port },
      server: { ip: conn.server.ip, port: conn.server.port },
      protocolVersion: this.protocolVersion,
      user: p['user'] ?? null,
      // The server defaults the database to the user name when the client leaves it out.
      database: p['database'] ?? p['user'] ?? null,
      applicationName: this.parameters['application_name'] ?? p['application_name'] ?? null,
      startupParameters: p,
      auth: {
        method: this.authMethod,
        mechanism: this.mechanism,
        mechanismsOffered: this.mechanismsOffered === NO_MECHANISMS ? [] : this.mechanismsOffered,
        outcome: this.authOutcome,
        sqlstate: this.authError?.sqlstate ?? null,
        error: this.authError,
      },
      encryption: this.encryption,
      sslRequested: this.sslRequested,
      gssRequested: this.gssRequested,
      tls: this.tls,
      serverVersion: this.serverVersion,
      parameters: this.parameters === NO_PARAMETERS ? {} : this.parameters,
      backendPid: this.backendPid,
      backendKey: this.backendKey,
      start: isoTime(conn.startTimeUs),
      startFrame: Math.max(1, conn.startFrame),
      end: isoTime(end.timeUs),
      endFrame: Math.max(1, end.frame),
      durationMs: Math.max(0, end.timeUs - conn.startTimeUs) / 1000,
      endedBy: this.terminated ? 'terminate' : fatal ? 'fatal' : end.reason,
      fatal: fatal ? this.fatal : null,
      frontend: { bytes: this.feBytes, messages: this.feMessages },
      backend: { bytes: this.beBytes, messages: this.beMessages },
      anomalies: this.anomalies,
      queries: this.queries,
      errors: this.errors,
      notifications: this.notifications,
      unpairedResponses: this.unpaired,
      cancel: this.cancel,
    };
  }
}

/** The Authentication request code's method (protocol documentation, "Message Formats"). */
export function authMethodOf(authType: number): AuthMethod | null {
  switch (authType) {
    case 2: return 'kerberos';
    case 3: return 'cleartext';
    case 5: return 'md5';
    case 7: return 'gss';
    case 9: return 'sspi';
    case 10: return 'sasl';
    // 0 Ok, 8 GSSContinue, 11 SASLContinue, 12 SASLFinal continue an exchange already named
    case 0: case 8: case 11: case 12: return null;
    default: return 'unknown';
  }
}
