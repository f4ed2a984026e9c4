/**
 * What pgsniff gets wrong today on the driver and pooler samples (scripts/sample-drivers.ts,
 * scripts/sample-pooler.ts), as issue 13
 * names it. The fixes belong to src/session; until they land, the sample tests that meet these
 * defects run as todo (documenting, not failing). Remove an entry when its tests pass.
 */
type Aspect = 'records' | 'stats';

interface Known {
  aspects: Aspect[];
  why: string;
}

const PARSE_ERROR = 'issue 13 section 2: an ErrorResponse answering Parse makes no query record';

const KNOWN: Record<string, Known[]> = {
  'psycopg3.pcap': [{ aspects: ['records', 'stats'], why: `${PARSE_ERROR} (prepare=True of 42P01 and 42601: Parse, Sync, ErrorResponse, ReadyForQuery)` }],
  'asyncpg.pcap': [
    { aspects: ['records', 'stats'], why: `${PARSE_ERROR} (prepare() of 42P01 and 42601: Parse, Describe, Flush, ErrorResponse, then Sync)` },
    { aspects: ['records'], why: "issue 13 section 8: the binary COPY's CopyData, sent before the CopyInResponse, is not counted (copy.messagesIn and bytesIn 0)" },
  ],
  'pgbouncer.pcap': [
    {
      aspects: ['stats'],
      why: 'issue 13 section 7: with -p 6432 stats counts both legs (16 executions and 4 errors for 7 and 2) and the server legs\' SET application_name, and calls pool_stmt on the second server connection "prepared before the capture"',
    },
  ],
  'postgresjs-describe.pcap': [
    {
      aspects: ['records'],
      why: 'issue 13 section 8: Parse, Describe statement, Bind, Execute, Sync in one segment: the query record has no columns and its DataRows are untyped',
    },
  ],
};

/** The todo reason for a sample's test of this aspect, or undefined when it should pass. */
export function knownWrong(file: string, aspect: Aspect): string | undefined {
  const hits = (KNOWN[file] ?? []).filter((k) => k.aspects.includes(aspect)).map((k) => k.why);
  return hits.length ? hits.join('; ') : undefined;
}
