/**
 * The query and session records of a capture, each checked against its schema: what the pooler
 * tests (pooler-legs, pooler-samples, pooler-live) compare.
 */
import { analyzeFile } from '../../src/pipeline/analyze.js';
import { queryRecordSchema, sessionRecordSchema, type QueryRecord, type SessionRecord } from '../../src/session/schema.js';

export async function queryAndSessionRecords(file: string, ports: number[]): Promise<{ queries: QueryRecord[]; sessions: SessionRecord[] }> {
  const queries: QueryRecord[] = [];
  const sessions: SessionRecord[] = [];
  await analyzeFile(file, {
    record: (r) => {
      if (r.kind === 'query') queries.push(queryRecordSchema.parse(r));
      else if (r.kind === 'session') sessions.push(sessionRecordSchema.parse(r));
    },
  }, { messages: false, ports });
  return { queries, sessions };
}
