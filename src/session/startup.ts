/**
 * The connection's phase before and around normal operation (protocol documentation,
 * "Start-up", "SSL Session Encryption", "GSSAPI Session Encryption", "Canceling Requests in
 * Progress"): what the client asked for first, which authentication exchange ran, and how it
 * ended. Authentication succeeds at AuthenticationOk once the ReadyForQuery or an ErrorResponse
 * follows it: an ErrorResponse in between (no such database) ends the session, not the
 * authentication.
 */
import type { DecodedMessage, ErrorFields, RawMessage } from '../../dissectors/types.js';
import type { SessionRegistry } from './registry.js';
import { authMethodOf, type SessionInfo } from './session-info.js';

/** Where the session is in its start-up and authentication (the framing's own phase is src/pg/connection.ts's FramingPhase). */
export type StartupPhase =
  | 'initial'        // nothing seen yet
  | 'ssl-requested'  // SSLRequest sent, answer pending
  | 'gss-requested'  // GSSENCRequest sent, answer pending
  | 'encrypted'      // TLS/GSS accepted; a StartupMessage follows if decrypted
  | 'startup'        // StartupMessage sent, no authentication request yet
  | 'authenticating' // an authentication exchange runs
  | 'authenticated'  // AuthenticationOk seen; success only at ReadyForQuery
  | 'ready'          // normal operation (also when the capture began after the start-up)
  | 'cancel'         // a CancelRequest connection
  | 'failed';        // authentication failed

export class StartupState {
  phase: StartupPhase = 'initial';

  constructor(private readonly info: SessionInfo, private readonly registry: SessionRegistry, private readonly sessionId: number) {}

  /** Frontend messages without a type byte. */
  frontend(raw: RawMessage, d: DecodedMessage): void {
    switch (d.type) {
      case 'StartupMessage':
        this.info.startup(d.protocolMajor, d.protocolMinor, d.parameters);
        this.phase = 'startup';
        return;
      case 'SSLRequest':
        this.info.sslRequested = true;
        this.phase = 'ssl-requested';
        return;
      case 'GSSENCRequest':
        this.info.gssRequested = true;
        this.phase = 'gss-requested';
        return;
      case 'CancelRequest': {
        this.phase = 'cancel';
        const link = this.registry.cancel(d.processId, d.secretKey, { session: this.sessionId, frame: raw.frame, timeUs: raw.timeUs });
        this.info.cancel = {
          processId: d.processId, frame: raw.frame,
          targetSession: link ? link.session : null, targetQuery: link ? link.query : null,
        };
        return;
      }
      default:
        return;
    }
  }

  /** The server's one-byte answer to SSLRequest or GSSENCRequest. */
  encryptionAnswer(d: DecodedMessage): void {
    if (d.type !== 'SSLResponse' && d.type !== 'GSSENCResponse') return;
    if (d.accepted) this.info.encryption = d.type === 'SSLResponse' ? 'tls' : 'gss';
    this.phase = d.accepted ? 'encrypted' : 'initial';
  }

  encrypted(): void {
    this.phase = 'encrypted';
  }

  /** Backend 'R'. */
  authentication(d: DecodedMessage): void {
    if (!('authType' in d) || typeof d.authType !== 'number') return;
    if (d.authType === 0) {
      if (this.info.authMethod === null) this.info.authMethod = 'trust';
      this.phase = 'authenticated';
      return;
    }
    const method = authMethodOf(d.authType);
    if (method) this.info.authMethod = method;
    if (d.authType === 10 && Array.isArray(d.mechanisms)) this.info.mechanismsOffered = d.mechanisms.slice(0, 16);
    this.phase = 'authenticating';
  }

  /** Frontend 'p': the SASL mechanism the client chose. Passwords are never looked at. */
  authResponse(d: DecodedMessage): void {
    if (d.type === 'SASLInitialResponse') this.info.mechanism = d.mechanism;
  }

  /**
   * An ErrorResponse: true when it ended the start-up (authentication failed). After
   * AuthenticationOk the server has accepted the credentials; what fails then (3D000 no such
   * database, 53300 too many connections) is the session's FATAL, not an authentication failure,
   * except a class 28 refusal of the role itself.
   */
  error(fields: ErrorFields): boolean {
    // Class 28 (invalid authorization specification: role does not exist, may not log in) is
    // the server refusing who connected, even when it comes after AuthenticationOk (trust).
    if (this.phase === 'authenticated' && !(fields.sqlstate ?? '').startsWith('28')) {
      this.info.authOutcome = 'success';
      this.phase = 'ready';
      return false;
    }
    if (this.phase !== 'startup' && this.phase !== 'authenticating' && this.phase !== 'authenticated') return false;
    this.info.authOutcome = 'failure';
    this.info.authError = fields;
    this.phase = 'failed';
    return true;
  }

  /** A ReadyForQuery: start-up is over (successfully, if it was under way). */
  ready(): void {
    if (this.phase === 'authenticated') this.info.authOutcome = 'success';
    this.phase = 'ready';
  }
}
