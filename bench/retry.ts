/** A bounded pause so that one busy turn of the service (a 429) does not abort a benchmark run. */
const PAUSE_MS = 200;
const MAX_TRIES = 20;

/**
 * Sends until the answer is not 429, waiting the answer's Retry-After (capped at 2 s) or a short pause between
 * tries; `onRetry` counts each refused attempt so the report can say how many there were.
 */
export async function retryOn429<T extends { status: number; headers: Headers }>(send: () => Promise<T>, onRetry: () => void): Promise<T> {
  for (let tries = 1; ; tries++) {
    const res = await send();
    if (res.status !== 429 || tries >= MAX_TRIES) return res;
    onRetry();
    const after = Number(res.headers.get('retry-after'));
    await new Promise((r) => setTimeout(r, Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 2000) : PAUSE_MS));
  }
}
