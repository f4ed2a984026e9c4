/**
 * Command-line parsing. Follows tshark's and tcpdump's habits where they apply (-i, -r, -w, -f,
 * -Y, -V, -D, -p); user mistakes are UserErrors (one line on stderr, exit 2).
 */
import { parseArgs } from 'node:util';
import { UserError } from '../core/errors.js';
import { escapeTerminal } from '../core/escape.js';
import { DEFAULT_MEMORY_LIMIT_MB, MIN_MEMORY_LIMIT_MB } from '../core/budget.js';

const COMMANDS = ['read', 'stats', 'check', 'record', 'report', 'schema', 'export-schema', 'help'] as const;
type Command = (typeof COMMANDS)[number] | 'live' | 'interfaces';

export interface CliOptions {
  command: Command;
  /** Capture file (read, stats, check), or "-" for standard input. */
  file: string | null;
  iface: string | null;
  captureFilter: string | null;
  displayFilter: string | null;
  ports: number[];
  write: string | null;
  json: boolean;
  text: boolean;
  verbose: boolean;
  queries: boolean;
  rows: boolean;
  showSecrets: boolean;
  keylog: string | null;
  /** --memory-limit: the peak resident size to stay under, MB (core/budget.ts). */
  memoryLimitMb: number;
  /** --overlap: which copy of overlapping TCP bytes is kept (src/reassembly). */
  overlap: 'first' | 'last';
  count: number | null;
  duration: number | null;
  /** check: rules file, and rules given as flags. */
  rules: string | null;
  maxQueries: number | null;
  maxPerFingerprint: number | null;
  noErrors: boolean;
  allowSqlstate: string[];
  maxP95: number | null;
  maxLatency: number | null;
  preparedOnce: boolean;
  noInlinedLiterals: boolean;
  noPlaintextPasswords: boolean;
  requireTls: boolean;
  allowUndecoded: boolean;
  strict: boolean;
  exclude: string[];
  /** record: output NDJSON file, and the command to run. */
  jsonOut: string | null;
  checkRules: string | null;
  commandArgs: string[];
  /** --export URL (ClickHouse), and what goes with it. */
  exportUrl: string | null;
  exportMessages: boolean;
  exportParams: boolean;
  hostLabel: string | null;
  /** --metrics HOST:PORT (Prometheus), and how many statements get a label of their own. */
  metrics: string | null;
  metricsTop: number | null;
  /** report: -o, the HTML file; --report FILE: the same page from read -i or record. */
  output: string | null;
  report: string | null;
  help: boolean;
  version: boolean;
}

const OPTIONS = {
  interface: { type: 'string', short: 'i' },
  read: { type: 'string', short: 'r' },
  write: { type: 'string', short: 'w' },
  filter: { type: 'string', short: 'f' },
  'display-filter': { type: 'string', short: 'Y' },
  port: { type: 'string', short: 'p', multiple: true },
  'list-interfaces': { type: 'boolean', short: 'D' },
  json: { type: 'boolean' },
  text: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'V' },
  queries: { type: 'boolean' },
  rows: { type: 'boolean' },
  'show-secrets': { type: 'boolean' },
  keylog: { type: 'string' },
  'memory-limit': { type: 'string' },
  overlap: { type: 'string' },
  count: { type: 'string', short: 'c' },
  duration: { type: 'string' },
  rules: { type: 'string' },
  'max-queries': { type: 'string' },
  'max-per-fingerprint': { type: 'string' },
  'no-errors': { type: 'boolean' },
  'allow-sqlstate': { type: 'string', multiple: true },
  'max-p95': { type: 'string' },
  'max-latency': { type: 'string' },
  'prepared-once': { type: 'boolean' },
  'no-inlined-literals': { type: 'boolean' },
  'no-plaintext-passwords': { type: 'boolean' },
  'require-tls': { type: 'boolean' },
  'allow-undecoded': { type: 'boolean' },
  strict: { type: 'boolean' },
  exclude: { type: 'string', multiple: true },
  'json-out': { type: 'string' },
  check: { type: 'string' },
  export: { type: 'string' },
  'export-messages': { type: 'boolean' },
  'export-params': { type: 'boolean' },
  'host-label': { type: 'string' },
  metrics: { type: 'string' },
  'metrics-top': { type: 'string' },
  output: { type: 'string', short: 'o' },
  report: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

function overlapPolicy(v: string | undefined): 'first' | 'last' {
  if (v === undefined || v === 'last') return 'last';
  if (v === 'first') return 'first';
  throw new UserError('BAD_ARGUMENT', `--overlap wants first or last, not "${escapeTerminal(v)}"`);
}

function num(name: string, v: string | undefined, min = 0): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UserError('BAD_ARGUMENT', `--${name} wants a number${min > 0 ? ` of at least ${min}` : ''}, not "${v}"`);
  return n;
}

function parsePorts(values: string[] | undefined): number[] {
  const out: number[] = [];
  for (const v of values ?? []) {
    for (const p of v.split(',')) {
      const s = p.trim();
      if (s === '') continue;
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UserError('BAD_ARGUMENT', `-p wants TCP ports (1-65535, comma-separated), not "${s}"`);
      out.push(n);
    }
  }
  return out;
}

/** node:util parseArgs's complaints, said in pgsniff's words (with the nearest option for a typo). */
function optionError(e: NodeJS.ErrnoException): string {
  const msg = e.message;
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = /'([^']+)'/.exec(msg)?.[1] ?? '';
    const near = nearestOption(name.replace(/^-+/, ''));
    return `unknown option ${name}${near ? ` (did you mean --${near}?)` : ''}`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flags = /Option '([^']+)'/.exec(msg)?.[1]?.replace(/ <value>$/, '') ?? 'an option';
    if (/argument missing/.test(msg)) return `${flags} needs a value`;
    if (/does not take an argument/.test(msg)) return `${flags} takes no value`;
    // `--duration -1`: parseArgs will not take a value that looks like an option.
    const long = /use '(--[\w-]+)=-XYZ'/.exec(msg)?.[1];
    if (/is ambiguous/.test(msg) && long !== undefined) return `${flags} needs a value (one that starts with "-" is written ${long}=-VALUE)`;
  }
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${/'([^']+)'/.exec(msg)?.[1] ?? ''}`.trim();
  // Anything else parseArgs says: its first sentence, on the one line a user error has.
  return msg.replace(/\. To specify a positional.*$/s, '').split('\n')[0]!;
}

/** The option whose long name is within two edits of `name`, if one is. */
function nearestOption(name: string): string | null {
  let best: string | null = null;
  let bestDist = 3;
  for (const o of Object.keys(OPTIONS)) {
    const d = editDistance(name, o);
    if (d < bestDist) {
      best = o;
      bestDist = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

export function parseCli(argv: string[]): CliOptions {
  // `record ... -- COMMAND ARGS`: everything after `--` belongs to the command.
  const dd = argv.indexOf('--');
  const own = dd >= 0 ? argv.slice(0, dd) : argv;
  const commandArgs = dd >= 0 ? argv.slice(dd + 1) : [];
  let parsed;
  try {
    parsed = parseArgs({ args: own, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UserError('BAD_ARGUMENT', `${optionError(e as NodeJS.ErrnoException)} (pgsniff --help lists the options)`);
  }
  const v = parsed.values;
  const pos = parsed.positionals;
  let command: Command;
  let file: string | null = v.read ?? null;
  if (pos.length > 0 && (COMMANDS as readonly string[]).includes(pos[0])) {
    command = pos[0] as Command;
    if (pos.length > 1) file = pos[1];
    // `schema` takes no argument: a word after it is a mistake, not a file to ignore.
    const takes = command === 'schema' ? 1 : 2;
    if (pos.length > takes) throw new UserError('BAD_ARGUMENT', `unexpected argument "${pos[takes]}"`);
  } else if (pos.length > 0) {
    throw new UserError('BAD_ARGUMENT', `unknown command "${pos[0]}" (commands: read, stats, check, record, report, schema; pgsniff --help)`);
  } else if (v['list-interfaces']) {
    command = 'interfaces';
  } else if (v.interface !== undefined) {
    command = 'live';
  } else if (file !== null) {
    command = 'read';
  } else {
    command = 'help';
  }
  if (command === 'record' && commandArgs.length === 0 && !v.help) {
    throw new UserError('BAD_ARGUMENT', 'record needs a command to run after "--", e.g. pgsniff record -- npm test');
  }
  if ((command === 'read' || command === 'check') && file === null && v.interface === undefined && !v.help) {
    throw new UserError('BAD_ARGUMENT', `${command} needs a capture file (or - for standard input)`);
  }
  if (v.json && v.text) throw new UserError('BAD_ARGUMENT', '--json and --text exclude each other');
  return {
    command,
    file,
    iface: v.interface ?? null,
    captureFilter: v.filter ?? null,
    displayFilter: v['display-filter'] ?? null,
    ports: parsePorts(v.port),
    write: v.write ?? null,
    json: v.json ?? false,
    text: v.text ?? false,
    verbose: v.verbose ?? false,
    queries: v.queries ?? false,
    rows: v.rows ?? false,
    showSecrets: v['show-secrets'] ?? false,
    keylog: v.keylog ?? null,
    memoryLimitMb: num('memory-limit', v['memory-limit'], MIN_MEMORY_LIMIT_MB) ?? DEFAULT_MEMORY_LIMIT_MB,
    overlap: overlapPolicy(v.overlap),
    count: num('count', v.count, 1),
    duration: num('duration', v.duration),
    rules: v.rules ?? null,
    maxQueries: num('max-queries', v['max-queries']),
    maxPerFingerprint: num('max-per-fingerprint', v['max-per-fingerprint']),
    noErrors: v['no-errors'] ?? false,
    allowSqlstate: v['allow-sqlstate'] ?? [],
    maxP95: num('max-p95', v['max-p95']),
    maxLatency: num('max-latency', v['max-latency']),
    preparedOnce: v['prepared-once'] ?? false,
    noInlinedLiterals: v['no-inlined-literals'] ?? false,
    noPlaintextPasswords: v['no-plaintext-passwords'] ?? false,
    requireTls: v['require-tls'] ?? false,
    allowUndecoded: v['allow-undecoded'] ?? false,
    strict: v.strict ?? false,
    exclude: v.exclude ?? [],
    jsonOut: v['json-out'] ?? null,
    checkRules: v.check ?? null,
    commandArgs,
    exportUrl: v.export ?? null,
    exportMessages: v['export-messages'] ?? false,
    exportParams: v['export-params'] ?? false,
    hostLabel: v['host-label'] ?? null,
    metrics: v.metrics ?? null,
    metricsTop: num('metrics-top', v['metrics-top'], 1),
    output: v.output ?? null,
    report: v.report ?? null,
    help: v.help ?? false,
    version: v.version ?? false,
  };
}

export const USAGE = `pgsniff: a packet capture and protocol analyzer for the PostgreSQL wire protocol

Usage:
  pgsniff -i IFACE [options]          capture live (terminal UI on a terminal, else text)
  pgsniff read FILE [options]         read a pcap or pcapng file ("-" reads standard input)
  pgsniff -r FILE [options]           the same
  pgsniff stats FILE [--json]         per-query latency, errors, sessions (also with -i IFACE)
  pgsniff check FILE RULES            assert on a capture or an NDJSON export; exit 1 on violations
  pgsniff record [options] -- CMD     capture while CMD runs, then write outputs and run checks
  pgsniff report FILE -o OUT.html     one HTML page of charts and tables (capture or NDJSON; also -i IFACE)
  pgsniff schema                      print the JSON Schema of the NDJSON records
  pgsniff export-schema clickhouse    print the ClickHouse tables' DDL (--export creates them)
  pgsniff -D                          list capture interfaces

Output:
  --json                NDJSON records (message, query, session, anomaly) on standard output
  --text                one line per frame, like tshark (the default when not on a terminal)
  -V, --verbose         with --text: the decoded tree of every message
  --queries             query records only (with --json or --text)
  -Y, --display-filter EXPR   keep records matching EXPR, e.g. -Y 'type == "Parse"'
  --rows                keep DataRow values in query records (up to 1000 rows each)
  --show-secrets        show passwords, SCRAM proofs and MD5 hashes (redacted by default)
  --memory-limit MB     peak memory to stay under (default ${DEFAULT_MEMORY_LIMIT_MB}); past its shares the oldest state is given up
  --overlap first|last  which copy of overlapping TCP bytes to keep (default last, as Linux does)

Capture:
  -i, --interface IFACE capture on IFACE (lo, eth0, any)
  -f, --filter BPF      capture filter (default: tcp port 5432 and the -p ports)
  -p, --port PORTS      PostgreSQL server ports besides 5432 (comma-separated, repeatable)
  -w, --write FILE      also write the captured packets to a pcap file
  -c, --count N         stop after N packets
  --duration SEC        stop after SEC seconds
  --keylog FILE         TLS key log (SSLKEYLOGFILE format) to decrypt TLS sessions

Checks (check, record --check):
  --rules FILE          rules from a JSON or YAML file
  --max-queries N       at most N queries in total
  --max-per-fingerprint N   at most N executions of any one normalized query (N+1 detection)
  --no-errors           no query may fail; --allow-sqlstate CODE allows one SQLSTATE (repeatable)
  --max-p95 MS, --max-latency MS   latency budgets
  --prepared-once       each statement is prepared once and reused
  --no-inlined-literals no simple-protocol queries that differ only in literals
  --no-plaintext-passwords   no cleartext password authentication
  --require-tls         every session uses TLS
  --allow-undecoded     sessions pgsniff cannot decode (TLS without --keylog, GSS) are not a violation
  --strict              damage to the capture (lost bytes, resyncs, a file cut short) is a violation
  --exclude REGEX       statements matching REGEX are not checked (repeatable; case-insensitive)
  -Y EXPR               check only the queries matching EXPR (and their sessions); also for stats

Export (read, live capture, record):
  --export URL          insert records into ClickHouse: clickhouse://HOST:8123/DATABASE
  --export-messages     message records too;  --export-params   bound parameters too
  --host-label NAME     the host column of every row (default: this host's name)
  --metrics HOST:PORT   serve Prometheus metrics on http://HOST:PORT/metrics
  --metrics-top N       statements with a label of their own (default 50; the rest: "other")
report:
  -o, --output FILE     the HTML file report writes
  --report FILE         with -i IFACE or record: also write the HTML report when the capture ends

record:
  --json-out FILE       write the NDJSON export of the run to FILE
  --check FILE          rules file to evaluate after the command exits

  -h, --help            this text;  -v, --version   the version
`;

/** Whether `read` and live capture open the terminal UI: no line output asked for, and a terminal both ways. */
export function useTui(o: CliOptions, stdoutTty: boolean, stdinTty: boolean): boolean {
  return !o.json && !o.text && !o.queries && !o.verbose && !o.exportUrl && !o.metrics && stdoutTty && stdinTty;
}
