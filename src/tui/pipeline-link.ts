/**
 * The TUI's link to the pipeline, for the demo launcher: one place to adapt when
 * src/pipeline's file entry point changes.
 */
import type { TuiSink } from './store.js';
import { analyzeFile } from '../pipeline/analyze.js';

export async function analyzeCapture(path: string, sink: TuiSink, signal: AbortSignal): Promise<void> {
  await analyzeFile(path, sink, { signal });
}
