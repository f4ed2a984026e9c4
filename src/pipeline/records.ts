/**
 * Building the exported records (DESIGN.md, "Contracts that users build on"). Kept in one place
 * so the NDJSON export, the text view, the TUI and the filter language see the same keys.
 */
import type { Anomaly } from '../core/anomaly.js';
import { isoTime } from '../core/time.js';
import type { DecodedMessage, RawMessage } from '../../dissectors/types.js';
import type { AnomalyRecord, MessageRecord } from './events.js';

/** The message record: envelope first, then the decoded fields (its `type` included). */
export function messageRecord(session: number, raw: RawMessage, decoded: DecodedMessage, tls: boolean): MessageRecord {
  const rec = {
    kind: 'message',
    session,
    time: isoTime(raw.timeUs),
    frame: raw.frame,
    dir: raw.dir,
    type: decoded.type,
    code: raw.code,
    length: raw.length,
  } as MessageRecord;
  if (raw.firstFrame !== raw.frame) rec.firstFrame = raw.firstFrame;
  if (tls) rec.tls = true;
  for (const key in decoded) {
    if (key !== 'type') rec[key] = (decoded as unknown as Record<string, unknown>)[key];
  }
  return rec;
}

/** `lastTimeUs` dates anomalies not tied to a frame (e.g. the file ending inside a record). */
export function anomalyRecord(a: Anomaly, lastTimeUs: number): AnomalyRecord {
  const rec: AnomalyRecord = {
    kind: 'anomaly',
    session: a.session,
    time: isoTime(a.timeUs ?? lastTimeUs),
    frame: a.frame,
    code: a.code,
    reason: a.reason,
  };
  if (a.dir) rec.dir = a.dir;
  if (a.skipped !== undefined) rec.skipped = a.skipped;
  return rec;
}
