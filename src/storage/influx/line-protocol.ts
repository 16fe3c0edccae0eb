/** InfluxDB line protocol (https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/). */

export function escapeMeasurement(s: string): string {
  return s.replace(/[, ]/g, '\\$&');
}

export function escapeTag(s: string): string {
  return s.replace(/[,= ]/g, '\\$&');
}

export function escapeStringField(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

export type FieldValue = number | { int: number } | string | boolean;

/** One point; tags are written sorted by key (InfluxDB's recommendation), undefined fields are skipped. */
export function line(measurement: string, tags: Record<string, string>, fields: Record<string, FieldValue | undefined>, timeNs: bigint): string {
  let out = escapeMeasurement(measurement);
  for (const k of Object.keys(tags).sort()) out += `,${escapeTag(k)}=${escapeTag(tags[k]!)}`;
  let sep = ' ';
  for (const k in fields) {
    const v = fields[k];
    if (v === undefined) continue;
    out += sep + escapeTag(k) + '=' + formatField(v);
    sep = ',';
  }
  if (sep === ' ') throw new Error(`point ${measurement} has no fields`);
  return `${out} ${timeNs}`;
}

function formatField(v: FieldValue): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`field value ${v} is not finite`);
    return String(v);
  }
  if (typeof v === 'string') return escapeStringField(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return `${Math.trunc(v.int)}i`;
}
