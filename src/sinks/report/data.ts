/**
 * The shape of what `pgsniff report` puts in its page: aggregates only, never one entry per
 * query (DESIGN.md: memory and output follow the capture's variety, not its length). Made by
 * ReportSink.result() (sink.ts), read by the page's script (page.ts) as JSON.
 */
import type { QueryStats } from '../stats.js';

export interface ReportExample {
  sql: string | null;
  params: Array<{ type: string; value: string }>;
  session: number;
  frame: number;
  firstFrame: number;
  /** Capture time of the result's completion, µs since the epoch. */
  timeUs: number;
  durationMs: number | null;
  rows: number;
  error: string | null;
}

export interface ReportStatement extends Omit<QueryStats, 'example'> {
  rowsReturned: number;
  bytesReturned: number;
  /** Sparse latency histogram: [bin, count] pairs (grid.ts logBin). */
  hist: Array<[number, number]>;
  slowest: ReportExample | null;
}

interface ReportError {
  sqlstate: string;
  condition: string | null;
  count: number;
  severity: string | null;
  message: string | null;
  example: ReportExample | null;
}

export interface ReportSession {
  session: number;
  client: string;
  server: string;
  user: string | null;
  database: string | null;
  application: string | null;
  auth: string;
  encryption: string;
  tls: string | null;
  startUs: number;
  endUs: number;
  queries: number;
  errors: number;
  bytesFrontend: number;
  bytesBackend: number;
  endedBy: string;
  replication: string | null;
}

export interface TimelineRow {
  session: number | null;
  label: string;
  /** Group keys the page can aggregate by. */
  user: string;
  application: string;
  database: string;
  client: string;
  startUs: number;
  endUs: number;
  /**
   * Busy time per column from column `lo` on (the rest are 0): one base-36 digit a column,
   * d/35 of `scaleUs` (the row's largest), so a row costs a character a column.
   */
  lo: number;
  busy: string;
  scaleUs: number;
}

export interface ReportData {
  meta: {
    title: string; source: string; input: 'capture' | 'ndjson' | 'live'; generator: string; parser: string; generatedAt: string;
    /** -Y: the expression, and how many of the records it saw it kept. */
    filter: { expression: string; shown: number; records: number } | null;
  };
  overview: {
    startUs: number | null; endUs: number | null;
    packets: number | null; bytes: number | null;
    sessions: number; queries: number; errors: number; skipped: number; incomplete: number; rows: number; totalMs: number;
    /** Statements a rollback undid; batches of statements answered together, and the statements in them. */
    rolledBack: number; batches: number; batchedQueries: number;
    /** Records of a pooler's server legs: not counted as queries (each statement counts on its client leg). */
    poolerServerLeg: number;
    /** Statements whose transaction's end was not seen (rollbackUnknown records). */
    rollbackUnknown: number;
    incompleteByReason: Record<string, number>;
    anomalies: number; anomaliesByCode: Record<string, { count: number; frame: number | null; reason: string }>;
    gaps: number; gapBytes: number;
    /** Query records built from bytes whose TCP checksum was wrong (badChecksum), the whole capture's. */
    badChecksum: number;
    tlsUndecrypted: number; gssSessions: number; unpairedResponses: number;
    drops: number | null; captureComplete: boolean;
    trust: { level: 'ok' | 'warn' | 'bad'; line: string };
  };
  series: {
    baseUs: number; stepUs: number; lo: number; n: number;
    queries: number[]; errors: number[]; p50: Array<number | null>; p95: Array<number | null>; p99: Array<number | null>;
    bytesFrontend: number[] | null; bytesBackend: number[] | null; active: number[];
  };
  latency: { perOctave: number; bins: Array<[number, number]> };
  statements: ReportStatement[];
  statementsNotListed: number;
  errors: ReportError[];
  sessions: ReportSession[];
  sessionsNotListed: number;
  timeline: { baseUs: number; stepUs: number; lo: number; n: number; rows: TimelineRow[]; otherSessions: number };
  transactions: {
    committed: number; rolledBack: number; openAtEnd: number;
    bins: Array<[number, number]>;
    longest: Array<{ session: number; durationMs: number; statements: number; outcome: string; frame: number; timeUs: number }>;
  };
  nPlusOne: Array<{ query: string; example: string | null; runs: number; longestRun: number; executions: number; totalMs: number; session: number; frame: number }>;
  copy: Array<{ sql: string; direction: string; format: string; calls: number; bytesIn: number; bytesOut: number; rows: number; failed: number; totalMs: number }>;
  replication: Array<{ session: number; client: string; user: string | null; mode: string; bytesFrontend: number; bytesBackend: number; durationMs: number; queries: number }>;
}
