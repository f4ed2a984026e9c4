/**
 * A RawMessage from a body held on its own (a test's builder, the TUI's kept copy, a synthetic
 * feed): its range is the whole buffer. src/pg's framer makes its own (FramedMessage), whose
 * body is a range of a larger buffer.
 */
import type { RawMessage } from './types.js';

export type RawMessageFields = Omit<RawMessage, 'source' | 'bodyStart' | 'bodyEnd'>;

export function rawMessage(m: RawMessageFields): RawMessage {
  return {
    dir: m.dir, code: m.code, length: m.length, body: m.body, offset: m.offset, firstFrame: m.firstFrame,
    frame: m.frame, startTimeUs: m.startTimeUs, timeUs: m.timeUs, source: m.body, bodyStart: 0, bodyEnd: m.body.length,
  };
}
