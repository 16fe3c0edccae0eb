import { type CmcdData, decodeCmcd, validateCmcd } from '@svta/cml-cmcd';
import { FUTURE_TOLERANCE_MS, type FieldError } from '../sample-schema.js';
import type { Rejection } from '../validate.js';
import type { CmcdReport } from './sessions.js';

/**
 * Reports one body may hold. Decoding and checking a report with the library costs about 15 µs (measured: 5000
 * hls.js-style reports in 65–85 ms), so a body stays within about 15 ms of event loop; players send a few at a time.
 */
export const MAX_REPORTS = 1000;
/** A report line longer than this is refused unread (hls.js's longest, with every key, is under 1 KB). */
export const MAX_LINE_CHARS = 4096;
/** Keys one report may carry (CMCD v2 defines about 60). */
export const MAX_KEYS = 64;

/** The keys the session state reads: an issue with one of these refuses the report; issues with others are ignored. */
const READ_KEYS = new Set(['v', 'e', 'ts', 'sid', 'sta', 'sf', 'st', 'ltc', 'msd', 'bg']);
/** What the session id must be to become a sample's `session` (tag-safe text, as sample-schema.ts checks). */
const SID = /^[^\x00-\x1f\x7f\\]{1,64}$/;

export interface ParsedCmcd {
  reports: CmcdReport[];
  /** Refused lines: `index` is the line's position among the body's report lines. */
  rejected: Rejection[];
}

/** Splits an `application/cmcd` body into its report lines (one per line; a trailing line feed as hls.js sends is fine). */
export function reportLines(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l.length > 0);
}

/**
 * Decodes and checks each report line with @svta/cml-cmcd (RFC 8941 dictionaries, CMCD v2 event mode), then
 * bounds what qoswatch reads: `ts` within the accepted sample age and not in the future, a tag-safe `sid`.
 * A bad line is refused naming the key; the others are kept.
 */
export function parseCmcdLines(lines: readonly string[], now: number, maxAgeMs: number): ParsedCmcd {
  const out: ParsedCmcd = { reports: [], rejected: [] };
  for (let i = 0; i < lines.length; i++) {
    const r = parseLine(lines[i]!, now, maxAgeMs);
    if (Array.isArray(r)) out.rejected.push({ index: i, errors: r });
    else out.reports.push(r);
  }
  return out;
}

function parseLine(line: string, now: number, maxAgeMs: number): CmcdReport | FieldError[] {
  if (line.length > MAX_LINE_CHARS) return [{ path: '', message: `report is longer than ${MAX_LINE_CHARS} characters` }];
  let data: CmcdData;
  try {
    data = decodeCmcd(line);
  } catch {
    // The library's message quotes the input: not echoed.
    return [{ path: '', message: 'report is not a CMCD dictionary (RFC 8941 structured field: key=value pairs separated by commas)' }];
  }
  const d = data as Record<string, unknown>;
  const keys = Object.keys(d);
  if (keys.length > MAX_KEYS) return [{ path: '', message: `report has ${keys.length} keys; at most ${MAX_KEYS}` }];
  if (d.v !== 2) return [{ path: 'v', message: 'event reports are CMCD version 2: v=2 is required' }];
  const errors: FieldError[] = [];
  for (const issue of validateCmcd(d, { version: 2, reportingMode: 'event' }).issues) {
    if (issue.severity !== 'error' || (issue.key !== undefined && !READ_KEYS.has(issue.key))) continue;
    errors.push({ path: issue.key ?? '', message: issue.message });
  }
  if (errors.length) return errors;
  const { ts, sid, e } = d;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts)) return [{ path: 'ts', message: 'is required: epoch milliseconds' }];
  if (ts > now + FUTURE_TOLERANCE_MS) return [{ path: 'ts', message: 'is in the future (more than 5 minutes ahead of the server clock)' }];
  if (ts < now - maxAgeMs) return [{ path: 'ts', message: 'is older than the accepted sample age (QOSWATCH_MAX_SAMPLE_AGE)' }];
  if (typeof sid !== 'string' || !SID.test(sid) || !sid.isWellFormed()) {
    return [{ path: 'sid', message: 'is required: 1-64 characters without control characters or backslashes' }];
  }
  const report: CmcdReport = { sid, ts, e: String(e) };
  if (typeof d.sta === 'string') report.sta = d.sta;
  if (typeof d.sf === 'string') report.sf = d.sf;
  if (typeof d.st === 'string') report.st = d.st;
  if (typeof d.ltc === 'number') report.ltc = d.ltc;
  if (typeof d.msd === 'number') report.msd = d.msd;
  if (d.bg === true) report.bg = true;
  return report;
}
