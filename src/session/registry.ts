/**
 * Links CancelRequests to what they cancel. A CancelRequest travels on its own short
 * connection and names its target only by backend process id and secret key (BackendKeyData),
 * so every SessionTracker of one analysis shares one registry ("Canceling Requests in
 * Progress" in the protocol documentation). Bounded: past MAX_ENTRIES the oldest session's key
 * is forgotten, and a cancel for it is reported unmatched.
 */

/** Where a cancel came from. */
export interface CancelSource {
  session: number;
  frame: number;
  timeUs: number;
}

/** What a cancel hit: the target session and the query it was running (null when idle). */
export interface CancelLink {
  session: number;
  query: { sql: string | null; firstFrame: number } | null;
}

/** What a tracker exposes to the registry. */
export interface CancelTarget {
  readonly sessionId: number;
  /** Mark the running query as cancelled by `from`; returns the query, or null when none runs. */
  cancelledBy(from: CancelSource): CancelLink['query'];
}

export const MAX_ENTRIES = 100_000;

export class SessionRegistry {
  private readonly byKey = new Map<string, CancelTarget>();

  private static key(processId: number, secretKey: string): string {
    return processId + ':' + secretKey.toLowerCase();
  }

  /** Called when a session's BackendKeyData arrives. */
  register(processId: number, secretKey: string, target: CancelTarget): void {
    const k = SessionRegistry.key(processId, secretKey);
    if (!this.byKey.has(k) && this.byKey.size >= MAX_ENTRIES) {
      const first = this.byKey.keys().next();
      if (!first.done) this.byKey.delete(first.value);
    }
    this.byKey.set(k, target);
  }

  /** Called when the session ends: its key can no longer cancel anything. */
  unregister(processId: number, secretKey: string, target: CancelTarget): void {
    const k = SessionRegistry.key(processId, secretKey);
    if (this.byKey.get(k) === target) this.byKey.delete(k);
  }

  /** A CancelRequest arrived: the session and query it targets, or null when the key is unknown. */
  cancel(processId: number, secretKey: string, from: CancelSource): CancelLink | null {
    const target = this.byKey.get(SessionRegistry.key(processId, secretKey));
    if (!target) return null;
    return { session: target.sessionId, query: target.cancelledBy(from) };
  }

  get size(): number {
    return this.byKey.size;
  }
}
