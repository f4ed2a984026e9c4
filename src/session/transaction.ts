/**
 * What a rollback undoes (protocol documentation, "Multiple Statements in a Simple Query",
 * "Extended Query" on Sync, and the SQL commands ROLLBACK, ROLLBACK TO SAVEPOINT, RELEASE
 * SAVEPOINT). The statements that succeeded in the transaction now open are kept here, with
 * the savepoints set between them; their records wait in the outbox meanwhile, so the mark can
 * still be put on them.
 *
 * - Any ErrorResponse aborts the transaction: an implicit one (a multi-statement Query, the
 *   extended-protocol messages before Sync) is rolled back at once, and the ReadyForQuery after
 *   it says idle; a transaction block goes to the failed state ('E') and is rolled back when
 *   it ends (ROLLBACK, or COMMIT, whose tag is then "ROLLBACK"), unless a ROLLBACK TO SAVEPOINT
 *   brings it back. So: an error, then a ReadyForQuery that says idle, means everything since
 *   the transaction began was undone.
 * - ROLLBACK (tag "ROLLBACK", SQL not "... TO ..."): everything since it began.
 * - ROLLBACK TO SAVEPOINT s: what succeeded after the latest savepoint s (which stays).
 * - COMMIT, PREPARE TRANSACTION, or a ReadyForQuery that says idle after no error: nothing was
 *   undone (a prepared transaction's fate is decided on another connection).
 * - The server ends the connection inside a transaction: it is rolled back.
 * The transaction-control statements themselves (BEGIN, SAVEPOINT, ...) are not marked; every
 * other statement that succeeded is (a SELECT too: whatever it changed, through a function or
 * a sequence excepted, was undone).
 */
import type { Execution } from './execution.js';
import type { TransactionStatus } from './schema.js';

/** Statements and savepoints remembered for one open transaction; past it, the oldest statements are forgotten (their records went out already). */
const MAX_TRANSACTION_MEMBERS = 4096;

class Savepoint {
  constructor(readonly name: string | null) {}
}

/** A savepoint name as the server folds it: quoted as written, unquoted in lower case. */
function identifier(raw: string): string {
  if (raw.startsWith('"')) return raw.slice(1, -1).replace(/""/g, '"');
  return raw.toLowerCase();
}

const NAME = '("(?:[^"]|"")+"|[^\\s;"]+)';
const SAVEPOINT_RE = new RegExp(`^savepoint\\s+${NAME}`, 'i');
const ROLLBACK_TO_RE = new RegExp(`^(?:rollback|abort)(?:\\s+(?:work|transaction))?\\s+to\\s+(?:savepoint\\s+)?${NAME}`, 'i');
const RELEASE_RE = new RegExp(`^release\\s+(?:savepoint\\s+)?${NAME}`, 'i');

/** The statement's text without leading whitespace and comments, at most 512 characters (the regexes above need only its start). */
function head(sql: string | null): string {
  if (sql === null) return '';
  let i = 0;
  const n = Math.min(sql.length, 4096);
  for (;;) {
    while (i < n && /\s/.test(sql[i]!)) i++;
    if (sql.startsWith('--', i)) {
      const e = sql.indexOf('\n', i);
      if (e < 0) return '';
      i = e + 1;
    } else if (sql.startsWith('/*', i)) {
      const e = sql.indexOf('*/', i + 2);
      if (e < 0) return '';
      i = e + 2;
    } else break;
  }
  return sql.slice(i, i + 512);
}

function named(re: RegExp, sql: string | null): string | null {
  const m = re.exec(head(sql));
  return m ? identifier(m[1]!) : null;
}

export class TransactionState {
  /**
   * Slots [0, n) hold the statements and savepoints remembered. The array keeps its size from one
   * transaction to the next (one allocation per query would be most of what this costs).
   */
  private members: Array<Execution | Savepoint | undefined> = [];
  private n = 0;
  /** Slots before it are holes (records written early, see written()). */
  private start = 0;
  /** An ErrorResponse came since the transaction (or the savepoint rolled back to) began. */
  private failed = false;

  /** A statement completed (skipped and failed ones too: only successes are kept). */
  completed(exec: Execution): void {
    if (exec.skipped || exec.error !== null || exec.incomplete || exec.command === null) return;
    const tag = exec.command;
    switch (tag) {
      case 'BEGIN': case 'START TRANSACTION': case 'COMMIT PREPARED': case 'ROLLBACK PREPARED':
        return; // the last two end a prepared transaction, not this one
      case 'COMMIT': case 'PREPARE TRANSACTION':
        this.clear();
        return;
      case 'ROLLBACK': {
        const to = ROLLBACK_TO_RE.exec(head(exec.sql));
        if (to) this.rollbackTo(identifier(to[1]!));
        else this.rollback();
        return;
      }
      case 'SAVEPOINT':
        this.push(new Savepoint(named(SAVEPOINT_RE, exec.sql)));
        return;
      case 'RELEASE':
        this.release(named(RELEASE_RE, exec.sql));
        return;
      default:
        this.push(exec);
    }
  }

  /** An ErrorResponse: the transaction is aborted (see the file comment). */
  error(): void {
    this.failed = true;
  }

  /** A ReadyForQuery: idle after an error means the transaction was rolled back; idle otherwise, committed. */
  ready(status: TransactionStatus | null): void {
    if (status !== 'idle') return;
    if (this.failed) this.rollback();
    else this.clear();
  }

  /** The server ended the connection: an open transaction is rolled back. */
  connectionEnded(): void {
    this.rollback();
  }

  /**
   * Pairing became uncertain: what is remembered can no longer be trusted to be this
   * transaction's. The statements still waiting say that their fate is unknown.
   */
  forget(): void {
    this.mark(0, 'unknown');
    this.clear();
  }

  /**
   * The record of `exec` went out before the transaction ended (outbox.ts): no mark can reach it
   * any more, so it is forgotten here. Records go out oldest first and each is forgotten as it
   * goes, so a member is at the front, behind savepoints only (which stay).
   */
  written(exec: Execution): void {
    let i = this.start;
    while (i < this.n && (this.members[i] === undefined || this.members[i] instanceof Savepoint)) i++;
    if (i >= this.n || this.members[i] !== exec) return;
    // A hole, not a shift: one record out per query must not cost a move of the whole list.
    this.members[i] = undefined;
    while (this.start < this.n && this.members[this.start] === undefined) this.start++;
  }

  private push(m: Execution | Savepoint): void {
    if (this.n >= MAX_TRANSACTION_MEMBERS && this.start > 0) {
      this.members.copyWithin(0, this.start, this.n);
      this.members.fill(undefined, this.n - this.start, this.n);
      this.n -= this.start;
      this.start = 0;
    }
    if (this.n >= MAX_TRANSACTION_MEMBERS) {
      // Keep the savepoints; the oldest statement's record has gone out (outbox MAX_AWAITING).
      let i = 0;
      while (i < this.n && this.members[i] instanceof Savepoint) i++;
      const m = this.members[i];
      if (i < this.n && m !== undefined) (m as Execution).rollbackUnknown = true;
      else if (i >= this.n) i = 0;
      this.members.copyWithin(i, i + 1, this.n);
      this.n--;
    }
    if (this.n < this.members.length) this.members[this.n] = m;
    else this.members.push(m);
    this.n++;
  }

  /** Slots from `from` on are dropped. */
  private truncate(from: number): void {
    for (let i = from; i < this.n; i++) this.members[i] = undefined;
    this.n = from;
    if (this.start > from) this.start = from;
  }

  private clear(): void {
    this.truncate(0);
    if (this.members.length > 64) this.members = [];
    this.failed = false;
  }

  /** The statements from slot `from` on are rolled back, or their fate is unknown. */
  private mark(from: number, how: 'rolled back' | 'unknown'): void {
    for (let i = from; i < this.n; i++) {
      const m = this.members[i];
      if (m instanceof Savepoint || m === undefined) continue;
      if (how === 'rolled back') m.rolledBack = true;
      else m.rollbackUnknown = true;
    }
  }

  private rollback(): void {
    this.mark(0, 'rolled back');
    this.clear();
  }

  /** ROLLBACK TO SAVEPOINT: what came after the latest savepoint of that name is undone; the savepoint stays. */
  private rollbackTo(name: string): void {
    let i = this.n - 1;
    while (i >= 0) {
      const m = this.members[i];
      if (m instanceof Savepoint && (m.name === name || m.name === null)) break;
      i--;
    }
    // Not seen: set before the capture began, so before everything remembered here.
    this.mark(i + 1, 'rolled back');
    this.truncate(i + 1);
    this.failed = false;
  }

  /** RELEASE SAVEPOINT: the savepoint and those set after it are gone; the statements stay in the transaction. */
  private release(name: string | null): void {
    for (let i = this.n - 1; i >= 0; i--) {
      const m = this.members[i];
      if (m instanceof Savepoint && (m.name === name || m.name === null || name === null)) {
        let k = i;
        for (let j = i; j < this.n; j++) {
          const x = this.members[j];
          if (!(x instanceof Savepoint)) this.members[k++] = x;
        }
        this.truncate(k);
        return;
      }
    }
  }
}
