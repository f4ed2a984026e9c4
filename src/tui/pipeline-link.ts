/**
 * The TUI's link to the lead's pipeline, for the demo launcher: one place to adapt when
 * src/pipeline's file entry point changes.
 */
import type { TuiSink } from './store.js';
import { UserError } from '../core/errors.js';

export async function analyzeCapture(path: string, sink: TuiSink, signal: AbortSignal): Promise<void> {
  void path; void sink; void signal;
  throw new UserError('UNSUPPORTED', 'the file pipeline (src/pipeline analyzeFile) is not available yet');
}
