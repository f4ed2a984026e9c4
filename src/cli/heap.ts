/**
 * Peak memory of a long read. The pipeline's garbage is short-lived (a Buffer view, a decoded
 * message, a record per message), and V8 doubles its young generation whenever a scavenge
 * finds it busy, up to 3 x 16 MiB: on the 302 MB benchmark that growth, not data kept, made
 * most of the difference between ~100 MB and ~150 MB of peak RSS. Keeping the young
 * generation at its starting size costs about 5 % more scavenging (docs/BENCHMARK.md).
 *
 * V8 reads --semi-space-growth-factor each time it would grow the young generation, so
 * setting it at start-up takes effect (unlike --max-semi-space-size, which only the node
 * command line can set). PGSNIFF_YOUNG_GROWTH=2 restores V8's default.
 */
import { setFlagsFromString } from 'node:v8';

export function limitYoungGeneration(): void {
  const factor = process.env.PGSNIFF_YOUNG_GROWTH ?? '1';
  if (/^[1-9]$/.test(factor)) setFlagsFromString(`--semi-space-growth-factor=${factor}`);
}
