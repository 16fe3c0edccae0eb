import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ADMIN_TOKEN, postTelemetry } from './app.js';
import { tempDir } from './tmp.js';

/** Alert rules, incidents and silences in tests: rule files, stalling viewers, admin API calls. */

export type RuleDef = Record<string, unknown>;

/** A stall-ratio rule per (tenant, region): P0 above 20 %, P1 above 5 %; `over` replaces fields. */
export function stallRule(over: RuleDef = {}): RuleDef {
  return {
    id: 'stall-ratio', description: 'stall ratio per region', metric: 'stall_ratio', window: '1m',
    thresholds: { P0: '> 0.2', P1: '> 0.05' }, for: '30s', clear_for: '1m', min_sessions: 20, ...over,
  };
}

/** Writes a rule file (`rules` as objects, or raw YAML text) into `dir` (a new temp dir by default); returns the dir. */
export function writeRules(rules: RuleDef[] | string, dir = tempDir('qoswatch-rules'), file = 'rules.yaml'): string {
  writeFileSync(join(dir, file), typeof rules === 'string' ? rules : stringify({ rules }));
  return dir;
}

export type Sample = { ts: number; region: string; session: string; play_ms: number; stall_ms: number; stall_count: number };

/**
 * One beacon from each of `n` viewers of `region` at `ts` whose Σstall / Σ(play + stall) is `ratio` (≤ 0.5): odd
 * viewers watched 5 s stalling 2 × ratio, even ones 10 s stalling ratio / 2, so an average of the per-sample ratios
 * would read 1.25 × ratio — only the ratio of sums reads `ratio`.
 */
export function viewers(region: string, ts: number, ratio: number, n = 30): Sample[] {
  return Array.from({ length: n }, (_, i) => {
    const [total, r] = i % 2 ? [5000, 2 * ratio] : [10_000, ratio / 2];
    const stall = Math.round(total * r);
    return { ts, region, session: `${region}-${i}`, play_ms: total - stall, stall_ms: stall, stall_count: stall ? 1 : 0 };
  });
}

/** Σstall_ms / Σ(play_ms + stall_ms) of what was sent. */
export function stallRatio(samples: readonly Sample[]): number {
  const stall = samples.reduce((a, s) => a + s.stall_ms, 0);
  return stall / samples.reduce((a, s) => a + s.play_ms + s.stall_ms, 0);
}

/** Posts samples and insists that every one of them was accepted. */
export async function send(url: string, samples: readonly Sample[]): Promise<void> {
  const r = await postTelemetry(url, { samples });
  if (r.status !== 202 || r.body.accepted !== samples.length) throw new Error(`telemetry not accepted: ${r.status} ${JSON.stringify(r.body)}`);
}

/** An admin API call (JSON body when given); `token: null` sends no Authorization header. */
export async function api(url: string, method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** GET /v1/incidents with a query; fails the test on anything but 200. */
export async function incidents(url: string, query = ''): Promise<any[]> {
  const r = await api(url, 'GET', `/v1/incidents${query ? `?${query}` : ''}`);
  if (r.status !== 200) throw new Error(`GET /v1/incidents?${query} answered ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.incidents;
}

/** Timeline entries about the incident itself, leaving out the pager's (paged, grouped, page_delivered, not_paged…). */
export const notPaging = (e: { kind: string }) => !/^(paged|escalated|grouped|page_\w+|not_paged)$/.test(e.kind);
