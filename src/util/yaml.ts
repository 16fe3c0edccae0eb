import { parseDocument } from 'yaml';

/**
 * Alias resolutions a document may make. yaml counts each use of an anchor times the aliases nested inside it, so
 * this bounds what aliases can expand to: a file sharing one anchor across thousands of rules is fine, a
 * "billion laughs" file (anchors of anchors, 10^9 nodes) is refused. yaml's own default of 100 refused an
 * ordinary file with 120 rules sharing one `labels` anchor.
 */
export const MAX_YAML_ALIASES = 10_000;

export type YamlResult = { ok: true; value: unknown } | { ok: false; line: number | undefined; message: string };

/** Parses one YAML document; every failure (syntax, duplicate keys, aliases) is returned, never thrown. */
export function readYaml(text: string): YamlResult {
  const doc = parseDocument(text, { uniqueKeys: true });
  const e = doc.errors[0];
  if (e) return { ok: false, line: e.linePos?.[0]?.line, message: e.message.split('\n')[0]! };
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      line: undefined,
      message: /excessive alias count/i.test(message)
        ? `too many YAML aliases: the anchors would expand beyond ${MAX_YAML_ALIASES} nodes (write the repeated parts out, or share fewer nested anchors)`
        : message,
    };
  }
}
