/**
 * A real PgBouncer (Debian package pgbouncer) on loopback in front of a test server
 * (test/helpers/pg-server.ts), for the pooler sample and tests:
 *
 *   const bouncer = await startPgBouncer(server, { port: 6432, poolMode: 'transaction' });
 *   ... connect to 127.0.0.1:bouncer.port as server.user / server.password ...
 *   await bouncer.stop();
 *
 * PgBouncer refuses to run as root, so as root it runs as the `postgres` system user (the one
 * pg-server.ts runs PostgreSQL as), from a private directory holding its ini, user list, log and
 * Unix socket. Clients authenticate to it with SCRAM-SHA-256 against the plain password in the
 * user list, and it logs in to the server with the same password. Nothing is sent on the server
 * connections besides what clients send and what PgBouncer needs to match their parameters
 * (server_reset_query is empty and the idle check is pushed out of the way).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const PGBOUNCER = '/usr/sbin/pgbouncer';

interface PgBouncerOptions {
  port: number;
  poolMode?: 'session' | 'transaction' | 'statement';
  /** Server connections per user and database; default 2. */
  poolSize?: number;
}

export interface PgBouncer {
  port: number;
  version: string;
  poolMode: string;
  log(): string;
  stop(): Promise<void>;
}

export function pgbouncerAvailable(): boolean {
  return spawnSync(PGBOUNCER, ['--version'], { stdio: 'ignore' }).status === 0;
}

function pgbouncerVersion(): string {
  const out = spawnSync(PGBOUNCER, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /PgBouncer (\S+)/.exec(out)?.[1] ?? 'unknown';
}

/** Waits for PgBouncer's log line saying it listens (probing the port would put empty TCP
 * connections into a capture running meanwhile). */
async function waitListening(port: number, ms: number, child: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited ${child.exitCode}: ${log().slice(-1000)}`);
    if (log().includes(`listening on 127.0.0.1:${port}`)) return;
    if (Date.now() > until) throw new Error(`pgbouncer did not listen on ${port} within ${ms} ms: ${log().slice(-1000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The server it pools: its TCP port on 127.0.0.1 and the login PgBouncer uses (the same as the clients'). */
interface PooledServer {
  port: number;
  user: string;
  password: string;
}

export async function startPgBouncer(server: PooledServer, opts: PgBouncerOptions): Promise<PgBouncer> {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-pgbouncer-'));
  chmodSync(dir, 0o777);
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const poolMode = opts.poolMode ?? 'transaction';
  const files: Record<string, string> = {
    'userlist.txt': `${quote(server.user)} ${quote(server.password)}\n`,
    'pgbouncer.ini': [
      '[databases]',
      `* = host=127.0.0.1 port=${server.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${opts.port}`,
      `unix_socket_dir = ${dir}`,
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      'auth_type = scram-sha-256',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      `pool_mode = ${poolMode}`,
      `default_pool_size = ${opts.poolSize ?? 2}`,
      // nothing of PgBouncer's own on the server connections during a sample
      'server_reset_query =',
      'server_check_delay = 3600',
      // pgJDBC and others send it; PgBouncer would refuse the login otherwise
      'ignore_startup_parameters = extra_float_digits',
      '',
    ].join('\n'),
  };
  const asRoot = userInfo().uid === 0;
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
  }
  if (asRoot) {
    const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (pw.status !== 0) throw new Error('pgbouncer will not run as root and there is no `postgres` user to run it as');
    for (const name of Object.keys(files)) chownSync(join(dir, name), Number(pw.stdout.trim()), Number(gid.stdout.trim()));
  }
  const ini = join(dir, 'pgbouncer.ini');
  const child = asRoot
    ? // setpriv execs PgBouncer itself, so signals reach it
      spawn('setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', PGBOUNCER, ini], { stdio: 'ignore' })
    : spawn(PGBOUNCER, [ini], { stdio: 'ignore' });
  const log = () => {
    try {
      return readFileSync(join(dir, 'pgbouncer.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const exited = new Promise((res) => child.once('exit', res));
  try {
    await waitListening(opts.port, 10000, child, log);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    port: opts.port,
    version: pgbouncerVersion(),
    poolMode,
    log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
