/**
 * Runs the whole pipeline on a capture and collects every record, for end-to-end tests.
 */
import { analyzeFile, type AnalyzeOptions, type AnalyzeSummary } from '../../src/pipeline/analyze.js';
import type { MessageRecord, OutRecord, PipelineSink } from '../../src/pipeline/events.js';

export async function collect(path: string, opts: AnalyzeOptions = {}): Promise<{ records: OutRecord[]; summary: AnalyzeSummary }> {
  const records: OutRecord[] = [];
  const sink: PipelineSink = { record: (r) => { records.push(r); } };
  const summary = await analyzeFile(path, sink, opts);
  return { records, summary };
}

/** Message records' `type`, counted. */
export function countTypes(records: OutRecord[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of records) {
    if (r.kind !== 'message') continue;
    const t = r.type as string;
    m.set(t, (m.get(t) ?? 0) + 1);
  }
  return m;
}

/** The message records of one type, with their decoded fields reachable. */
export function messagesOf(records: OutRecord[], type: string): MessageRecord[] {
  return records.filter((r): r is MessageRecord => r.kind === 'message' && r.type === type);
}
