import type { Values } from '../rules/alert-state.js';
import type { Rule } from '../rules/rule-schema.js';
import type { Labels } from '../shared/labels.js';
import { formatDuration } from '../util/units.js';
import type { ExternalRule } from './model.js';

const RATIOS = new Set(['packet_loss', 'stall_ratio', 'error_rate']);

/** A value as people read it: ratios in %, quantiles in ms, silence as a duration. */
export function formatValue(metric: string, value: number, drop = false): string {
  if (drop || RATIOS.has(metric)) return `${+(value * 100).toFixed(2)}%`;
  if (metric === 'silence_ms') return formatDuration(Math.round(value / 1000) * 1000);
  if (/_p\d+$/.test(metric)) return `${Math.round(value)} ms`;
  return String(+value.toFixed(2));
}

/** "stall_ratio 7.2% (> 0.05) — eu-west, isp=x" */
export function alertSummary(rule: Rule | ExternalRule, labels: Labels, values: Values | undefined): string {
  if (rule.kind === 'external') return values?.external?.summary ?? rule.id;
  const where = Object.entries(labels).filter(([k]) => k !== 'tenant').map(([k, v]) => (k === 'region' ? v : `${k}=${v}`)).join(', ') || labels.tenant!;
  if (rule.kind === 'absent') return `no telemetry from ${where}${values ? ` for ${formatValue('silence_ms', values.value)}` : ''}`;
  if (!values) return `${rule.id} — ${where}`;
  if (rule.kind === 'drop') {
    return `${rule.metric} down ${formatValue(rule.metric, values.value, true)} (${Math.round(values.current ?? 0)} vs baseline ${Math.round(values.baseline ?? 0)}) — ${where}`;
  }
  return `${rule.metric} ${formatValue(rule.metric, values.value)} (${values.threshold}) — ${where}`;
}
