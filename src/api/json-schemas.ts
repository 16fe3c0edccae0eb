import { z } from 'zod';
import { PROVIDERS, PROVIDER_IDS } from '../notify/registry.js';
import { onCallFileSchema } from '../oncall/config.js';
import { ruleFileSchema, ruleSchema } from '../rules/rule-schema.js';

/**
 * JSON Schemas of the files people write by hand — alert rules (QOSWATCH_RULES_DIR/*.yaml) and the on-call file
 * (QOSWATCH_ONCALL) — for editors' completion and checks as they type (yaml-language-server). They are made from
 * the zod schemas the loaders use; where a loader does more than its schema shows (a rule's default kind, the
 * environment variables of a channel's fields), this says so by hand, only there. The loaders stay the judges:
 * refinements across fields (thresholds in order, a custom rotation's length) are theirs alone.
 */

type Json = { [key: string]: unknown };

/** A union branch no file can hold: YAML gives strings, never Date objects. */
const FILE_ABSENT = new Set(['date', 'undefined']);

function toJson(schema: z.ZodType): Json {
  return z.toJSONSchema(schema, {
    // What the file says (before defaults and transforms), in the draft editors support best.
    io: 'input',
    target: 'draft-07',
    unrepresentable: 'any',
    override: (ctx) => {
      const def = ctx.zodSchema._zod.def;
      if (def.type === 'union' && Array.isArray(ctx.jsonSchema.anyOf)) {
        const options = (def as z.core.$ZodUnionDef).options;
        ctx.jsonSchema.anyOf = ctx.jsonSchema.anyOf.filter((_, i) => !FILE_ABSENT.has(options[i]?._zod.def.type ?? ''));
      }
    },
  }) as Json;
}

/** Every subschema of `node` (objects and arrays, recursively), the node first; not under the keywords of `skip`. */
function* walk(node: unknown, skip: readonly string[] = []): Generator<Json> {
  if (Array.isArray(node)) for (const n of node) yield* walk(n, skip);
  else if (node && typeof node === 'object') {
    yield node as Json;
    for (const [k, v] of Object.entries(node)) if (!skip.includes(k)) yield* walk(v, skip);
  }
}

/** `anyOf` of one schema (what is left of a union once its Date branch is gone) is that schema. */
function collapseSingleAnyOf(root: Json): Json {
  for (const node of walk(root)) {
    if (!Array.isArray(node.anyOf) || node.anyOf.length !== 1) continue;
    const [only] = node.anyOf as Json[];
    delete node.anyOf;
    Object.assign(node, only, { ...node });
  }
  return root;
}

/**
 * A map with a closed set of keys (a partial record: thresholds per priority, chat handles per provider) becomes an
 * object with those properties — the same constraint, but editors complete property names, not `propertyNames`.
 */
function closedKeysAsProperties(root: Json): Json {
  for (const node of walk(root)) {
    const names = (node.propertyNames as Json | undefined)?.enum;
    if (!Array.isArray(names) || node.properties !== undefined || typeof node.additionalProperties !== 'object') continue;
    node.properties = Object.fromEntries(names.map((n) => [n, node.additionalProperties]));
    node.additionalProperties = false;
    delete node.propertyNames;
  }
  return root;
}

const document = (title: string, description: string, body: Json): Json => {
  const { $schema, ...rest } = body;
  return { $schema, title, description, ...rest };
};

/** The schema of an alert rules file: `rules:` and each rule as the loader reads it. */
export function alertRulesJsonSchema(): Json {
  // The file's schema takes `rules` as unknowns and the loader checks each rule on its own (one bad rule names
  // itself); here each is the rule schema, without the step that gives a rule without `kind` the kind threshold.
  const rule = (ruleSchema as unknown as z.ZodPipe<z.ZodType, z.ZodType>).out;
  const json = toJson(ruleFileSchema.extend({ rules: z.array(rule).default([]) }));
  const kinds = ((json.properties as Json).rules as Json).items as Json;
  const branches = (kinds.oneOf ?? kinds.anyOf) as Json[];
  const threshold = branches.find((b) => ((b.properties as Json).kind as Json).const === 'threshold')!;
  threshold.required = (threshold.required as string[]).filter((k) => k !== 'kind');
  for (const b of branches) {
    ((b.properties as Json).kind as Json).description = 'threshold (the default when omitted), absent or drop';
    const levels = (b.properties as Json).thresholds as Json | undefined;
    if (levels) (levels.additionalProperties as Json).description = 'a comparison in quotes, e.g. "> 0.05", ">= 800", "< 0.9" or "> 30%"';
  }
  return document('qoswatch alert rules', 'A file of alert rules in QOSWATCH_RULES_DIR. Check it with `qoswatch rules check`.', collapseSingleAnyOf(closedKeysAsProperties(json)));
}

/** The schema of the on-call file: people, channels (each provider's own fields), schedules, policies, routing. */
export function onCallJsonSchema(): Json {
  const channels = onCallFileSchema.shape.channels.unwrap();
  const { id } = channels.element.shape;
  // The file's schema keeps a channel's provider fields loose and checks them with the provider's schema once
  // environment variables are expanded; here each provider's fields are listed.
  const channel = z.discriminatedUnion(
    'provider',
    PROVIDER_IDS.map((p) => z.strictObject({ id, provider: z.literal(p), ...(PROVIDERS[p].configSchema as unknown as z.ZodObject).shape })) as unknown as [z.ZodObject, ...z.ZodObject[]],
  );
  const json = toJson(onCallFileSchema.extend({ channels: z.array(channel).default([]) }));
  const branches = ((((json.properties as Json).channels as Json).items as Json).oneOf ?? (((json.properties as Json).channels as Json).items as Json).anyOf) as Json[];
  for (const b of branches) {
    for (const [name, field] of Object.entries(b.properties as Json)) {
      if (name === 'id' || name === 'provider') continue;
      // Any string may be "${NAME}", read from the environment when the file is loaded: its form is known only then.
      // Only values are expanded, not keys (header names keep their pattern).
      for (const s of walk(field, ['propertyNames'])) {
        if (s.type !== 'string') continue;
        for (const k of ['format', 'pattern', 'minLength', 'maxLength']) delete s[k];
        s.description = 'may hold ${NAME}: read from the environment when the file is loaded';
      }
    }
  }
  return document('qoswatch on-call file', 'The on-call file (QOSWATCH_ONCALL). Check it with `qoswatch oncall check`.', collapseSingleAnyOf(closedKeysAsProperties(json)));
}

/** The published schemas by file name. */
export const JSON_SCHEMAS = { 'alert-rules': alertRulesJsonSchema, oncall: onCallJsonSchema } as const;

/** The committed form of a published schema (docs/schemas/<name>.schema.json), as `npm run schemas` writes it. */
export const schemaFileText = (name: keyof typeof JSON_SCHEMAS) => `${JSON.stringify(JSON_SCHEMAS[name](), null, 2)}\n`;
