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
  | 'BAD_INPUT'         // other unreadable input (rules file, key log, NDJSON)
  | 'OUTPUT'            // the output cannot be written (disk full, I/O error, closed descriptor)
  | 'OUTPUT_CLOSED';    // the output's reader went away (EPIPE: \`| head\`): a quiet end, not a failure

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

const WRITE_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EIO: 'input/output error',
  EBADF: 'not open for writing',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
};

/**
 * A failed write to an output (`what`: "standard output", a file name) as the UserError the
 * CLI reports in one line: OUTPUT_CLOSED for EPIPE, OUTPUT for any other system error; null
 * when `e` is not a system error (a bug: let it surface as one).
 */
export function outputError(e: unknown, what = 'standard output'): UserError | null {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return null;
  if (code === 'EPIPE') return new UserError('OUTPUT_CLOSED', `${what}: the reader went away`);
  const desc = WRITE_ERRORS[code];
  return new UserError('OUTPUT', `cannot write to ${what}: ${code}${desc ? ` (${desc})` : ''}`);
}

/**
 * Write a command's output. A write that fails at once (standard output on a file or a device:
 * a full disk, /dev/full) throws outputError's UserError; one that fails later (a pipe) reaches
 * the stream's 'error' event, which run.ts handles for standard output: a reader that went away
 * (`| head`) ends quietly, anything else is one line and exit status 2. Other streams (tests)
 * ignore EPIPE.
 */
export function writeOut(stream: NodeJS.WritableStream, text: string): void {
  if (stream !== process.stdout && stream.listenerCount('error') === 0) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
  }
  try {
    stream.write(text);
  } catch (e) {
    const u = outputError(e);
    if (u === null) throw e;
    if (u.code !== 'OUTPUT_CLOSED') throw u;
  }
}
