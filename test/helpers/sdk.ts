import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSdk } from '../../sdk/web/build.mjs';

const DIST = fileURLToPath(new URL('../../sdk/web/dist/', import.meta.url));

let built: Promise<void> | undefined;

/** The SDK's browser bundle (global `qoswatch`), built from the sources once per test process. */
export async function sdkIife(): Promise<string> {
  await (built ??= buildSdk());
  return readFileSync(join(DIST, 'qoswatch.iife.js'), 'utf8');
}

/**
 * A tiny test clip made by ffmpeg (VP8 in WebM: Debian's Chromium plays it), 160×90 at 15 fps: small enough that a
 * loaded machine does not starve the player.
 */
export function makeClip(dir: string, seconds = 4): string {
  const out = join(dir, 'clip.webm');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=160x90:rate=15:duration=${seconds}`, '-c:v', 'libvpx', '-b:v', '150k', '-g', '15', '-an', out]);
  return out;
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.webm': 'video/webm', '.mp4': 'video/mp4' };

/** A static origin on loopback serving `files` (path → content or file on disk), other than qoswatch's. */
export async function serveStatic(files: Record<string, string | { file: string }>): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const f = files[path];
    if (f === undefined) return void res.writeHead(404).end();
    const body = typeof f === 'string' ? f : readFileSync(f.file);
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? TYPES['.html']!, 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
