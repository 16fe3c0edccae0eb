import { createServer } from 'node:net';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/app.js';
import { sha256 } from '../../src/tenants/keys.js';
import { ADMIN_TOKEN, INGEST_KEY } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { CLI, runCliStreams } from '../helpers/service.js';
import { tempDir } from '../helpers/tmp.js';

/** The built CLI as a person meets it first: versions, help, mistakes, and failures — stdout, stderr, exit codes. */

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);

/** What must never reach a person who typed a command: a stack trace or Node's internal error names. */
const STACK = /^\s+at |TypeError|ERR_[A-Z_]+/m;

describe('versions and help', () => {
  it.each([['--version'], ['-V'], ['version']])('%s prints the version on stdout, exit 0', async (arg) => {
    expect(await runCliStreams([arg], {})).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it.each([
    [['--help'], 'qoswatch'], [['-h'], 'qoswatch'], [['help'], 'qoswatch'],
    [['serve', '--help'], 'qoswatch serve'], [['keys', '--help'], 'qoswatch keys'], [['keys', 'hash', '-h'], 'qoswatch keys hash'],
    [['rules', '--help'], 'qoswatch rules'], [['rules', 'check', '--help'], 'qoswatch rules check'], [['rules', 'test', '--help'], 'qoswatch rules test'],
    [['oncall', '--help'], 'qoswatch oncall'], [['oncall', 'check', '--help'], 'qoswatch oncall check'], [['oncall', 'who', '--help'], 'qoswatch oncall who'],
    [['oncall', 'test', '--help'], 'qoswatch oncall test'],
    [['journal', '--help'], 'qoswatch journal'], [['journal', 'requeue', '--help'], 'qoswatch journal requeue'],
    [['cluster', '--help'], 'qoswatch cluster'], [['cluster', 'status', '--help'], 'qoswatch cluster status'],
    [['simulate', '--help'], 'qoswatch simulate'], [['version', '--help'], 'qoswatch version'],
  ])('%j prints the usage of %s on stdout, exit 0', async (args, usage) => {
    const r = await runCliStreams(args, {});
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: ${usage}( |$)`, 'm'));
  });
});

describe('usage errors: one line on stderr naming the mistake, exit 2', () => {
  it.each([
    [['--nope'], /: unknown option --nope/],
    [['frobnicate'], /: unknown command "frobnicate"/],
    [['serve', '--nope'], / serve: unknown option --nope/],
    [['serve', 'extra'], / serve: unexpected argument "extra"/],
    [['serve', '--port'], / serve: --port needs a value/],
    [['serve', '--port', 'eighty'], / serve: --port: "eighty" is not a port \(0-65535\)/],
    [['serve', '--port', '70000'], / serve: --port: "70000" is not a port \(0-65535\)/],
    [['keys'], / keys: name a subcommand: hash/],
    [['keys', 'rotate'], / keys: unknown subcommand "rotate"/],
    [['keys', 'hash', 'a', 'b'], / keys hash: unexpected argument "b"/],
    [['rules', 'check', '--nope'], / rules check: unknown option --nope/],
    [['oncall', 'check', '--at', 'now'], / oncall check: unknown option --at/],
    [['oncall', 'who', '--at'], / oncall who: --at needs a value/],
    [['version', 'now'], / version: unexpected argument "now"/],
    [['journal', 'requeue'], / journal requeue: missing argument <seq>\|all/],
  ])('%j', async (args, message) => {
    const r = await runCliStreams(args, {});
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(new RegExp(`^qoswatch${message.source}`))]);
    expect(r.code).toBe(2);
  });
});

describe('serve: failures to start are one clean line, exit 1', () => {
  const servers: ReturnType<typeof createServer>[] = [];
  afterEach(() => servers.splice(0).forEach((s) => s.close()));
  const env = () => ({ QOSWATCH_DATA_DIR: tempDir('qoswatch-cli'), QOSWATCH_INGEST_KEY: INGEST_KEY, QOSWATCH_ADMIN_TOKEN: ADMIN_TOKEN, HOST: '127.0.0.1' });

  it('a port in use names the port (--port wins over PORT)', async () => {
    const busy = await freePort();
    const server = createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(busy, '127.0.0.1', r));
    const r = await runCliStreams(['serve', '--port', String(busy)], { ...env(), PORT: String(await freePort()) });
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).toMatch(new RegExp(`^qoswatch: cannot listen on 127\\.0\\.0\\.1:${busy}: the port is in use by another process`, 'm'));
    expect(r.code).toBe(1);
  });

  it.skipIf(process.getuid?.() === 0)('a privileged port names the port and why', async () => {
    const r = await runCliStreams(['serve', '--port', '1'], env());
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).toMatch(/^qoswatch: cannot listen on 127\.0\.0\.1:1: permission denied/m);
    expect(r.code).toBe(1);
  });

  it('an unusable data dir is a message, not a stack — unless QOSWATCH_LOG_LEVEL=debug', async () => {
    const file = join(tempDir('qoswatch-cli'), 'not-a-dir');
    writeFileSync(file, '');
    const r = await runCliStreams(['serve', '--port', '0'], { ...env(), QOSWATCH_DATA_DIR: file });
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).toContain(`qoswatch: EEXIST: file already exists, mkdir '${file}'`);
    expect(r.code).toBe(1);
    const debug = await runCliStreams(['serve', '--port', '0'], { ...env(), QOSWATCH_DATA_DIR: file, QOSWATCH_LOG_LEVEL: 'debug' });
    expect(debug.stderr).toMatch(/^\s+at /m);
    expect(debug.code).toBe(1);
  });
});

describe('keys hash', () => {
  const KEY = 'qw_live_7c1e0a9b2d4f6e8a';

  it('reads the key from stdin, so it stays out of shell history and ps', async () => {
    expect(await runCliStreams(['keys', 'hash'], {}, `${KEY}\n`)).toEqual({ code: 0, stdout: `${sha256(KEY)}\n`, stderr: '' });
    expect(await runCliStreams(['keys', 'hash'], {}, KEY)).toEqual({ code: 0, stdout: `${sha256(KEY)}\n`, stderr: '' });
    expect(await runCliStreams(['keys', 'hash', KEY], {})).toEqual({ code: 0, stdout: `${sha256(KEY)}\n`, stderr: '' });
  });

  it('an empty stdin or more than one line is a usage error', async () => {
    for (const input of ['', '\n', 'a\nb\n']) {
      const r = await runCliStreams(['keys', 'hash'], {}, input);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^qoswatch keys hash: give one key on stdin/);
      expect(r.code).toBe(2);
    }
  });
});

describe('qoswatch cluster', () => {
  it('init and status need DATABASE_URL: exit 2 naming it, and never echo the URL given', async () => {
    for (const sub of ['init', 'status']) {
      const r = await runCliStreams(['cluster', sub], {});
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/DATABASE_URL: required by qoswatch cluster/);
    }
    const bad = await runCliStreams(['cluster', 'status'], { DATABASE_URL: 'mysql://root:hunter2@db/x' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/DATABASE_URL: must be a postgres:\/\/ URL/);
    expect(bad.stderr).not.toContain('hunter2');
  });
});
