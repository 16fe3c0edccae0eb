import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { JSON_SCHEMAS, schemaFileText } from '../../src/api/json-schemas.js';
import { parseOnCall } from '../../src/oncall/config.js';
import { compileRuleFiles } from '../../src/rules/load.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');
const CTX = { windowMs: 10_000, horizonMs: 300_000 };
const NOW = Date.UTC(2026, 11, 1);

/** A validator of the published schema, as an editor's would check a file (formats included). */
function validator(name: keyof typeof JSON_SCHEMAS) {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats.default(ajv);
  return ajv.compile(JSON_SCHEMAS[name]());
}
const rulesValid = validator('alert-rules');
const onCallValid = validator('oncall');

const rulesLoad = (text: string) => compileRuleFiles([{ path: 'test.yaml', text }], CTX);
const onCallLoad = (text: string) => parseOnCall(text, 'oncall.yaml', NOW, { NOC_URL: 'https://hooks.slack.com/services/T0/B0/x' });

describe('published JSON Schemas of the rule and on-call files', () => {
  it('are committed as the generator makes them now (npm run schemas)', () => {
    expect(read('docs/schemas/alert-rules.schema.json')).toBe(schemaFileText('alert-rules'));
    expect(read('docs/schemas/oncall.schema.json')).toBe(schemaFileText('oncall'));
  });

  it('accept the shipped files, which name them for editors', () => {
    for (const [file, valid, ref] of [
      ['alert-rules/live-streaming.yaml', rulesValid, '../docs/schemas/alert-rules.schema.json'],
      ['oncall.example.yaml', onCallValid, 'docs/schemas/oncall.schema.json'],
    ] as const) {
      const text = read(file);
      expect(text.split('\n')[0], file).toBe(`# yaml-language-server: $schema=${ref}`);
      expect(valid(parse(text)), `${file}: ${JSON.stringify(valid.errors)}`).toBe(true);
    }
  });

  // Each case: a file both the schema and the loader accept, or both refuse.
  const RULES: [string, boolean, string][] = [
    ['a threshold rule without kind (the default)', true, 'rules:\n  - { id: a, metric: stall_ratio, window: 1m, thresholds: { P1: "> 0.05" } }'],
    ['an absent rule', true, 'rules:\n  - { id: a, kind: absent, for: 2m }'],
    ['a drop rule', true, 'rules:\n  - { id: a, kind: drop, metric: viewers, thresholds: { P0: "> 50%" } }'],
    ['an unknown metric', false, 'rules:\n  - { id: a, metric: bitrate, window: 1m, thresholds: { P1: "> 1" } }'],
    ['a threshold rule without window', false, 'rules:\n  - { id: a, metric: stall_ratio, thresholds: { P1: "> 0.05" } }'],
    ['an unknown field', false, 'rules:\n  - { id: a, metric: stall_ratio, window: 1m, thresholds: { P1: "> 0.05" }, severity: high }'],
    ['a priority that does not exist', false, 'rules:\n  - { id: a, metric: stall_ratio, window: 1m, thresholds: { P5: "> 0.05" } }'],
    ['a threshold as a number', false, 'rules:\n  - { id: a, metric: stall_ratio, window: 1m, thresholds: { P1: 0.05 } }'],
    ['an unknown kind', false, 'rules:\n  - { id: a, kind: anomaly, metric: viewers }'],
    ['a field of another kind', false, 'rules:\n  - { id: a, kind: absent, for: 2m, window: 1m }'],
    ['a duration without unit', false, 'rules:\n  - { id: a, metric: stall_ratio, window: 60, thresholds: { P1: "> 0.05" } }'],
    ['rules not under rules:', false, '- { id: a, metric: stall_ratio, window: 1m, thresholds: { P1: "> 0.05" } }'],
  ];
  it.each(RULES)('alert rules: %s (valid: %s)', (_what, ok, text) => {
    expect(rulesValid(parse(text)), JSON.stringify(rulesValid.errors)).toBe(ok);
    if (ok) expect(rulesLoad(text).rules).toHaveLength(1);
    else expect(() => rulesLoad(text)).toThrow();
  });

  const PERSON = 'people:\n  - { id: anna, name: Anna, email: anna@example.com, chat: { slack: U0ANNA } }\n';
  const ONCALL: [string, boolean, string][] = [
    ['a channel whose URL comes from the environment', true, `${PERSON}channels:\n  - { id: noc, provider: slack, url: "\${NOC_URL}" }`],
    ['a webhook channel with headers', true, `${PERSON}channels:\n  - { id: hook, provider: webhook, url: "https://example.com/hook", secret: "0123456789abcdef", headers: { Authorization: "Bearer x" } }`],
    ['an unknown provider', false, `${PERSON}channels:\n  - { id: noc, provider: telegram, url: "https://example.com" }`],
    ['a field the provider does not have', false, `${PERSON}channels:\n  - { id: noc, provider: slack, url: "https://hooks.slack.com/x", channel: "#noc" }`],
    ['a channel without its URL', false, `${PERSON}channels:\n  - { id: noc, provider: feishu }`],
    ['a person without a name', false, 'people:\n  - { id: anna }'],
    ['a chat handle on an unknown provider', false, 'people:\n  - { id: anna, name: Anna, chat: { icq: "1234" } }'],
    ['a rotation that does not exist', false, `${PERSON}schedules:\n  - { id: s, layers: [{ id: l, timezone: UTC, rotation: hourly, handoff: "09:00", start: 2026-12-01, members: [anna] }] }`],
    ['an unknown top-level section', false, `${PERSON}teams: []`],
  ];
  it.each(ONCALL)('on-call file: %s (valid: %s)', (_what, ok, text) => {
    expect(onCallValid(parse(text)), JSON.stringify(onCallValid.errors)).toBe(ok);
    if (ok) expect(() => onCallLoad(text)).not.toThrow();
    else expect(() => onCallLoad(text)).toThrow();
  });
});
