#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { VERSION } from './app.js';

/**
 * The `qoswatch` command line. A mistake in how a command was typed is one line on stderr and exit 2; a failure
 * while running is one line and exit 1 (with the stack only at QOSWATCH_LOG_LEVEL=debug or trace).
 */

/** A command typed wrongly: the message names the option or argument. */
class UsageError extends Error {
  constructor(
    readonly command: string,
    message: string,
  ) {
    super(message);
  }
}

type Values = Record<string, string | boolean | undefined>;

interface Command {
  /** The words after `qoswatch`: "rules check". */
  readonly name: string;
  /** What follows the name in the usage line. */
  readonly synopsis: string;
  readonly summary: string;
  /** Options and arguments, one per line, already indented. */
  readonly details: string;
  readonly options?: Record<string, { type: 'string' | 'boolean'; short?: string }>;
  /** Positional arguments: at least (default 0), at most. */
  readonly minArgs?: number;
  readonly maxArgs: number;
  run(args: string[], values: Values): Promise<number>;
}

const HELP_LINE = '  -h, --help           this help';

const COMMANDS: readonly Command[] = [
  {
    name: 'serve',
    synopsis: '[--port N] [--host ADDR]',
    summary: 'run the service (configuration from environment variables; see README)',
    details: `  --port N             the port to listen on (default: PORT, else 8080)
  --host ADDR          the address to listen on (default: HOST, else 0.0.0.0)
${HELP_LINE}

Exit 2 for invalid configuration (the message names the variable), 1 when the service cannot start.
SIGTERM / SIGINT stop it gracefully; SIGHUP reloads the alert rules.`,
    options: { port: { type: 'string' }, host: { type: 'string' } },
    maxArgs: 0,
    async run(_args, values) {
      const source = { ...process.env };
      if (values.port !== undefined) {
        const port = String(values.port);
        if (!/^\d{1,5}$/.test(port) || Number(port) > 65_535) throw new UsageError('serve', `--port: "${port}" is not a port (0-65535)`);
        source.PORT = port;
      }
      if (values.host !== undefined) source.HOST = String(values.host);
      const { serve } = await import('./server.js');
      await serve(source);
      return -1;
    },
  },
  {
    name: 'keys hash',
    synopsis: '[key]',
    summary: "print the SHA-256 to put in a config file's ingest_keys[].sha256 or api_tokens[].sha256",
    details: `  key                  the ingest key or tenant API token; without it the key is read from stdin (one line), which keeps it
                       out of shell history and the process list: qoswatch keys hash < key.txt
${HELP_LINE}`,
    maxArgs: 1,
    async run([key]) {
      const { sha256 } = await import('./tenants/keys.js');
      process.stdout.write(`${sha256(key ?? (await keyFromStdin()))}\n`);
      return 0;
    },
  },
  {
    name: 'rules check',
    synopsis: '[dir]',
    summary: 'validate alert rule files',
    details: `  dir                  the rules directory (default: QOSWATCH_RULES_DIR, else ./alert-rules)
${HELP_LINE}

Exit 0 when every file is valid, 1 listing each problem (file, rule, field).`,
    maxArgs: 1,
    async run([dir]) {
      const { checkRules } = await import('./rules/check.js');
      return checkRules(dir);
    },
  },
  {
    name: 'rules test',
    synopsis: '<file>…',
    summary: 'run rule unit tests: input series and the alerts expected at given times',
    details: `  file                 a rule test file (YAML: rule_files, tests with input_series and alerts); several may be given
${HELP_LINE}

Runs the real validation, window store and rule engine on a fake clock. Exit 0 when every test passes,
1 listing each failing one (expected and firing alerts), 2 for a malformed test file (the field named).`,
    minArgs: 1,
    maxArgs: Infinity,
    async run(files) {
      const { testRules } = await import('./rules/test-command.js');
      return testRules(files);
    },
  },
  {
    name: 'oncall check',
    synopsis: '[file]',
    summary: 'validate the on-call file, including coverage of P0/P1 schedules over the next 28 days',
    details: `  file                 the on-call file (default: QOSWATCH_ONCALL, else ./oncall.yaml)
${HELP_LINE}`,
    maxArgs: 1,
    async run([file]) {
      const { onCallCommand } = await import('./oncall/cli.js');
      return onCallCommand('check', file, undefined);
    },
  },
  {
    name: 'oncall who',
    synopsis: '[--at time] [file]',
    summary: 'who is on call in each schedule now, or at a time',
    details: `  --at TIME            an RFC 3339 time, e.g. 2026-12-01T03:00:00Z (default: now)
  file                 the on-call file (default: QOSWATCH_ONCALL, else ./oncall.yaml)
${HELP_LINE}`,
    options: { at: { type: 'string' } },
    maxArgs: 1,
    async run([file], values) {
      const { onCallCommand } = await import('./oncall/cli.js');
      return onCallCommand('who', file, values.at as string | undefined);
    },
  },
  {
    name: 'oncall test',
    synopsis: '<flags> [file]',
    summary: 'which escalation policy an incident with these labels gets, and whom each level pages when',
    details: `  --tenant T           the incident's tenant (required)
  --region R           its region (routes that match on region need it)
  --priority P         P0, P1, P2 or P3 (required)
  --at TIME            when it opens, RFC 3339, e.g. 2026-12-01T03:00:00Z (default: now); each level's on-call
                       person is resolved at the instant that level starts (schedules, layers, overrides, time zones)
  file                 the on-call file (default: QOSWATCH_ONCALL, else ./oncall.yaml)
${HELP_LINE}

Overrides made through the API are not included. Exit 0 with the answer, 1 when the file is invalid.`,
    options: { tenant: { type: 'string' }, region: { type: 'string' }, priority: { type: 'string' }, at: { type: 'string' } },
    maxArgs: 1,
    async run([file], values) {
      const tenant = values.tenant as string | undefined;
      if (!tenant) throw new UsageError('oncall test', '--tenant is required');
      const priority = values.priority as string | undefined;
      if (!priority) throw new UsageError('oncall test', '--priority is required');
      const { PRIORITIES } = await import('./shared/priority.js');
      if (!(PRIORITIES as readonly string[]).includes(priority)) throw new UsageError('oncall test', `--priority: "${priority}" is not one of ${PRIORITIES.join(', ')}`);
      const text = values.at as string | undefined;
      const at = text === undefined ? undefined : Date.parse(text);
      // An offset is required: without one Date.parse reads local time, and the answer would depend on the machine.
      if (at !== undefined && (!Number.isFinite(at) || !/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/i.test(text!))) throw new UsageError('oncall test', `--at: "${text}" is not a time (use RFC 3339, e.g. 2026-12-01T03:00:00Z)`);
      const { onCallTestCommand } = await import('./oncall/cli.js');
      return onCallTestCommand(file, { tenant, region: values.region as string | undefined, priority: priority as 'P0' }, at);
    },
  },
  {
    name: 'journal quarantined',
    synopsis: '',
    summary: 'list journal rows a start moved aside because replaying them failed (data dir)',
    details: HELP_LINE,
    maxArgs: 0,
    async run() {
      const { journalCommand } = await import('./storage/journal-cli.js');
      return journalCommand('quarantined', undefined);
    },
  },
  {
    name: 'journal requeue',
    synopsis: '<seq>|all',
    summary: 'put quarantined rows back to be replayed at the next start (service stopped)',
    details: `  seq                  the quarantined row's seq (qoswatch journal quarantined), or all
${HELP_LINE}`,
    minArgs: 1,
    maxArgs: 1,
    async run([seq]) {
      const { journalCommand } = await import('./storage/journal-cli.js');
      return journalCommand('requeue', seq);
    },
  },
  {
    name: 'cluster init',
    synopsis: '',
    summary: 'create or migrate the state schema in PostgreSQL (DATABASE_URL, DATABASE_SCHEMA)',
    details: HELP_LINE,
    maxArgs: 0,
    async run() {
      const { clusterCommand } = await import('./coordination/cluster-cli.js');
      return clusterCommand('init');
    },
  },
  {
    name: 'cluster status',
    synopsis: '',
    summary: 'print who leads and who works, the followers\' lag and the paging backlog, as JSON (DATABASE_URL)',
    details: HELP_LINE,
    maxArgs: 0,
    async run() {
      const { clusterCommand } = await import('./coordination/cluster-cli.js');
      return clusterCommand('status');
    },
  },
  {
    name: 'version',
    synopsis: '',
    summary: 'print the version (also --version, -V)',
    details: HELP_LINE,
    maxArgs: 0,
    async run() {
      process.stdout.write(`${VERSION}\n`);
      return 0;
    },
  },
];

const GROUPS = ['keys', 'rules', 'oncall', 'journal', 'cluster'] as const;

const usageLine = (c: Command) => `qoswatch ${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}`;
const commandHelp = (c: Command) => `Usage: ${usageLine(c)}\n\n${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.\n\n${c.details}\n`;
const groupHelp = (group: string) => {
  const subs = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  return `Usage: qoswatch ${group} <${subs.map((c) => c.name.split(' ')[1]).join('|')}> …\n\n${subs.map((c) => `  ${usageLine(c).padEnd(40)} ${c.summary}`).join('\n')}\n\nqoswatch ${group} <subcommand> --help describes each.\n`;
};

const HELP = `qoswatch ${VERSION} — live-stream QoS monitoring and alerting

Usage: qoswatch [command] [options]

${[...COMMANDS.map((c) => [usageLine(c), c.summary]), ['qoswatch simulate [options]', 'generate realistic telemetry with injected faults']]
  .map(([u, s]) => `  ${u!.padEnd(40)} ${s}`)
  .join('\n')}

Without a command, qoswatch serves. qoswatch <command> --help describes each command;
-V, --version prints the version.
`;

/** Parses a command's options strictly; node's parse errors become one-line usage errors naming the option. */
function parse(command: string, args: string[], options: Command['options'] = {}): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    const text = (err as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(text)?.[1];
    if (unknown) throw new UsageError(command, `unknown option ${unknown}`);
    // "Option '-p, --port <value>' argument missing", "Option '-h, --help' does not take an argument"
    const missing = /Option '(?:-\w, )?(--\S+) <value>' argument missing/.exec(text)?.[1];
    if (missing) throw new UsageError(command, `${missing} needs a value`);
    const flag = /Option '(?:-\w, )?(--\S+)' does not take an argument/.exec(text)?.[1];
    if (flag) throw new UsageError(command, `${flag} takes no value`);
    throw new UsageError(command, text.split('. ')[0]!);
  }
}

/** One line from stdin (a key piped or typed): the trailing newline is not part of it. */
async function keyFromStdin(): Promise<string> {
  const tty = process.stdin.isTTY;
  if (tty) process.stderr.write('key: ');
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (tty && text.includes('\n')) break;
  }
  const key = text.replace(/\r?\n$/, '');
  if (key === '' || /[\r\n]/.test(key)) throw new UsageError('keys hash', 'give one key on stdin (one line), or as the argument');
  return key;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === 'simulate') return (await import('./simulator/cli.js')).simulateCommand(rest);
  if (first === undefined || first.startsWith('-')) {
    const { values, positionals } = parse('', argv, { version: { type: 'boolean', short: 'V' } });
    if (positionals.length) throw new UsageError('', `unexpected argument "${positionals[0]}"`);
    if (values.version) return COMMANDS.find((c) => c.name === 'version')!.run([], {});
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    return COMMANDS.find((c) => c.name === 'serve')!.run([], {});
  }
  if (first === 'help') {
    const named = COMMANDS.find((c) => c.name === rest.join(' '));
    process.stdout.write(named ? commandHelp(named) : (GROUPS as readonly string[]).includes(rest.join(' ')) ? groupHelp(rest.join(' ')) : HELP);
    return 0;
  }
  let command: Command | undefined;
  let args = rest;
  if ((GROUPS as readonly string[]).includes(first)) {
    const [sub, ...subArgs] = rest;
    if (sub === undefined || sub.startsWith('-')) {
      const { values } = parse(first, rest);
      if (values.help) {
        process.stdout.write(groupHelp(first));
        return 0;
      }
      throw new UsageError(first, `name a subcommand: ${COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.split(' ')[1]).join(', ')}`);
    }
    command = COMMANDS.find((c) => c.name === `${first} ${sub}`);
    if (!command) throw new UsageError(first, `unknown subcommand "${sub}"`);
    args = subArgs;
  } else {
    command = COMMANDS.find((c) => c.name === first);
    if (!command) throw new UsageError('', `unknown command "${first}"`);
  }
  const { values, positionals } = parse(command.name, args, command.options);
  if (values.help) {
    process.stdout.write(commandHelp(command));
    return 0;
  }
  if (positionals.length > command.maxArgs) throw new UsageError(command.name, `unexpected argument "${positionals[command.maxArgs]}"`);
  if (positionals.length < (command.minArgs ?? 0)) throw new UsageError(command.name, `missing argument ${command.synopsis}`);
  return command.run(positionals, values);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      const cmd = err.command ? ` ${err.command}` : '';
      process.stderr.write(`qoswatch${cmd}: ${err.message} (qoswatch${cmd} --help)\n`);
      process.exit(2);
    }
    const debug = /^(debug|trace)$/i.test(process.env.QOSWATCH_LOG_LEVEL ?? '');
    process.stderr.write(`qoswatch: ${err instanceof Error ? (debug ? (err.stack ?? err.message) : err.message) : String(err)}\n`);
    process.exit(1);
  },
);
