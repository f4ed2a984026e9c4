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

const KNOWN: Record<string, Known[]> = {
  'pgbouncer.pcap': [
    {
      aspects: ['stats'],
      why: 'issue 13 section 7: with -p 6432 stats counts both legs (16 executions and 4 errors for 7 and 2) and the server legs\' SET application_name, and calls pool_stmt on the second server connection "prepared before the capture"',
    },
  ],
};

/** The todo reason for a sample's test of this aspect, or undefined when it should pass. */
export function knownWrong(file: string, aspect: Aspect): string | undefined {
  const hits = (KNOWN[file] ?? []).filter((k) => k.aspects.includes(aspect)).map((k) => k.why);
  return hits.length ? hits.join('; ') : undefined;
}
