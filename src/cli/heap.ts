/**
 * Peak memory of a long read. The pipeline's garbage is short-lived (a Buffer view, a decoded
 * message, a record per message), and V8 doubles its young generation whenever a scavenge
 * finds it busy, up to 3 x 16 MiB: that growth, not data kept, made most of a long read's peak
 * RSS above its floor. Keeping the young generation at its starting size costs a little more
 * scavenging (figures: docs/BENCHMARK.md, "V8 flags of the relaunched process").
 *
 * V8 reads --semi-space-growth-factor each time it would grow the young generation, so
 * setting it at start-up takes effect (unlike --max-semi-space-size, which only the node
 * command line can set). Node.js calls changing V8 flags after start-up unsupported in
 * general, and some flags do crash when changed late (--no-concurrent-marking does); this one
 * is a plain number read at each resize, exercised by the whole test suite and the 1.15 GB
 * benchmark on Node.js 20. PGSNIFF_YOUNG_GROWTH=2 (V8's default) leaves V8's flags untouched.
 */
import { setFlagsFromString } from 'node:v8';

export function limitYoungGeneration(): void {
  const factor = process.env.PGSNIFF_YOUNG_GROWTH ?? '1';
  if (factor !== '2' && /^[1-9]$/.test(factor)) setFlagsFromString(`--semi-space-growth-factor=${factor}`);
}
