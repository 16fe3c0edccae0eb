#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { VERSION } from './app.js';
import { sha256 } from './tenants/keys.js';

const HELP = `qoswatch ${VERSION} — live-stream QoS monitoring and alerting

Usage:
  qoswatch [serve]           run the service (configuration from environment variables; see README)
  qoswatch keys hash <key>   print the SHA-256 to put in a config file's ingest_keys[].sha256
  qoswatch rules check [dir] validate alert rule files (default: QOSWATCH_RULES_DIR or ./alert-rules);
                             exit 1 listing each problem (file, rule, field), 0 when all are valid
  qoswatch oncall check [file]
                             validate the on-call file (default: QOSWATCH_ONCALL or ./oncall.yaml), including
                             coverage of schedules that P0/P1 pages reach over the next 28 days
  qoswatch oncall who [--at time] [file]
                             who is on call in each schedule now or at an RFC 3339 time
  qoswatch journal quarantined
                             list journal rows a start moved aside because replaying them failed (data dir)
  qoswatch journal requeue <seq>|all
                             put quarantined rows back to be replayed at the next start (service stopped)
  qoswatch simulate [options] generate realistic telemetry with injected faults (qoswatch simulate --help)
  qoswatch version           print the version
`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'simulate') return (await import('./simulator/cli.js')).simulateCommand(argv.slice(1));
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' }, at: { type: 'string' } } });
  const [cmd = 'serve', ...rest] = positionals;
  if (values.help || cmd === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  switch (cmd) {
    case 'serve': {
      const { serve } = await import('./server.js');
      await serve();
      return -1;
    }
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case 'keys':
      if (rest[0] === 'hash' && rest[1]) {
        process.stdout.write(`${sha256(rest[1])}\n`);
        return 0;
      }
      process.stderr.write('usage: qoswatch keys hash <key>\n');
      return 2;
    case 'rules':
      if (rest[0] === 'check' && rest.length <= 2) {
        const { checkRules } = await import('./rules/check.js');
        return checkRules(rest[1]);
      }
      process.stderr.write('usage: qoswatch rules check [dir]\n');
      return 2;
    case 'oncall':
      if ((rest[0] === 'check' || rest[0] === 'who') && rest.length <= 2) {
        const { onCallCommand } = await import('./oncall/cli.js');
        return onCallCommand(rest[0], rest[1], values.at);
      }
      process.stderr.write('usage: qoswatch oncall check [file] | qoswatch oncall who [--at time] [file]\n');
      return 2;
    case 'journal': {
      const { journalCommand } = await import('./storage/journal-cli.js');
      return journalCommand(rest[0], rest.length <= 2 ? rest[1] : '');
    }
    default:
      process.stderr.write(`unknown command "${cmd}"\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`qoswatch: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
