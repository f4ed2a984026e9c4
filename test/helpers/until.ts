/**
 * A bounded wait for a condition that another process makes true (a line on its stderr, a
 * record on its stdout): fails naming what did not come. A bound, never a timing: tests set it
 * far above what a loaded machine needs.
 */
import assert from 'node:assert/strict';

export async function until(what: string, cond: () => boolean, ms: number, pollMs = 5): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
