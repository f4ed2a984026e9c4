/**
 * A real ClickHouse server for the export tests: Debian's clickhouse-server (18.16 on Debian 12,
 * the oldest release pgsniff's tables must suit), started on a free loopback port with its own
 * data directory, and stopped (directory removed) by stop().
 *
 *   const ch = await startClickHouse();   // null when clickhouse-server is not installed
 *   await ch.query('SELECT count() FROM db.pgsniff_queries');
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { freePort } from './pg-server.js';
import { tempDir } from './temp-dir.js';

const CLICKHOUSE = 'clickhouse-server';

export function clickhouseInstalled(): boolean {
  return spawnSync(CLICKHOUSE, ['--help'], { stdio: 'ignore' }).error === undefined;
}

export interface ClickHouseServer {
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  /** Runs SQL over HTTP; the body as text (use FORMAT JSONEachRow / TSV in the SQL). */
  query(sql: string): Promise<string>;
  /** Rows of a SELECT as objects (JSONEachRow). */
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  stop(): Promise<void>;
}

export async function startClickHouse(opts: { port?: number } = {}): Promise<ClickHouseServer> {
  const dir = tempDir('pgsniff-ch-');
  const port = opts.port ?? await freePort();
  const tcp = await freePort();
  for (const d of ['data', 'tmp', 'user_files', 'format_schemas']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'config.xml'), `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/error.log</errorlog></logger>
  <http_port>${port}</http_port>
  <tcp_port>${tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
</yandex>
`);
  writeFileSync(join(dir, 'users.xml'), `<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`);
  // Logs to files, not a pipe: a test blocked in spawnSync would not drain a pipe.
  const child: ChildProcess = spawn(CLICKHOUSE, [`--config-file=${join(dir, 'config.xml')}`], { stdio: 'ignore' });
  const log = (): string => { try { return readFileSync(join(dir, 'error.log'), 'utf8').slice(-4000); } catch { return ''; } };
  const url = `http://127.0.0.1:${port}`;
  // A new connection per query: ClickHouse closes idle keep-alive connections after 3 s, and a
  // POST on a connection it has just closed fails instead of being retried.
  const query = (sql: string): Promise<string> => new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => {
        if (res.statusCode === 200) resolve(text);
        else reject(new Error(`ClickHouse: ${text.trim()} (for ${sql.slice(0, 200)})`));
      });
    });
    req.on('error', reject);
    req.end(sql);
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`clickhouse-server exited ${child.exitCode}: ${log()}`);
    try {
      if ((await query('SELECT 1')).trim() === '1') break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`clickhouse-server did not answer within 60 s: ${log()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    port, url, query,
    async rows<T>(sql: string): Promise<T[]> {
      const text = await query(`${sql} FORMAT JSONEachRow`);
      return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
    },
    async stop(): Promise<void> {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
