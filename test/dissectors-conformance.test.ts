/**
 * Conformance against an independent decoder: for each public capture, tshark reassembles
 * every TCP stream (`-z follow,tcp,raw`), a small framer here cuts it into messages, and the
 * dissectors decode them. Per stream and direction, the sequence of message names must match
 * tshark's `pgsql.type` sequence, and real traffic must decode without Malformed or Unknown
 * (where tshark reports Unknown too, we must as well). Skips, saying so, without tshark or
 * without the corpus.
 *
 * The framer here is deliberately minimal (no gaps, no resync): the project's framer is
 * src/pg's; this one only has to be right for these clean captures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dissect, rawMessage } from '../dissectors/index.js';
import { decodedMessageSchema } from '../dissectors/schema.js';
import type { ColumnDescription, DecodedMessage, Direction, RawMessage } from '../dissectors/types.js';
import { publicCaptures, publicCapture, tshark, SKIP_NO_PUBLIC, SKIP_NO_TSHARK } from './helpers/public-captures.js';
import { makeContext } from './helpers/pg-builder.js';

/** Captures left out of the name-by-name comparison, and why. */
const NOT_COMPARED: Record<string, string> = {
  'zeek/http-on-port-5432.pcap': 'negative sample (HTTP)',
  'zeek/mysql-on-port-5432.pcap': 'negative sample (MySQL), which tshark mis-decodes',
  'suricata-verify/pgsql-bug-6080-probe-test-01/input.pcap': 'negative sample (IRC-like bytes)',
  'zeek/bad-backend-message-1.pcap': 'crafted malformed message (checked separately)',
  'zeek/bad-startup-message-1.pcap': 'crafted malformed message (checked separately)',
  'deepflow/prepare_stat.pcap': 'two unrelated packets with a missing segment',
  'deepflow/pgsql-all.pcap': 'every frame truncated by 16 bytes (orig_len > caplen)',
};

/** Servers on other ports (the corpus's decode-as cases). */
const SERVER_PORTS = [5432, 15432, 60102, 8000];

/** tshark's pgsql.type strings -> the documentation's names (a prefix match for 'Authentication'). */
const TSHARK_NAMES: Record<string, string[]> = {
  'Startup message': ['StartupMessage'], 'SSL request': ['SSLRequest'], 'GSS encrypt request': ['GSSENCRequest'],
  'Cancel request': ['CancelRequest'], 'Authentication request': ['Authentication*'],
  'Password message': ['PasswordMessage', 'GSSResponse'], 'SASLInitialResponse message': ['SASLInitialResponse'],
  'SASLResponse message': ['SASLResponse'], 'Parameter status': ['ParameterStatus'], 'Backend key data': ['BackendKeyData'],
  'Ready for query': ['ReadyForQuery'], 'Simple query': ['Query'], 'Row description': ['RowDescription'],
  'Data row': ['DataRow'], 'Command completion': ['CommandComplete'], 'Termination': ['Terminate'], 'Error': ['ErrorResponse'],
  'Notice': ['NoticeResponse'], 'Parse': ['Parse'], 'Bind': ['Bind'], 'Execute': ['Execute'], 'Sync': ['Sync'],
  'Describe': ['Describe'], 'Parse completion': ['ParseComplete'], 'Bind completion': ['BindComplete'],
  'Close completion': ['CloseComplete'], 'No data': ['NoData'], 'Copy data': ['CopyData'], 'Copy completion': ['CopyDone'],
  'CopyIn response': ['CopyInResponse'], 'CopyOut response': ['CopyOutResponse'], 'Notification': ['NotificationResponse'],
  'Empty query': ['EmptyQueryResponse'], 'Unknown': ['Unknown'], 'Parameter description': ['ParameterDescription'],
  'Close': ['Close'], 'Flush': ['Flush'], 'Portal suspended': ['PortalSuspended'], 'Function call': ['FunctionCall'],
  'Function call response': ['FunctionCallResponse'], 'Copy fail': ['CopyFail'],
};

function nameMatches(tsharkName: string, ours: string): boolean {
  const want = TSHARK_NAMES[tsharkName];
  if (want === undefined) return false;
  return want.some((w) => (w.endsWith('*') ? ours.startsWith(w.slice(0, -1)) : w === ours));
}

interface Chunk { fromServer: boolean; bytes: Buffer }
interface Stream { id: number; chunks: Chunk[] }

/** tshark's output; its exit status is ignored (it is non-zero for a capture cut short, which still decodes). */
function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const parts: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => parts.push(b));
    p.on('error', reject);
    p.on('close', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
}

function decodeAs(): string[] {
  return SERVER_PORTS.filter((p) => p !== 5432).flatMap((p) => ['-d', `tcp.port==${p},pgsql`]);
}

/** tshark's message names per stream and direction ("id/frontend"), and the TCP stream ids. */
async function tsharkNames(file: string): Promise<{ names: Map<string, string[]>; ids: number[] }> {
  const out = new Map<string, string[]>();
  const ids = new Set<number>();
  const text = await run(['-r', file, ...decodeAs(), '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.dstport', '-e', 'pgsql.type', '-E', 'separator=|']);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [stream, dport, types] = line.split('|');
    if (stream === '') continue;
    ids.add(Number(stream));
    if (types === undefined || types === '') continue;
    const dir: Direction = SERVER_PORTS.includes(Number(dport)) ? 'frontend' : 'backend';
    const key = `${stream}/${dir}`;
    const list = out.get(key) ?? [];
    for (const t of types.split(',')) if (t !== '') list.push(t);
    out.set(key, list);
  }
  return { names: out, ids: [...ids] };
}

async function streams(file: string, ids: number[]): Promise<Stream[]> {
  if (ids.length === 0) return [];
  const text = await run(['-r', file, '-q', ...ids.flatMap((i) => ['-z', `follow,tcp,raw,${i}`])]);
  const out: Stream[] = [];
  let cur: Stream | null = null;
  let node0Server = false;
  for (const line of text.split('\n')) {
    const filter = /^Filter: tcp\.stream eq (\d+)/.exec(line);
    if (filter) {
      cur = { id: Number(filter[1]), chunks: [] };
      out.push(cur);
      continue;
    }
    const node = /^Node ([01]): .*:(\d+)$/.exec(line);
    if (node) {
      if (node[1] === '0') node0Server = SERVER_PORTS.includes(Number(node[2]));
      continue;
    }
    if (cur === null || /^(=|Follow:)/.test(line) || line.trim() === '') continue;
    const fromNode1 = line.startsWith('\t');
    const hex = line.trim();
    if (!/^[0-9a-f]+$/.test(hex)) continue;
    cur.chunks.push({ fromServer: fromNode1 ? !node0Server : node0Server, bytes: Buffer.from(hex, 'hex') });
  }
  return out;
}

interface Decoded { dir: Direction; m: DecodedMessage }

/** Frame and decode one stream, keeping the little state that decoding depends on. */
function decodeStream(s: Stream): Decoded[] {
  const out: Decoded[] = [];
  const buf: Record<Direction, Buffer> = { frontend: Buffer.alloc(0), backend: Buffer.alloc(0) };
  let startup = true;
  let off = false;
  let pending: 'ssl' | 'gssenc' | null = null;
  let authType: number | null = null;
  let saslMechanism: string | null = null;
  let protocolMinor = 0;
  let columns: ColumnDescription[] | undefined;
  const statements = new Map<string, number[]>();
  const first = s.chunks.find((c) => !c.fromServer);
  // A stream captured mid-way starts with a typed message, not a startup packet.
  if (first !== undefined && first.bytes.length >= 8) {
    const len = first.bytes.readInt32BE(0);
    startup = len >= 8 && len <= 10000;
  }
  const emit = (raw: RawMessage) => {
    const ctx = makeContext({
      authType, saslMechanism, protocolMinor, pendingRequest: pending, columns,
      statementParamTypes: (name: string) => statements.get(name),
    });
    const m = dissect(raw, ctx);
    out.push({ dir: raw.dir, m });
    if (m.type.startsWith('Authentication') && 'authType' in m && typeof m.authType === 'number') authType = m.authType;
    if (m.type === 'SASLInitialResponse') saslMechanism = m.mechanism;
    if (m.type === 'NegotiateProtocolVersion') protocolMinor = m.newestMinor;
    if (m.type === 'StartupMessage') protocolMinor = m.protocolMinor;
    if (m.type === 'RowDescription') columns = m.fields;
    if (m.type === 'Parse') statements.set(m.statement, m.paramTypes);
  };
  const base = { offset: 0, firstFrame: 0, frame: 0, startTimeUs: 0, timeUs: 0 };
  for (const c of s.chunks) {
    if (off) break;
    const dir: Direction = c.fromServer ? 'backend' : 'frontend';
    let b = Buffer.concat([buf[dir], c.bytes]);
    for (;;) {
      if (off) break;
      if (dir === 'backend' && pending !== null) {
        if (b.length < 1) break;
        if (b[0] === 0x45 /* E: an old server's error */) pending = null;
        else {
          emit(rawMessage({ ...base, dir, code: null, length: 1, body: b.subarray(0, 1) }));
          if (b[0] !== 0x4e) off = true; // S or G: encryption follows
          pending = null;
          b = b.subarray(1);
          continue;
        }
      }
      if (dir === 'frontend' && startup) {
        if (b.length < 4) break;
        const len = b.readInt32BE(0);
        if (len < 4) { off = true; break; } // not framable: this minimal framer gives up
        if (b.length < len) break;
        const raw: RawMessage = rawMessage({ ...base, dir, code: null, length: len, body: b.subarray(4, len) });
        emit(raw);
        const t = out[out.length - 1].m.type;
        if (t === 'SSLRequest') pending = 'ssl';
        else if (t === 'GSSENCRequest') pending = 'gssenc';
        else startup = false;
        b = b.subarray(len);
        continue;
      }
      if (b.length < 5) break;
      const len = b.readInt32BE(1);
      if (len < 4) { off = true; break; }
      if (b.length < 1 + len) break;
      emit(rawMessage({ ...base, dir, code: String.fromCharCode(b[0]), length: len, body: b.subarray(5, 1 + len) }));
      b = b.subarray(1 + len);
    }
    buf[dir] = Buffer.from(b);
  }
  return out;
}

/** Field values tshark and we both extract, compared as sorted lists per capture. */
const COMPARED_FIELDS = ['pgsql.query', 'pgsql.tag', 'pgsql.code', 'pgsql.col.name', 'pgsql.statement', 'pgsql.parameter_name', 'pgsql.message'] as const;
type ComparedField = (typeof COMPARED_FIELDS)[number];

/** tshark prints control characters and backslashes escaped; compare without them on both sides. */
function norm(s: string): string {
  return s.replace(/\\(?:[nrt\\]|x[0-9a-fA-F]{2})|[\x00-\x1f\\]/g, '');
}

async function tsharkFields(file: string): Promise<Record<ComparedField, string[]>> {
  const out = Object.fromEntries(COMPARED_FIELDS.map((f) => [f, [] as string[]])) as Record<ComparedField, string[]>;
  const args = ['-r', file, ...decodeAs(), '-Y', 'pgsql', '-T', 'fields', ...COMPARED_FIELDS.flatMap((f) => ['-e', f]), '-E', 'separator=\x1f', '-E', 'aggregator=\x1e', '-E', 'occurrence=a'];
  for (const line of (await run(args)).split('\n')) {
    if (line === '') continue;
    const cols = line.split('\x1f');
    COMPARED_FIELDS.forEach((f, i) => {
      const v = cols[i] ?? '';
      if (v === '' && f !== 'pgsql.statement') return;
      if (f === 'pgsql.statement' && v === '') return;
      for (const x of v.split('\x1e')) out[f].push(norm(x));
    });
  }
  for (const f of COMPARED_FIELDS) out[f].sort();
  out['pgsql.statement'] = out['pgsql.statement'].filter((v) => v !== '');
  return out;
}

function ourFields(all: Decoded[]): Record<ComparedField, string[]> {
  const out = Object.fromEntries(COMPARED_FIELDS.map((f) => [f, [] as string[]])) as Record<ComparedField, string[]>;
  const add = (f: ComparedField, v: string | null | undefined) => {
    if (v !== null && v !== undefined) out[f].push(norm(v));
  };
  for (const { m } of all) {
    switch (m.type) {
      case 'Query': add('pgsql.query', m.query); break;
      case 'Parse': add('pgsql.query', m.query); add('pgsql.statement', m.statement); break;
      case 'Bind': add('pgsql.statement', m.statement); break;
      case 'Describe': case 'Close': if (m.target === 'statement') add('pgsql.statement', m.name); break;
      case 'CommandComplete': add('pgsql.tag', m.tag); break;
      case 'ErrorResponse': case 'NoticeResponse': add('pgsql.code', m.fields.sqlstate); add('pgsql.message', m.fields.message); break;
      case 'RowDescription': for (const c of m.fields) add('pgsql.col.name', c.name); break;
      case 'StartupMessage': for (const k of Object.keys(m.parameters)) add('pgsql.parameter_name', k); break;
      case 'ParameterStatus': add('pgsql.parameter_name', m.name); break;
      default: break;
    }
  }
  for (const f of COMPARED_FIELDS) out[f].sort();
  // tshark leaves empty strings out of field output in some messages: compare non-empty values.
  out['pgsql.statement'] = out['pgsql.statement'].filter((v) => v !== '');
  return out;
}

interface CaptureResult { rel: string; names: Map<string, string[]>; fields: Record<ComparedField, string[]>; streams: Stream[] }

async function load(rel: string): Promise<CaptureResult> {
  const file = publicCapture(rel);
  const [{ names, ids }, fields] = await Promise.all([tsharkNames(file), tsharkFields(file)]);
  return { rel, names, fields, streams: await streams(file, ids) };
}

let loaded: Promise<CaptureResult[]> | null = null;
/** Both comparisons read the same tshark output: run tshark once per capture. */
function loadOnce(): Promise<CaptureResult[]> {
  loaded ??= loadAll(files ?? []);
  return loaded;
}

/** All captures through tshark, a few at a time (tshark's start-up dominates). */
async function loadAll(rels: string[]): Promise<CaptureResult[]> {
  const out: CaptureResult[] = new Array<CaptureResult>(rels.length);
  let next = 0;
  const worker = async () => {
    while (next < rels.length) {
      const i = next++;
      out[i] = await load(rels[i]);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return out;
}

const files = publicCaptures();
const haveTshark = tshark() !== null;
const skip = files === null ? SKIP_NO_PUBLIC : !haveTshark ? SKIP_NO_TSHARK : false;

test('public captures decode like tshark decodes them, message by message', { skip }, async () => {
  let compared = 0;
  let messages = 0;
  for (const { rel, names: theirs, streams: list } of await loadOnce()) {
    for (const s of list) {
      const ours = decodeStream(s);
      for (const d of ours) {
        const r = decodedMessageSchema.safeParse(d.m);
        assert.ok(r.success, `${rel} stream ${s.id}: schema: ${r.success ? '' : JSON.stringify(r.error.issues)}`);
      }
      if (NOT_COMPARED[rel] !== undefined) continue;
      for (const dir of ['frontend', 'backend'] as Direction[]) {
        // tshark gives the one-byte S/N/G answers no type; leave them out on our side too.
        const names = ours.filter((d) => d.dir === dir && d.m.type !== 'SSLResponse' && d.m.type !== 'GSSENCResponse')
          .map((d) => (d.m.type === 'Malformed' ? `Malformed ${d.m.name}: ${d.m.reason}` : d.m.type));
        const want = theirs.get(`${s.id}/${dir}`) ?? [];
        assert.equal(names.length, want.length, `${rel} stream ${s.id} ${dir}: ${names.length} messages, tshark ${want.length}\nours: ${names.join(', ')}\ntshark: ${want.join(', ')}`);
        for (let i = 0; i < names.length; i++) {
          assert.ok(nameMatches(want[i], names[i]), `${rel} stream ${s.id} ${dir} #${i}: ours ${names[i]}, tshark ${want[i]}`);
        }
        messages += names.length;
      }
      compared++;
    }
  }
  assert.ok(compared >= 30 && messages >= 6000, `${compared} streams, ${messages} messages compared`);
});

test('public captures: queries, tags, SQLSTATEs, column, statement and parameter names agree with tshark', { skip }, async () => {
  let values = 0;
  for (const { rel, fields: theirs, streams: list } of await loadOnce()) {
    if (NOT_COMPARED[rel] !== undefined) continue;
    const ours = ourFields(list.flatMap(decodeStream));
    for (const f of COMPARED_FIELDS) {
      assert.deepEqual(ours[f], theirs[f], `${rel}: ${f}`);
      values += ours[f].length;
    }
  }
  assert.ok(values > 500, `${values} values compared`);
});

test('crafted malformed captures come out Malformed or Unknown, not thrown', { skip }, async () => {
  for (const rel of ['zeek/bad-startup-message-1.pcap']) {
    const all = (await load(rel)).streams.flatMap(decodeStream);
    assert.ok(all.some((d) => d.m.type === 'Malformed' || d.m.type === 'Unknown'), `${rel}: ${all.map((d) => d.m.type).join(', ')}`);
  }
});
