import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { valuesSchema } from '../incidents/schemas.js';
import type { Labels } from '../shared/labels.js';
import { PRIORITIES } from '../shared/priority.js';
import { SECURITY, errorResponses, jsonResponse } from '../shared/openapi.js';
import { actorOf } from '../accounts/access.js';
import { formatDuration } from '../util/units.js';
import type { AlertState } from './alert-state.js';
import type { ReloadResult } from './plugin.js';
import type { Rule } from './rule-schema.js';

const ruleView = z.object({
  id: z.string(),
  kind: z.enum(['threshold', 'absent', 'drop']),
  description: z.string().optional(),
  file: z.string(),
  metric: z.string().optional(),
  window: z.string().optional(),
  group_by: z.array(z.string()),
  filter: z.record(z.string(), z.array(z.string())),
  thresholds: z.record(z.string(), z.string()).optional(),
  priority: z.enum(PRIORITIES).optional(),
  /** absent: the audience a silence must cut off; drop: the baseline median below which nothing is judged. */
  min_baseline: z.number().optional(),
  /** drop: only a fall within this span starts an alert. */
  within: z.string().optional(),
  for: z.string(),
  clear_for: z.string(),
  runbook: z.string().optional(),
  labels: z.record(z.string(), z.string()),
});

const alertView = z.object({
  rule: z.string(),
  group: z.string(),
  labels: z.record(z.string(), z.string()),
  status: z.enum(['pending', 'firing', 'clearing']),
  priority: z.enum(PRIORITIES).optional(),
  since: z.string(),
  fired_at: z.string().optional(),
  values: valuesSchema.optional(),
});

function describeRule(r: Rule): z.input<typeof ruleView> {
  return {
    id: r.id, kind: r.kind, description: r.description, file: r.file,
    metric: r.kind === 'absent' ? undefined : r.metric,
    window: r.kind === 'threshold' ? formatDuration(r.windowMs) : r.kind === 'drop' ? formatDuration(r.baselineMs) : undefined,
    group_by: [...r.groupBy],
    filter: Object.fromEntries([...r.filter].map(([k, v]) => [k, [...v]])),
    thresholds: r.kind === 'absent' ? undefined : Object.fromEntries(r.levels.map((l) => [l.priority, l.cmp.text])),
    priority: r.kind === 'absent' ? r.priority : undefined,
    min_baseline: r.kind === 'threshold' ? undefined : r.minBaseline,
    within: r.kind === 'drop' && r.withinMs !== undefined ? formatDuration(r.withinMs) : undefined,
    for: formatDuration(r.forMs), clear_for: formatDuration(r.clearForMs), runbook: r.runbook, labels: { ...r.labels },
  };
}

/** Rules in force, current alerts, and reloading the rules directory (admins). */
export const ruleRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole({ read: 'viewer', write: 'admin' }));
  const errors = errorResponses(401, 403);
  app.get(
    '/v1/rules',
    {
      schema: {
        operationId: 'listRules', tags: ['rules'], summary: 'The alert rules in force', security: SECURITY.staff,
        response: { 200: jsonResponse(z.object({ dir: z.string().optional(), files: z.array(z.string()), rules: z.array(ruleView) }), 'The rules and the files they came from'), ...errors },
      },
    },
    async () => ({ dir: app.rules.dir, files: [...app.rules.files], rules: app.alerting.engine.ruleList.map(describeRule) }),
  );
  app.get(
    '/v1/alerts',
    { schema: { operationId: 'listAlerts', tags: ['rules'], summary: 'Alerts that are pending, firing or clearing', security: SECURITY.staff, response: { 200: jsonResponse(z.array(alertView), 'The current alerts'), ...errors } } },
    async () => (await currentAlerts(app)).map(({ rule, key, labels, state }) => ({
      rule, group: key, labels: labels as Record<string, string>, status: state.status as 'pending' | 'firing' | 'clearing',
      priority: state.priority, since: new Date(state.since).toISOString(),
      fired_at: state.firedAt === undefined ? undefined : new Date(state.firedAt).toISOString(), values: state.values,
    })),
  );
  app.post(
    '/v1/admin/rules/reload',
    {
      schema: {
        operationId: 'reloadRules', tags: ['rules'], summary: 'Reload the rules directory; a bad file keeps the rules in force and says why', security: SECURITY.staff,
        response: {
          200: jsonResponse(z.object({ reloaded: z.literal(true), rules: z.number().int(), files: z.array(z.string()) }), 'Reloaded: the new rules are in force'),
          422: jsonResponse(z.object({ error: z.literal('invalid_rules'), message: z.string(), problems: z.array(z.string()) }), 'Not reloaded: the previous rules stay in force; `problems` name the files and what is wrong'),
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const r = await reloadRules(app, actorOf(req));
      if (r.ok) return { reloaded: true as const, rules: r.rules, files: [...r.files] };
      return reply.code(422).send({ error: 'invalid_rules' as const, message: `rules not reloaded; the previous rules stay in force: ${r.problems.length} problem(s)`, problems: [...r.problems] });
    },
  );
};

/** Reloads the rules directory and records it in the audit log (the rules before and after, or the problems). */
export async function reloadRules(app: FastifyInstance, actor: string): Promise<ReloadResult> {
  const inForce = () => ({ files: [...app.rules.files], rules: app.alerting.engine.ruleList.map(describeRule) });
  const before = inForce();
  const r = await app.rules.reload();
  await app.audit.record(actor, r.ok ? 'rules.reload' : 'rules.reload_failed', 'rules', r.ok ? { before, after: inForce() } : { before, after: { problems: [...r.problems] } }, Date.now());
  return r;
}

/**
 * The alerts that are not inactive: the embedded engine's, as they are now; in a cluster, every partition owner's as
 * it last stored them in PostgreSQL (transitions at once, the rest every few seconds), whichever node answers.
 */
async function currentAlerts(app: FastifyInstance): Promise<{ rule: string; key: string; labels: Labels; state: AlertState }[]> {
  if (app.embedded) return [...app.alerting.engine.alerts()].map((a) => ({ rule: a.rule.id, key: a.key, labels: a.labels, state: a.state }));
  const rows = await app.state.alerts.load();
  return rows
    .map((r) => ({ rule: r.rule_id, key: r.group_key, labels: r.labels, state: r.state as AlertState }))
    .filter((a) => a.state.status !== 'inactive');
}
