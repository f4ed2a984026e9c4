/**
 * What a sample scenario is (scripts/make-samples.ts runs each against a real server and writes
 * samples/NAME.pcap and its manifest entry): declared apart from the list of scenarios
 * (sample-scenarios.ts), which imports the files that declare them.
 */
import type pg from 'pg';
import type { SampleRecorder } from './sample-clients.js';

export interface ScenarioContext {
  /** A connection over the server's Unix socket: not captured, for computing expectations. */
  admin: pg.Client;
  md5User: { user: string; password: string };
  clearUser: { user: string; password: string };
}

export interface Scenario {
  name: string;
  title: string;
  description: string;
  decode: string[];
  /** More TCP ports to capture besides the server's (a pooler's listening port). */
  capturePorts?: number[];
  run(rec: SampleRecorder, ctx: ScenarioContext): Promise<void>;
}
