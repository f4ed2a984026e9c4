/**
 * User mistakes (no such file, not a capture, no permission, unknown interface) are UserErrors:
 * the CLI prints `pgsniff: <message>` as one line on stderr and exits non-zero, never a stack
 * trace. Callers branch on `code`, never on the message (undici's habit).
 */
export type UserErrorCode =
  | 'ENOENT'            // no such file
  | 'EACCES'            // no permission (file or capture device)
  | 'NOT_A_CAPTURE'     // neither pcap nor pcapng magic
  | 'BAD_CAPTURE'       // a capture whose headers cannot be read at all
  | 'UNSUPPORTED'       // e.g. a link type pgsniff does not decode
  | 'NO_LIBPCAP'        // live capture asked for, but the optional `cap` addon is not available
  | 'NO_TCPDUMP'        // live capture asked for, but tcpdump (the capture process) is not installed
  | 'NO_INTERFACE'      // unknown interface
  | 'BAD_FILTER'        // capture (BPF) or display filter that does not parse
  | 'BAD_ARGUMENT'      // command-line usage
  | 'BAD_INPUT';        // other unreadable input (rules file, key log, NDJSON)

export class UserError extends Error {
  readonly code: UserErrorCode;
  constructor(code: UserErrorCode, message: string) {
    super(message);
    this.name = 'UserError';
    this.code = code;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
