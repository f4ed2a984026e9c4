/**
 * Writing a sink's batch to a file descriptor, synchronously: on Linux, stdout writes to files,
 * pipes and terminals block, so a slow reader (`| jq`) holds the pipeline back instead of
 * letting memory grow.
 */
import { writeSync } from 'node:fs';

/** Writes all of `data`; returns false when the reader went away (EPIPE: `| head`). */
export function writeAllSync(fd: number, data: Buffer): boolean {
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off, data.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue; // a non-blocking pipe that is full: try again
      if (code === 'EPIPE') return false;
      throw e;
    }
  }
  return true;
}
