import { existsSync } from 'node:fs';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterEach, beforeEach } from 'vitest';
import { tempDir } from './tmp.js';

/** Debian's chromium (installed by .ci/run); browser tests never download a browser of their own. */
export const CHROMIUM = '/usr/bin/chromium';

export const HAVE_CHROMIUM = existsSync(CHROMIUM);

/** The visible reason browser tests are skipped. */
export const NO_CHROMIUM_MESSAGE =
  "chromium is not installed: browser tests are SKIPPED. Install Debian's chromium package (apt-get install chromium) to run them; .ci/run always does.";

/** As root and on a closed network: no sandbox, no GPU, nothing phoning home (it would be refused, many times over). */
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A headless Chromium with a fresh, empty profile; close it when done. */
export function launchBrowser(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(tempDir('qoswatch-chromium'), { executablePath: CHROMIUM, headless: true, args: ARGS });
}

/**
 * A fresh browser for each test of the enclosing block, closed after it — before the app, whose close its open (and
 * pre-opened) connections would hold. Call the returned function inside tests.
 */
export function browserPerTest(): () => BrowserContext {
  let browser: BrowserContext | undefined;
  beforeEach(async () => {
    browser = await launchBrowser();
  });
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });
  return () => browser!;
}
