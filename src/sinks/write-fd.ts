/**
 * Writing a sink's batch to a file descriptor, synchronously: on Linux, stdout writes to files,
 * pipes and terminals block, so a slow reader (`| jq`) holds the pipeline back instead of
 * letting memory grow.
 */
import { writeSync } from 'node:fs';
import { outputError } from '../core/errors.js';

/**
 * Writes all of `data`. A reader that went away (EPIPE: `| head`) or an output that cannot
 * take the bytes (a full disk, /dev/full) throws the UserError of outputError (OUTPUT_CLOSED,
 * OUTPUT): decoding stops there, since nothing more can be written.
 */
export function writeAllSync(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off, data.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue; // a non-blocking pipe that is full: try again
      throw outputError(e, fd === 1 ? 'standard output' : `file descriptor ${fd}`) ?? e;
    }
  }
}
