/**
 * The driver samples: the drivers users run (psycopg2, psycopg 3, asyncpg, SQLAlchemy on
 * psycopg2, pgJDBC) against the sample server. Each runs as its own process
 * (scripts/sample-drivers.py under Debian's /usr/bin/python3, which has the python3-* driver
 * packages; scripts/SampleJdbc.java in java's single-file mode with /usr/share/java/postgresql.jar)
 * and prints what it sent and what the driver reported, in the manifest's shape; this module
 * adds it to the sample's recorder.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SampleRecorder } from './sample-clients.js';
import type { ManifestConnection, ManifestStep } from './sample-manifest.js';
import type { Scenario } from './sample-scenario.js';

/** dist/scripts -> project root */
const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEBIAN_PYTHON = '/usr/bin/python3';
const JDBC_JAR = '/usr/share/java/postgresql.jar';

interface DriverOutput {
  connections: ManifestConnection[];
  steps: ManifestStep[];
  parsedOnly?: string[];
}

/** Runs a driver program; its stdout is the JSON of what it did. */
function runDriver(cmd: string, args: string[], rec: SampleRecorder): Promise<DriverOutput> {
  const env = {
    ...process.env,
    PGHOST: rec.server.host,
    PGPORT: String(rec.server.port),
    PGUSER: rec.server.user,
    PGPASSWORD: rec.server.password,
    PGDATABASE: rec.server.database,
  };
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 25000 });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim().slice(-2000)}`));
      try {
        resolvePromise(JSON.parse(out) as DriverOutput);
      } catch (e) {
        reject(new Error(`${cmd} ${args.join(' ')} printed no JSON (${String(e)}): ${out.slice(0, 200)}`));
      }
    });
  });
}

/** Appends a driver's connections and steps to the recorder, renumbering connection indexes. */
function adopt(rec: SampleRecorder, out: DriverOutput): void {
  const base = rec.connections.length;
  for (const c of out.connections) rec.addConnection(c);
  for (const s of out.steps) rec.steps.push({ ...s, connection: s.connection + base });
  if (out.parsedOnly?.length) rec.parsedOnly.push(...out.parsedOnly);
}

/** Versions of the drivers, for the manifest's `clients` (absent ones are left out). */
export function driverVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    const v = execFileSync(DEBIAN_PYTHON, ['-c', 'import psycopg2, psycopg, asyncpg, sqlalchemy, sys; print(sys.version.split()[0], psycopg2.__version__.split()[0], psycopg.__version__, asyncpg.__version__, sqlalchemy.__version__)'], { encoding: 'utf8' }).trim().split(' ');
    Object.assign(out, { python: v[0]!, psycopg2: v[1]!, psycopg: v[2]!, asyncpg: v[3]!, sqlalchemy: v[4]! });
  } catch {
    // the Python drivers are not installed: their scenarios fail with a message of their own
  }
  try {
    const mf = execFileSync('unzip', ['-p', JDBC_JAR, 'META-INF/MANIFEST.MF'], { encoding: 'utf8' });
    const m = /Bundle-Version: (\S+)/.exec(mf) ?? /Implementation-Version: (\S+)/.exec(mf);
    if (m) out.pgjdbc = m[1]!;
    out.java = (spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr.split('\n')[0] ?? '').replace(/^\S+ version "([^"]+)".*/, '$1');
  } catch {
    // no jar or no unzip / java
  }
  return out;
}

async function runPython(rec: SampleRecorder, scenario: string): Promise<void> {
  if (!existsSync(DEBIAN_PYTHON)) throw new Error(`${DEBIAN_PYTHON} is absent: apt-get install python3-psycopg2 python3-psycopg python3-asyncpg python3-sqlalchemy`);
  adopt(rec, await runDriver(DEBIAN_PYTHON, [join(projectRoot, 'scripts', 'sample-drivers.py'), scenario], rec));
}

async function runJdbc(rec: SampleRecorder): Promise<void> {
  if (!existsSync(JDBC_JAR)) throw new Error(`${JDBC_JAR} is absent: apt-get install libpostgresql-jdbc-java default-jdk-headless`);
  adopt(rec, await runDriver('java', ['-cp', JDBC_JAR, join(projectRoot, 'scripts', 'SampleJdbc.java')], rec));
}

export const DRIVER_SCENARIOS: Scenario[] = [
  {
    name: 'psycopg2',
    title: 'psycopg2: client-side parameters, execute_batch, transactions with errors',
    description:
      'psycopg2 (libpq, simple protocol only: it interpolates parameters into the SQL text), SCRAM login. ' +
      'In autocommit: CREATE TEMP TABLE, an INSERT, execute_batch of three INSERTs (one Query holding ' +
      'three statements), a SELECT of four rows, a missing table (42P01). Then outside autocommit: ' +
      'psycopg2 sends BEGIN before the first statement; an UPDATE and a duplicate-key INSERT (23505), ' +
      'rolled back; an UPDATE and a syntax error (42601), rolled back; a DELETE, committed; a SELECT showing ' +
      'that the rolled-back UPDATEs left nothing, committed.',
    decode: [
      'every statement a Query message with its parameters inside the SQL text',
      'execute_batch: one Query with three INSERTs, three CommandComplete "INSERT 0 1" and one ReadyForQuery',
      'BEGIN, then the UPDATE and the failing INSERT (ReadyForQuery status E), then ROLLBACK: the UPDATE was undone',
      '42P01 and 42601 as ErrorResponse to a Query (the simple protocol has no Parse)',
    ],
    run: (rec) => runPython(rec, 'psycopg2'),
  },
  {
    name: 'psycopg3',
    title: 'psycopg 3: executemany, prepare=True, errors at Parse, pipeline mode',
    description:
      'psycopg 3 (libpq, extended protocol with server-side parameters), SCRAM login, autocommit. ' +
      'executemany of three INSERTs, pipelined (Parse/Bind/Describe/Execute each, one Sync); a ' +
      'statement executed twice with prepare=True (Parse of "_pg3_0" with its own Sync, then ' +
      'Bind/Describe/Execute/Sync; the second time no Parse); prepare=True of a missing table (42P01) ' +
      'and of a syntax error (42601): the server answers the Parse with ErrorResponse, nothing is bound ' +
      'or executed; then a pipeline block of three statements (one sleeping 100 ms) with one Sync.',
    decode: [
      'Parse of "_pg3_0" and ReadyForQuery, then Bind "_pg3_0"; the second execution has no Parse',
      'ErrorResponse 42P01 and 42601 answering a Parse: each is a failed query (sql from the Parse)',
      'executemany and the pipeline: several Parse/Bind/Describe/Execute before one Sync; the answers arrive in one flush',
    ],
    run: (rec) => runPython(rec, 'psycopg3'),
  },
  {
    name: 'asyncpg',
    title: 'asyncpg: binary results, executemany, binary COPY, prepare() and errors at Parse',
    description:
      'asyncpg (its own protocol implementation, binary format for parameters and results), SCRAM ' +
      'login. CREATE TEMP TABLE (simple Query); executemany of three INSERTs through a named statement ' +
      '(Parse and Describe statement, then Bind/Execute per row, one Sync); copy_records_to_table: an ' +
      'introspection Parse/Describe of a SELECT of the columns, then COPY FROM STDIN (FORMAT binary) whose ' +
      'CopyData asyncpg sends without waiting for CopyInResponse; prepare() of a SELECT executed twice; ' +
      'prepare() of a missing table (42P01) and of a syntax error (42601), which fail at Parse.',
    decode: [
      'Bind with binary parameters and binary result formats; DataRows typed by the RowDescription of the Describe statement',
      'the COPY: Query, then frontend CopyData (binary COPY header) possibly before the CopyInResponse, CopyDone, "COPY 2"',
      'ErrorResponse 42P01 and 42601 answering a Parse: each is a failed query',
    ],
    run: (rec) => runPython(rec, 'asyncpg'),
  },
  {
    name: 'sqlalchemy',
    title: 'SQLAlchemy ORM over psycopg2: introspection, unit of work, lazy loads, an error',
    description:
      'SQLAlchemy 1.4 with psycopg2, one pooled connection, SCRAM login. The dialect\'s first-connect ' +
      'queries (version, current_schema, isolation level, standard_conforming_strings), DROP / CREATE of ' +
      'two tables (with the metadata\'s has_table checks), an INSERT of authors and books in one unit of ' +
      'work, a SELECT of the authors then one lazy-load SELECT per author (N+1), an UPDATE, a SELECT from ' +
      'a missing table (42P01) and its ROLLBACK, a count; psycopg2\'s BEGIN / COMMIT / ROLLBACK around them.',
    decode: [
      'every statement a Query message (psycopg2); BEGIN before the first of each transaction, COMMIT or ROLLBACK after',
      'the lazy loads: the same SELECT of orm_book with a different author_id, once per author',
      '42P01 in a transaction, then ROLLBACK',
    ],
    run: (rec) => runPython(rec, 'sqlalchemy'),
  },
  {
    name: 'pgjdbc',
    title: 'pgJDBC: server-side prepares, executeBatch, errors at Parse, setFetchSize',
    description:
      'pgJDBC (Debian libpostgresql-jdbc-java) under java 17, SCRAM login, prepareThreshold=1 so that ' +
      'every PreparedStatement is a named server-side statement from its first execution. CREATE TEMP ' +
      'TABLE through the unnamed statement; executeBatch of four INSERTs (Parse "S_1" once, Bind/Execute ' +
      'per row, one Sync); a SELECT executed twice (Parse once); a missing table (42P01) and a syntax ' +
      'error (42601) answered at Parse; then in a transaction (pgJDBC sends BEGIN in the same Sync as the ' +
      'query) a SELECT of four rows with setFetchSize(3): Execute with a row limit, PortalSuspended, a second ' +
      'Execute of the same portal; COMMIT.',
    decode: [
      'only the extended protocol; Parse of "S_1" once and four Bind/Execute pairs before one Sync',
      'ErrorResponse 42P01 and 42601 answering a Parse: each is a failed query (sql from the Parse)',
      'Execute with max rows 3: three DataRows then PortalSuspended; the next Execute returns the last row and CommandComplete',
    ],
    run: (rec) => runJdbc(rec),
  },
  {
    name: 'postgresjs-describe',
    title: 'postgres.js: Parse, Describe statement, Bind, Execute, Sync in one segment',
    description:
      'postgres.js with one connection, SCRAM login. Queries without parameters in the extended protocol: ' +
      'a prepared one (Parse of a generated name, Describe statement, Bind, Execute, Sync in one write; ' +
      'the second run only Bind/Execute/Sync) and an unnamed one (Parse, Describe statement of the ' +
      'unnamed statement, Bind, Execute, Sync). The columns come from the RowDescription answering ' +
      'Describe statement, not from a Describe portal.',
    decode: [
      'one TCP segment holding Parse, Describe (S), Bind, Execute, Sync; the answer ParseComplete, ParameterDescription, RowDescription, BindComplete, DataRow, CommandComplete, ReadyForQuery',
      'DataRows typed by the RowDescription of the Describe statement (int4, text), in the result formats of the Bind',
    ],
    async run(rec) {
      const c = rec.postgresJs();
      for (let i = 0; i < 2; i++) await c.query({ sql: "SELECT 7::int4 AS n, 'seven'::text AS word", extended: true, prepare: true, expectRows: 1 });
      await c.query({ sql: "SELECT 8::int4 AS n, 'eight'::text AS word", extended: true, prepare: false, expectRows: 1 });
    },
  },
];
