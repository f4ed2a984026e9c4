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

const KNOWN: Record<string, Known[]> = {};

/** The todo reason for a sample's test of this aspect, or undefined when it should pass. */
export function knownWrong(file: string, aspect: Aspect): string | undefined {
  const hits = (KNOWN[file] ?? []).filter((k) => k.aspects.includes(aspect)).map((k) => k.why);
  return hits.length ? hits.join('; ') : undefined;
}
