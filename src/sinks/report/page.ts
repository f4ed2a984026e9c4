/**
 * The report page's own style sheet and script (html.ts inlines them with uPlot and the data).
 * The script builds every element with createElement and textContent, never innerHTML: text
 * from the wire (SQL, messages, names) can only ever be text. Plain ES2020, no template
 * literals (this file holds it in one).
 */

export const PAGE_CSS = String.raw`
:root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #fff; --panel: #f8f9fb; --accent: #2f6fde;
  --ok: #1f8a4c; --warn: #b76e00; --bad: #c4320a; --fe: #2f6fde; --be: #d9480f; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 16px 24px 8px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 20px; }
header .sub { color: var(--muted); font-size: 12px; }
nav { position: sticky; top: 0; background: var(--bg); border-bottom: 1px solid var(--line); padding: 6px 24px; z-index: 5; font-size: 13px; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
main { padding: 8px 24px 40px; max-width: 1400px; }
section { margin: 22px 0; }
/* the sections below the first screen are laid out when scrolled to, not when the page opens */
section { content-visibility: auto; contain-intrinsic-size: auto 900px; }
h2 { font-size: 17px; margin: 0 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 14px; margin: 12px 0 6px; }
.filter { margin: 6px 0 0; padding: 4px 10px; background: #eef2fb; border-radius: 4px; }
.trust { margin: 8px 0 0; padding: 6px 10px; border-radius: 4px; font-weight: 600; }
.trust.ok { background: #e7f6ec; color: var(--ok); } .trust.warn { background: #fff4e0; color: var(--warn); } .trust.bad { background: #fde9e4; color: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.card .v { font-size: 20px; font-weight: 600; } .card .k { color: var(--muted); font-size: 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 12px; }
.chart { border: 1px solid var(--line); border-radius: 6px; padding: 6px; min-height: 120px; break-inside: avoid; }
.chart .t { font-weight: 600; font-size: 13px; margin: 0 0 2px 4px; }
.note { color: var(--muted); font-size: 12px; }
.tools { margin: 4px 0; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
input[type=search], select { font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 4px; }
button { font: inherit; padding: 2px 8px; border: 1px solid var(--line); border-radius: 4px; background: var(--panel); cursor: pointer; }
button.on { background: var(--accent); color: #fff; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: var(--panel); cursor: pointer; user-select: none; white-space: nowrap; position: sticky; top: 30px; }
th.sorted::after { content: " \25BE"; } th.sorted.asc::after { content: " \25B4"; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.sql, .sql { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; white-space: pre-wrap; word-break: break-word; }
td.sql { max-width: 640px; }
tr.sel td { background: #eef4ff; }
tbody tr:hover td { background: #f3f6fb; cursor: default; }
.detail { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin-top: 8px; background: var(--panel); }
.detail pre { margin: 4px 0; }
.params td { font-size: 12px; }
#timeline { width: 100%; display: block; border: 1px solid var(--line); cursor: crosshair; }
.split { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.uplot { font-size: 11px; }
@media print {
  nav, .tools, button { display: none !important; }
  th { position: static; }
  main { max-width: none; padding: 0 8px; }
  .charts { grid-template-columns: 1fr; }
  section { break-inside: auto; content-visibility: visible; }
  .chart, .card, tr { break-inside: avoid; }
  canvas, .uplot, .chart { max-width: 100% !important; }
  canvas { height: auto !important; }
  td.sql { max-width: none; }
  /* wide tables (13 columns of sessions) fit the page's width: smaller type, cells wrap */
  table { width: 100%; font-size: 9px; }
  th, td, td.n { padding: 2px 3px; white-space: normal !important; overflow-wrap: anywhere; }
  a { color: inherit; text-decoration: none; }
}
`;

export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var charts = [];
  var drawn = { charts: 0, errors: [] };
  window.__report = drawn;

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    if (children) children.forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function $(id) { return document.getElementById(id); }
  function num(n) { return n == null ? '' : Number(n).toLocaleString('en-US'); }
  function ms(n) {
    if (n == null) return '';
    if (n >= 1000) return (n / 1000).toFixed(n >= 10000 ? 1 : 2) + ' s';
    if (n >= 10) return n.toFixed(1) + ' ms';
    if (n >= 1) return n.toFixed(2) + ' ms';
    return (n * 1000).toFixed(0) + ' µs';
  }
  function bytes(n) {
    if (n == null) return '';
    var u = ['B', 'KB', 'MB', 'GB', 'TB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + u[i];
  }
  function iso(us) { return us == null ? '' : new Date(us / 1000).toISOString().replace('T', ' ').replace('Z', ' UTC'); }
  function dur(usA, usB) { return usA == null || usB == null ? '' : ms((usB - usA) / 1000); }
  function binUpper(b) { return Math.pow(2, b / D.latency.perOctave) / 1000; }

  // ---- sortable, filterable tables ----
  function table(host, cols, rows, opts) {
    opts = opts || {};
    var limit = opts.limit || 200;
    var sortKey = opts.sort || null, asc = false, filter = '';
    var tools = el('div', { cls: 'tools' });
    var search = el('input', { type: 'search', placeholder: 'filter…', 'aria-label': 'filter' });
    tools.appendChild(search);
    var count = el('span', { cls: 'note' });
    tools.appendChild(count);
    var more = el('button', { text: 'show all' });
    var t = el('table');
    var thead = el('thead'), tbody = el('tbody');
    var hr = el('tr');
    var ths = cols.map(function (c) {
      var th = el('th', { text: c.label, title: c.title || 'sort by ' + c.label });
      th.addEventListener('click', function () {
        if (sortKey === c.key) asc = !asc; else { sortKey = c.key; asc = !c.num; }
        render();
      });
      hr.appendChild(th);
      return th;
    });
    thead.appendChild(hr); t.appendChild(thead); t.appendChild(tbody);
    host.appendChild(tools); host.appendChild(t);
    var showAll = false;
    more.addEventListener('click', function () { showAll = true; render(); });
    search.addEventListener('input', function () { filter = search.value.toLowerCase(); render(); });
    function val(c, r) { return c.get ? c.get(r) : r[c.key]; }
    function render() {
      var list = rows;
      if (filter) list = list.filter(function (r) {
        return cols.some(function (c) { var v = val(c, r); return v != null && String(v).toLowerCase().indexOf(filter) >= 0; });
      });
      if (sortKey) {
        var c = cols.filter(function (x) { return x.key === sortKey; })[0];
        list = list.slice().sort(function (a, b) {
          var x = val(c, a), y = val(c, b);
          if (x == null) return 1; if (y == null) return -1;
          var r = c.num ? x - y : String(x).localeCompare(String(y));
          return asc ? r : -r;
        });
      }
      ths.forEach(function (th, i) {
        th.className = cols[i].key === sortKey ? 'sorted' + (asc ? ' asc' : '') : '';
      });
      tbody.textContent = '';
      var shown = showAll ? list : list.slice(0, limit);
      shown.forEach(function (r) {
        var tr = el('tr');
        cols.forEach(function (c) {
          var v = val(c, r);
          var td = el('td', { cls: c.num ? 'n' : c.sql ? 'sql' : '' });
          td.textContent = c.fmt ? c.fmt(v, r) : v == null ? '' : String(v);
          tr.appendChild(td);
        });
        if (opts.onClick) tr.addEventListener('click', function () {
          Array.prototype.forEach.call(tbody.children, function (x) { x.classList.remove('sel'); });
          tr.classList.add('sel');
          opts.onClick(r);
        });
        tbody.appendChild(tr);
      });
      count.textContent = list.length === rows.length ? num(rows.length) + ' rows' : num(list.length) + ' of ' + num(rows.length) + ' rows';
      if (list.length > shown.length) { count.textContent += ', ' + num(shown.length) + ' shown'; tools.appendChild(more); }
      else if (more.parentNode) more.parentNode.removeChild(more);
    }
    render();
    return { sortBy: function (k) { sortKey = k; asc = false; render(); } };
  }

  function section(id, title, note) {
    var s = el('section', { id: id });
    s.appendChild(el('h2', { text: title }));
    if (note) s.appendChild(el('div', { cls: 'note', text: note }));
    $('main').appendChild(s);
    $('nav').appendChild(el('a', { href: '#' + id, text: title }));
    return s;
  }

  // ---- charts (uPlot) ----
  // Widths come from one measurement of the page's width, taken (pageWidth()) before any table is
  // built: reading an element's width lays out everything built so far, and a layout of the
  // tables (hundreds of rows of SQL) is most of what opening a large report costs. The charts'
  // boxes are placed by .charts' grid (auto-fill, minmax(560px, 1fr), gap 12px, 1px borders),
  // so their width follows from the page's.
  var pageW = 0;
  function pageWidth(host) { if (!pageW) pageW = host.clientWidth || 900; return pageW; }
  function chartWidth() {
    var cols = Math.max(1, Math.floor((pageW + 12) / (560 + 12)));
    var col = Math.max(560, (pageW - 12 * (cols - 1)) / cols);
    return Math.max(320, Math.round(col) - 2 - 14);
  }
  function width(host) { return Math.max(320, (host.clientWidth || 900) - 14); }
  var syncKey = uPlot.sync('time');
  var xs = [];
  for (var k = 0; k < D.series.n; k++) xs.push((D.series.baseUs + (D.series.lo + k) * D.series.stepUs) / 1e6);
  function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'); }
  var perSec = 1e6 / D.series.stepUs;
  function rate(a) { return a.map(function (v) { return v * perSec; }); }

  function timeChart(host, title, series, data, opts) {
    opts = opts || {};
    var box = el('div', { cls: 'chart' });
    box.appendChild(el('div', { cls: 't', text: title }));
    host.appendChild(box);
    var u = new uPlot({
      width: chartWidth(), height: 190, tzDate: utc,
      cursor: { sync: { key: syncKey.key, setSeries: false }, drag: { x: true, y: false } },
      scales: { x: { time: true }, y: opts.log ? { distr: 3 } : { range: function (u, a, b) { return [0, b > 0 ? b * 1.05 : 1]; } } },
      axes: [{}, { size: 76, values: function (u, v) { return v.map(opts.fmt || function (x) { return x == null ? '' : num(+x.toPrecision(3)); }); } }],
      series: [{ value: '{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}.{fff} UTC' }].concat(series),
      hooks: { setScale: [function (u, key) { if (key === 'x') zoomed(u, u.scales.x.min, u.scales.x.max); }] },
    }, [xs].concat(data), box);
    u.root.addEventListener('dblclick', function () { u.setScale('x', { min: xs[0], max: xs[xs.length - 1] }); });
    charts.push(u);
    drawn.charts++;
    return u;
  }

  function histChart(host, title, bins, color) {
    var box = el('div', { cls: 'chart' });
    box.appendChild(el('div', { cls: 't', text: title }));
    host.appendChild(box);
    var x = [], y = [];
    var lo = bins.length ? bins[0][0] : 0, hi = bins.length ? bins[bins.length - 1][0] : 1;
    var map = {};
    bins.forEach(function (b) { map[b[0]] = b[1]; });
    for (var b = Math.max(0, lo - 1); b <= hi + 1; b++) { x.push(b); y.push(map[b] || 0); }
    var u = new uPlot({
      width: chartWidth(), height: 190,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false }, y: { range: function (u, a, b) { return [0, b > 0 ? b * 1.05 : 1]; } } },
      axes: [{ values: function (u, v) { return v.map(function (b) { return b == null ? '' : '≤' + ms(binUpper(b)); }); } },
             { size: 60, values: function (u, v) { return v.map(function (x) { return num(x); }); } }],
      series: [{ value: function (u, b) { return b == null ? '' : ms(b > 0 ? binUpper(b - 1) : 0) + ' – ' + ms(binUpper(b)); } },
        { label: 'count', stroke: color || '#2f6fde', fill: (color || '#2f6fde') + '66', paths: uPlot.paths.bars({ size: [0.9, 40] }), points: { show: false } }],
    }, [x, y], box);
    u.root.addEventListener('dblclick', function () { u.setScale('x', { min: x[0], max: x[x.length - 1] }); });
    drawn.charts++;
    return { u: u, box: box };
  }

  var onZoom = null;
  var syncing = false;
  // A zoom in one time chart (a drag across it, or the timeline's) is every time chart's and the timeline's.
  function zoomed(src, min, max) {
    if (syncing || min == null || max == null) return;
    syncing = true;
    try {
      charts.forEach(function (o) {
        if (o !== src && (o.scales.x.min !== min || o.scales.x.max !== max)) o.setScale('x', { min: min, max: max });
      });
    } finally { syncing = false; }
    drawn.zoom = [min, max];
    if (onZoom) onZoom(min, max);
  }
  function zoomTo(min, max) {
    if (charts.length) charts[0].setScale('x', { min: min, max: max });
    else zoomed(null, min, max);
  }

  // ---- header and overview ----
  var O = D.overview;
  document.title = D.meta.title;
  $('title').textContent = D.meta.title;
  $('sub').textContent = 'source ' + D.meta.source + ' · ' + (O.startUs != null ? iso(O.startUs) + ' → ' + iso(O.endUs) + ' (' + dur(O.startUs, O.endUs) + ')' : 'no packets') +
    ' · made by ' + D.meta.generator + ' at ' + D.meta.generatedAt + ' · statements grouped by ' + D.meta.parser;
  var trust = $('trust');
  trust.textContent = O.trust.line;
  trust.className = 'trust ' + O.trust.level;
  if (D.meta.filter) {
    var F = D.meta.filter;
    trust.parentNode.appendChild(el('div', { cls: 'filter', id: 'filter', text: 'Display filter -Y ' + F.expression + ': ' + num(F.shown) + ' of ' + num(F.records) +
      ' records shown (queries, sessions, messages). Packets, the span, anomalies and the line above are the whole capture\'s.' }));
  }

  var ov = section('overview', 'Overview');
  var cards = el('div', { cls: 'cards' });
  function card(k, v, title) { cards.appendChild(el('div', { cls: 'card', title: title || '' }, [el('div', { cls: 'v', text: v }), el('div', { cls: 'k', text: k })])); }
  card('capture span', O.startUs != null ? dur(O.startUs, O.endUs) : '—');
  card('packets', O.packets == null ? '—' : num(O.packets));
  card('bytes', O.bytes == null ? '—' : bytes(O.bytes));
  card('sessions', num(O.sessions));
  card('queries', num(O.queries));
  card('errors', num(O.errors));
  card('rows', num(O.rows));
  card('rolled back', num(O.rolledBack) + (O.rollbackUnknown ? ' (+' + num(O.rollbackUnknown) + ' not known)' : ''),
    'statements that succeeded and were then undone by a rollback' + (O.rollbackUnknown ? '; for ' + num(O.rollbackUnknown) + ' the end of their transaction was not seen' : ''));
  card('batched', num(O.batchedQueries) + (O.batches ? ' in ' + num(O.batches) : ''), 'statements answered in one frame with others: the batch has the time, not each statement');
  card('query time', ms(O.totalMs));
  if (O.poolerServerLeg) card('via a pooler', num(O.poolerServerLeg), 'records of a pooler\'s server legs: each statement counts once, on its client leg');
  card('anomalies', num(O.anomalies));
  card('gaps', num(O.gaps) + (O.gapBytes ? ' (' + bytes(O.gapBytes) + ')' : ''));
  if (O.badChecksum) card('bad checksum', num(O.badChecksum), 'query records built from bytes whose TCP checksum was wrong (no correct copy came): what they say could not be verified');
  card('TLS not decrypted', num(O.tlsUndecrypted));
  card('kernel drops', O.drops == null ? 'unknown' : num(O.drops), O.drops == null ? 'a capture file does not record them' : '');
  ov.appendChild(cards);

  // ---- activity over time ----
  var act = section('activity', 'Activity over time', 'Drag across a chart to zoom (all charts and the session timeline follow); double-click to zoom out. Bucket width ' + ms(D.series.stepUs / 1000) + '; latency percentiles per bucket from log bins (±10%).');
  var grid = el('div', { cls: 'charts' });
  act.appendChild(grid);
  pageWidth(grid);
  if (D.series.n > 0) {
    timeChart(grid, 'Queries and errors per second', [
      { label: 'queries/s', stroke: '#2f6fde', fill: '#2f6fde22', value: function (u, v) { return v == null ? '' : num(+v.toFixed(1)); } },
      { label: 'errors/s', stroke: '#c4320a', value: function (u, v) { return v == null ? '' : num(+v.toFixed(1)); } },
    ], [rate(D.series.queries), rate(D.series.errors)]);
    timeChart(grid, 'Latency p50 / p95 / p99 (log scale)', [
      { label: 'p50', stroke: '#1f8a4c', spanGaps: false, value: function (u, v) { return ms(v); } },
      { label: 'p95', stroke: '#b76e00', value: function (u, v) { return ms(v); } },
      { label: 'p99', stroke: '#c4320a', value: function (u, v) { return ms(v); } },
    ], [D.series.p50.map(function (v) { return v == null ? null : Math.max(v, 0.001); }), D.series.p95.map(function (v) { return v == null ? null : Math.max(v, 0.001); }),
      D.series.p99.map(function (v) { return v == null ? null : Math.max(v, 0.001); })], { log: true, fmt: function (v) { return v == null ? '' : ms(v); } });
    if (D.series.bytesFrontend) {
      timeChart(grid, 'Bytes per second by direction', [
        { label: 'frontend → server', stroke: '#2f6fde', value: function (u, v) { return bytes(v) + '/s'; } },
        { label: 'backend → client', stroke: '#d9480f', value: function (u, v) { return bytes(v) + '/s'; } },
      ], [rate(D.series.bytesFrontend), rate(D.series.bytesBackend)], { fmt: function (v) { return v == null ? '' : bytes(v); } });
    } else act.appendChild(el('div', { cls: 'note', text: 'Bytes per second: this input has no packets or message records to count them from.' }));
    timeChart(grid, 'Active sessions', [{ label: 'sessions', stroke: '#6941c6', fill: '#6941c622', paths: uPlot.paths.stepped({ align: 1 }) }], [D.series.active]);
  } else act.appendChild(el('div', { cls: 'note', text: 'No timed records.' }));

  // ---- latency histograms ----
  var lat = section('latency', 'Latency histogram', 'Log buckets (four per doubling). Pick a statement to see its own distribution beside the whole capture\'s.');
  var lgrid = el('div', { cls: 'charts' });
  lat.appendChild(lgrid);
  histChart(lgrid, 'All queries', D.latency.bins, '#2f6fde');
  var stmtHistHost = el('div');
  lgrid.appendChild(stmtHistHost);
  var pick = el('select', { 'aria-label': 'statement' });
  var byTotal = D.statements.slice().sort(function (a, b) { return b.totalMs - a.totalMs; });
  byTotal.slice(0, 30).forEach(function (q, i) { pick.appendChild(el('option', { value: String(i), text: '#' + (i + 1) + ' ' + q.query.slice(0, 120) })); });
  lat.insertBefore(el('div', { cls: 'tools' }, [el('span', { text: 'Statement: ' }), pick]), lgrid);
  var stmtHist = null;
  function showStmtHist(i) {
    var q = byTotal[i];
    if (!q) return;
    if (stmtHist) { stmtHist.u.destroy(); stmtHist.box.remove(); drawn.charts--; }
    stmtHist = histChart(stmtHistHost, 'Statement #' + (i + 1) + ': ' + q.query.slice(0, 80), q.hist, '#b76e00');
  }
  pick.addEventListener('change', function () { showStmtHist(+pick.value); });
  if (byTotal.length) showStmtHist(0);
  else stmtHistHost.appendChild(el('div', { cls: 'note', text: 'No statements.' }));

  // ---- top statements ----
  var st = section('statements', 'Top statements', 'Grouped as pgsniff stats groups them (normalized SQL). ' + (D.statementsNotListed ? num(D.statementsNotListed) + ' less busy statements not listed. ' : '') + 'Click a row for its slowest execution.');
  var rk = el('div', { cls: 'tools' });
  st.appendChild(rk);
  var stHost = el('div');
  st.appendChild(stHost);
  var detail = el('div', { cls: 'detail', id: 'statement-detail' });
  function showStatement(q) {
    detail.textContent = '';
    detail.appendChild(el('h3', { text: 'Normalized SQL' }));
    detail.appendChild(el('pre', { cls: 'sql', text: q.query }));
    detail.appendChild(el('div', { cls: 'note', text: num(q.calls) + ' calls, ' + num(q.errors) + ' errors, total ' + ms(q.totalMs) + ', p50 ' + ms(q.p50Ms) + ', p95 ' + ms(q.p95Ms) + ', p99 ' + ms(q.p99Ms) + ', max ' + ms(q.maxMs) +
      (q.exact ? '' : ' (percentiles within 1%)') + '; prepared ' + num(q.parses) + ' times for ' + num(q.protocols.extended) + ' extended executions' }));
    var s = q.slowest;
    if (s) {
      detail.appendChild(el('h3', { text: 'Slowest execution: ' + ms(s.durationMs) + ' at ' + iso(s.timeUs) + ', session #' + s.session + ', frames ' + s.firstFrame + '–' + s.frame + ', ' + num(s.rows) + ' rows' }));
      detail.appendChild(el('pre', { cls: 'sql', text: s.sql == null ? '(SQL not in the capture)' : s.sql }));
      if (s.error) detail.appendChild(el('div', { text: 'error ' + s.error }));
      if (s.params.length) {
        var pt = el('table', { cls: 'params' });
        pt.appendChild(el('tr', null, [el('th', { text: '$' }), el('th', { text: 'type' }), el('th', { text: 'value' })]));
        s.params.forEach(function (p, i) { pt.appendChild(el('tr', null, [el('td', { text: '$' + (i + 1) }), el('td', { text: p.type }), el('td', { cls: 'sql', text: p.value })])); });
        detail.appendChild(pt);
      }
    }
  }
  var stTable = table(stHost, [
    { key: 'query', label: 'statement', sql: true, fmt: function (v) { return v.length > 300 ? v.slice(0, 300) + '…' : v; } },
    { key: 'calls', label: 'calls', num: true, fmt: num },
    { key: 'errors', label: 'errors', num: true, fmt: num },
    { key: 'totalMs', label: 'total', num: true, fmt: ms },
    { key: 'meanMs', label: 'mean', num: true, fmt: ms },
    { key: 'p50Ms', label: 'p50', num: true, fmt: ms },
    { key: 'p95Ms', label: 'p95', num: true, fmt: ms },
    { key: 'p99Ms', label: 'p99', num: true, fmt: ms },
    { key: 'maxMs', label: 'max', num: true, fmt: ms },
    { key: 'rows', label: 'rows', num: true, fmt: num },
    { key: 'bytesReturned', label: 'bytes', num: true, fmt: bytes, title: 'DataRow (and COPY out) bytes returned' },
    { key: 'rolledBack', label: 'rolled back', num: true, fmt: num, title: 'executions undone by a rollback' },
    { key: 'batched', label: 'batched', num: true, fmt: num, title: 'executions answered together with others: the batch has their time, not the percentiles' },
  ], D.statements, { sort: 'totalMs', onClick: showStatement });
  [['totalMs', 'by total time'], ['calls', 'by calls'], ['p95Ms', 'by p95'], ['rows', 'by rows'], ['bytesReturned', 'by bytes'], ['errors', 'by errors']].forEach(function (r) {
    var b = el('button', { text: r[1] });
    b.addEventListener('click', function () { stTable.sortBy(r[0]); });
    rk.appendChild(b);
  });
  st.appendChild(detail);
  if (byTotal.length) showStatement(byTotal[0]);

  // ---- errors ----
  var er = section('errors', 'Errors by SQLSTATE');
  if (D.errors.length) table(er, [
    { key: 'sqlstate', label: 'SQLSTATE' },
    { key: 'condition', label: 'condition' },
    { key: 'count', label: 'count', num: true, fmt: num },
    { key: 'severity', label: 'severity' },
    { key: 'message', label: 'message' },
    { key: 'sql', label: 'example statement', sql: true, get: function (r) { return r.example ? (r.example.sql == null ? '(' + (r.example.error === 'authentication' ? 'authentication' : 'SQL not in the capture') + ')' : r.example.sql) : ''; } },
    { key: 'frame', label: 'frame', num: true, get: function (r) { return r.example ? r.example.frame : null; } },
    { key: 'session', label: 'session', num: true, get: function (r) { return r.example ? r.example.session : null; } },
  ], D.errors, { sort: 'count' });
  else er.appendChild(el('div', { cls: 'note', text: 'No errors.' }));

  // ---- sessions ----
  var se = section('sessions', 'Sessions', 'Timeline: one row per session (or per group), shaded by the share of each column the session spent in queries. It follows the zoom of the charts above.');
  var groupSel = el('select', { 'aria-label': 'group sessions by' });
  [['', 'one row per session'], ['application', 'group by application'], ['user', 'group by user'], ['database', 'group by database'], ['client', 'group by client host']].forEach(function (g) {
    groupSel.appendChild(el('option', { value: g[0], text: g[1] }));
  });
  se.appendChild(el('div', { cls: 'tools' }, [groupSel]));
  var canvas = el('canvas', { id: 'timeline' });
  se.appendChild(canvas);
  var TL = D.timeline;
  var view = { min: null, max: null };
  function busyOf(r) {
    if (r.busyUs) return r.busyUs;
    var out = new Array(r.busy.length);
    for (var i = 0; i < r.busy.length; i++) out[i] = parseInt(r.busy[i], 36) / 35 * r.scaleUs;
    return out;
  }
  TL.rows.forEach(function (r) { r.busyUs = busyOf(r); });
  function tlRows() {
    var g = groupSel.value;
    if (!g) return TL.rows;
    var groups = {};
    var out = [];
    TL.rows.forEach(function (r) {
      var key = r.session == null ? r.label : (r[g] || '(none)');
      var x = groups[key];
      if (!x) {
        x = groups[key] = { label: key, startUs: r.startUs, endUs: r.endUs, lo: TL.lo, busyUs: new Array(TL.n).fill(0), count: 0 };
        out.push(x);
      }
      x.count++;
      x.startUs = Math.min(x.startUs, r.startUs);
      x.endUs = Math.max(x.endUs, r.endUs);
      var bu = busyOf(r);
      for (var i = 0; i < bu.length; i++) { var k = r.lo + i - TL.lo; if (k >= 0 && k < TL.n) x.busyUs[k] += bu[i]; }
    });
    out.forEach(function (x) { x.label += ' (' + x.count + ' sessions)'; });
    return out;
  }
  // A canvas costs Chromium time in proportion to its size before anything is drawn on it (one
  // 4,000 pixels high took it half a second): past MAX_TL_ROWS rows, neighbouring rows are drawn
  // merged, as few to a row as keep it at most MAX_TL_ROWS rows (2 pixels each) high.
  var MAX_TL_ROWS = 500;
  var tlNote = el('div', { cls: 'note' });
  function mergeRows(rows) {
    var own = rows.filter(function (r) { return r.session != null || groupSel.value; });
    var rest = rows.filter(function (r) { return !(r.session != null || groupSel.value); });
    var k = Math.ceil(own.length / (MAX_TL_ROWS - rest.length));
    tlNote.textContent = k > 1 ? 'Each row is ' + k + ' neighbouring rows merged (' + num(own.length) + ' in all).' : '';
    if (k <= 1) return rows;
    var out = [];
    for (var i = 0; i < own.length; i += k) {
      var part = own.slice(i, i + k);
      var lo = Infinity, hi = -Infinity, start = Infinity, end = -Infinity;
      part.forEach(function (r) { lo = Math.min(lo, r.lo); hi = Math.max(hi, r.lo + r.busyUs.length); start = Math.min(start, r.startUs); end = Math.max(end, r.endUs); });
      var busy = new Array(Math.max(0, hi - lo)).fill(0);
      part.forEach(function (r) { for (var j = 0; j < r.busyUs.length; j++) busy[r.lo + j - lo] += r.busyUs[j]; });
      out.push({ label: part[0].label + ' …', startUs: start, endUs: end, lo: lo, busyUs: busy });
    }
    return out.concat(rest);
  }
  function drawTimeline() {
    var all = tlRows();
    var rows = mergeRows(all);
    var w = Math.max(320, pageW || 900);
    var rh = rows.length > 400 ? 2 : rows.length > 120 ? 5 : 14;
    var labelW = rh >= 14 ? 240 : 0;
    var h = Math.max(40, rows.length * rh + 20);
    var dpr = window.devicePixelRatio || 1;
    canvas.width = w * dpr; canvas.height = h * dpr;
    canvas.style.height = h + 'px';
    var c = canvas.getContext('2d');
    c.scale(dpr, dpr);
    c.fillStyle = '#fff'; c.fillRect(0, 0, w, h);
    var t0 = (view.min != null ? view.min * 1e6 : TL.baseUs + TL.lo * TL.stepUs);
    var t1 = (view.max != null ? view.max * 1e6 : TL.baseUs + (TL.lo + TL.n) * TL.stepUs);
    if (!(t1 > t0)) t1 = t0 + 1;
    var plotW = w - labelW - 4;
    tlGeom = { labelW: labelW, plotW: plotW, t0: t0, t1: t1 };
    function X(us) { return labelW + (us - t0) / (t1 - t0) * plotW; }
    var maxBusy = 0;
    rows.forEach(function (r) { r.busyUs.forEach(function (v) { if (v > maxBusy) maxBusy = v; }); });
    var scale = groupSel.value || TL.otherSessions || rows !== all ? maxBusy : TL.stepUs;
    rows.forEach(function (r, i) {
      var y = i * rh;
      c.fillStyle = '#eef0f4';
      var a = X(r.startUs), b = X(r.endUs);
      c.fillRect(Math.max(labelW, a), y + 1, Math.max(1, Math.min(w, b) - Math.max(labelW, a)), rh - 1);
      for (var k = 0; k < r.busyUs.length; k++) {
        var v = r.busyUs[k];
        if (!v) continue;
        var cs = TL.baseUs + (r.lo + k) * TL.stepUs;
        var x0 = X(cs), x1 = X(cs + TL.stepUs);
        if (x1 < labelW || x0 > w) continue;
        var f = Math.min(1, v / (scale || 1));
        c.fillStyle = 'rgba(47,111,222,' + (0.25 + 0.75 * f).toFixed(3) + ')';
        c.fillRect(Math.max(labelW, x0), y + 1, Math.max(1, x1 - Math.max(labelW, x0)), rh - 1);
      }
      if (labelW) { c.fillStyle = '#1d2330'; c.font = '11px system-ui, sans-serif'; c.fillText(r.label.slice(0, 40), 2, y + rh - 3); }
    });
    c.fillStyle = '#667085'; c.font = '11px system-ui, sans-serif';
    c.fillText(iso(t0), labelW + 2, h - 4);
    var right = iso(t1);
    c.fillText(right, w - c.measureText(right).width - 4, h - 4);
  }
  groupSel.addEventListener('change', drawTimeline);
  onZoom = function (min, max) { view.min = min; view.max = max; drawTimeline(); };
  // what the browser test reads back after it zooms
  drawn.xRanges = function () {
    return { charts: charts.map(function (u) { return [u.scales.x.min, u.scales.x.max]; }), timeline: tlGeom ? [tlGeom.t0 / 1e6, tlGeom.t1 / 1e6] : null };
  };
  // The timeline zooms as the charts do: drag across it, double-click to zoom out.
  var tlGeom = null, dragFrom = null;
  function tlTime(ev) {
    var x = ev.clientX - canvas.getBoundingClientRect().left;
    var f = Math.min(1, Math.max(0, (x - tlGeom.labelW) / tlGeom.plotW));
    return (tlGeom.t0 + f * (tlGeom.t1 - tlGeom.t0)) / 1e6;
  }
  canvas.addEventListener('mousedown', function (ev) { if (tlGeom) dragFrom = { x: ev.clientX, t: tlTime(ev) }; });
  window.addEventListener('mouseup', function (ev) {
    if (!dragFrom) return;
    var from = dragFrom;
    dragFrom = null;
    if (Math.abs(ev.clientX - from.x) < 4) return;
    var t = tlTime(ev);
    zoomTo(Math.min(from.t, t), Math.max(from.t, t));
  });
  canvas.addEventListener('dblclick', function () {
    zoomTo((TL.baseUs + TL.lo * TL.stepUs) / 1e6, (TL.baseUs + (TL.lo + TL.n) * TL.stepUs) / 1e6);
  });
  drawTimeline();
  drawn.charts++;
  se.appendChild(tlNote);
  if (TL.otherSessions) se.appendChild(el('div', { cls: 'note', text: num(TL.otherSessions) + ' sessions past the first ' + num(TL.rows.length - 1) + ' share the last row.' }));
  se.appendChild(el('h3', { text: 'Session list' }));
  if (D.sessionsNotListed) se.appendChild(el('div', { cls: 'note', text: num(D.sessionsNotListed) + ' more sessions counted but not listed.' }));
  table(se, [
    { key: 'session', label: '#', num: true },
    { key: 'client', label: 'client' },
    { key: 'user', label: 'user' },
    { key: 'database', label: 'database' },
    { key: 'application', label: 'application' },
    { key: 'auth', label: 'authentication' },
    { key: 'tls', label: 'TLS', get: function (r) { return r.tls || r.encryption; } },
    { key: 'startUs', label: 'start', num: true, fmt: iso },
    { key: 'dur', label: 'duration', num: true, get: function (r) { return (r.endUs - r.startUs) / 1000; }, fmt: ms },
    { key: 'queries', label: 'queries', num: true, fmt: num },
    { key: 'errors', label: 'errors', num: true, fmt: num },
    { key: 'bytesFrontend', label: 'bytes in', num: true, fmt: bytes },
    { key: 'bytesBackend', label: 'bytes out', num: true, fmt: bytes },
    { key: 'endedBy', label: 'ended by' },
  ], D.sessions, { sort: 'queries' });

  // ---- prepared statements, N+1, transactions ----
  var pr = section('prepared', 'Prepared statements', 'Extended-protocol statements: how often each was prepared (Parse) against how often it ran. Prepared as often as executed means no reuse.');
  var prepared = D.statements.filter(function (q) { return q.protocols.extended > 0; });
  if (prepared.length) table(pr, [
    { key: 'query', label: 'statement', sql: true, fmt: function (v) { return v.length > 300 ? v.slice(0, 300) + '…' : v; } },
    { key: 'parses', label: 'prepared', num: true, fmt: num },
    { key: 'executed', label: 'executed', num: true, get: function (r) { return r.protocols.extended; }, fmt: num },
    { key: 'reuse', label: 'executions per prepare', num: true, get: function (r) { return r.parses ? r.protocols.extended / r.parses : null; }, fmt: function (v) { return v == null ? 'prepared before the capture' : v.toFixed(1); } },
  ], prepared, { sort: 'parses' });
  else pr.appendChild(el('div', { cls: 'note', text: 'No extended-protocol statements.' }));

  var n1 = section('n-plus-one', 'N+1 candidates', 'The same statement run 10 or more times in a row on one session (different parameters, one round trip each).');
  if (D.nPlusOne.length) table(n1, [
    { key: 'query', label: 'statement', sql: true },
    { key: 'longestRun', label: 'longest run', num: true, fmt: num },
    { key: 'runs', label: 'runs', num: true, fmt: num },
    { key: 'executions', label: 'executions', num: true, fmt: num },
    { key: 'totalMs', label: 'time', num: true, fmt: ms },
    { key: 'session', label: 'session', num: true },
    { key: 'frame', label: 'frame', num: true },
  ], D.nPlusOne, { sort: 'longestRun' });
  else n1.appendChild(el('div', { cls: 'note', text: 'None found.' }));

  var tx = section('transactions', 'Transactions', num(D.transactions.committed) + ' committed, ' + num(D.transactions.rolledBack) + ' rolled back' + (O.rolledBack ? ' (' + num(O.rolledBack) + ' statements undone)' : '') + (D.transactions.openAtEnd ? ', ' + num(D.transactions.openAtEnd) + ' still open at the end' : '') + ' (explicit transactions, from BEGIN to the ReadyForQuery that reports idle again).');
  if (D.transactions.bins.length) {
    var tg = el('div', { cls: 'charts' });
    tx.appendChild(tg);
    histChart(tg, 'Transaction durations', D.transactions.bins, '#6941c6');
    tx.appendChild(el('h3', { text: 'Longest' }));
    table(tx, [
      { key: 'durationMs', label: 'duration', num: true, fmt: ms },
      { key: 'statements', label: 'statements', num: true },
      { key: 'outcome', label: 'outcome' },
      { key: 'session', label: 'session', num: true },
      { key: 'frame', label: 'first frame', num: true },
      { key: 'timeUs', label: 'start', num: true, fmt: iso },
    ], D.transactions.longest, { sort: 'durationMs' });
  }

  if (D.copy.length) {
    var cp = section('copy', 'COPY');
    table(cp, [
      { key: 'sql', label: 'statement', sql: true },
      { key: 'direction', label: 'direction' },
      { key: 'format', label: 'format' },
      { key: 'calls', label: 'calls', num: true, fmt: num },
      { key: 'rows', label: 'rows', num: true, fmt: num },
      { key: 'bytesIn', label: 'bytes in', num: true, fmt: bytes },
      { key: 'bytesOut', label: 'bytes out', num: true, fmt: bytes },
      { key: 'failed', label: 'failed', num: true },
      { key: 'totalMs', label: 'time', num: true, fmt: ms },
    ], D.copy, { sort: 'bytesIn' });
  }
  if (D.replication.length) {
    var rp = section('replication', 'Replication');
    table(rp, [
      { key: 'session', label: 'session', num: true },
      { key: 'client', label: 'client' },
      { key: 'user', label: 'user' },
      { key: 'mode', label: 'mode' },
      { key: 'queries', label: 'commands', num: true },
      { key: 'bytesFrontend', label: 'bytes in', num: true, fmt: bytes },
      { key: 'bytesBackend', label: 'bytes out', num: true, fmt: bytes },
      { key: 'durationMs', label: 'duration', num: true, fmt: ms },
    ], D.replication, { sort: 'bytesBackend' });
  }
  var an = Object.keys(O.anomaliesByCode).map(function (k) { var a = O.anomaliesByCode[k]; return { code: k, count: a.count, frame: a.frame, reason: a.reason }; });
  if (an.length) {
    var ans = section('anomalies', 'Anomalies', 'What the decoder could not take at face value; each code with its first occurrence.');
    table(ans, [
      { key: 'code', label: 'code' }, { key: 'count', label: 'count', num: true, fmt: num },
      { key: 'frame', label: 'first frame', num: true }, { key: 'reason', label: 'first reason' },
    ], an, { sort: 'count' });
  }
  window.addEventListener('resize', function () {
    charts.forEach(function (u) { u.setSize({ width: width(u.root.parentNode), height: 190 }); });
    pageW = se.clientWidth || 900;
    drawTimeline();
  });
  // from navigation start to everything drawn (the scale benchmark reads it)
  drawn.readyMs = performance.now();
  drawn.ready = true;
  // and to the first frame shown after it (the layout and paint of what is on screen)
  requestAnimationFrame(function () { setTimeout(function () { drawn.paintedMs = performance.now(); drawn.painted = true; }, 0); });
})();
`;
