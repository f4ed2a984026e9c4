/**
 * The report as one HTML file that opens from disk with no network: uPlot (MIT, ~50 KB
 * minified, from npm), the page's script and style sheet, and the data, all inline.
 *
 * Text from the wire reaches the page only inside the JSON data block, where every `<`, `>`
 * and `&` is written as a \u escape (so no `</script>` can end the block early), and the
 * page's script puts it into the document only as text nodes. A Content-Security-Policy allows
 * exactly the two inline scripts (by their SHA-256) and no network at all: even a mistake in
 * the escaping could not run a script or fetch anything.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ReportData } from './data.js';
import { PAGE_CSS, PAGE_SCRIPT } from './page.js';

let uplot: { js: string; css: string } | null = null;

function uplotAssets(): { js: string; css: string } {
  if (uplot === null) {
    const require = createRequire(import.meta.url);
    const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
    const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
    uplot = { js, css };
  }
  return uplot;
}

/** JSON that is safe inside a <script> element, whatever its strings hold. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sha256(s: string): string {
  return `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;
}

export function renderReportHtml(data: ReportData): string {
  const { js, css } = uplotAssets();
  // a script's text must not hold "</script": uPlot's minified code does not, and neither does ours
  for (const s of [js, PAGE_SCRIPT]) if (/<\/script/i.test(s)) throw new Error('inline script holds </script');
  const csp = `default-src 'none'; script-src ${sha256(js)} ${sha256(PAGE_SCRIPT)}; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${escapeHtml(data.meta.generator)}">
<title>${escapeHtml(data.meta.title)}</title>
<style>${css}</style>
<style>${PAGE_CSS}</style>
</head>
<body>
<header><h1 id="title">${escapeHtml(data.meta.title)}</h1><div class="sub" id="sub"></div><div id="trust" class="trust ${data.overview.trust.level}">${escapeHtml(data.overview.trust.line)}</div></header>
<nav id="nav"></nav>
<main id="main"><noscript>This report draws its charts and tables with JavaScript.</noscript></main>
<script type="application/json" id="report-data">${scriptSafeJson(data)}</script>
<script>${js}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
