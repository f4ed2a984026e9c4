/**
 * Who is on each connection (user, database, application), known from its start: the exports
 * label query and anomaly rows with it long before the session record comes at the end.
 * Only two messages are read: the StartupMessage, and ParameterStatus application_name (the
 * server's word, also after a SET). Bounded: a connection is forgotten at its session record,
 * and past MAX_SESSIONS the oldest go first.
 */
import type { DecodedMessage, RawMessage } from '../../../dissectors/types.js';
import type { SessionContext } from './tables.js';

const MAX_SESSIONS = 100_000;

export class SessionContexts {
  private readonly bySession = new Map<number, SessionContext>();

  /** Looks at a message before any record is built; reads only the two that say who. */
  message(session: number, raw: RawMessage, decode: () => DecodedMessage): void {
    if (raw.code === null) {
      if (raw.dir !== 'frontend') return;
      const m = decode();
      if (m.type !== 'StartupMessage') return;
      const p = m.parameters;
      this.set(session, { user: p.user ?? '', database: p.database ?? p.user ?? '', application: p.application_name ?? '' });
    } else if (raw.code === 'S' && raw.dir === 'backend') {
      const m = decode();
      if (m.type !== 'ParameterStatus' || m.name !== 'application_name') return;
      const c = this.bySession.get(session);
      if (c) c.application = m.value;
      else this.set(session, { user: '', database: '', application: m.value });
    }
  }

  get(session: number | null): SessionContext | null {
    return session === null ? null : this.bySession.get(session) ?? null;
  }

  /** The session record has come: nothing more will be labelled with this connection. */
  end(session: number): void {
    this.bySession.delete(session);
  }

  private set(session: number, c: SessionContext): void {
    if (this.bySession.size >= MAX_SESSIONS && !this.bySession.has(session)) {
      const oldest = this.bySession.keys().next();
      if (!oldest.done) this.bySession.delete(oldest.value);
    }
    this.bySession.set(session, c);
  }
}
