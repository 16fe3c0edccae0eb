import { type TemplateResult, html } from 'lit-html';
import { ApiError, type Me } from '../api.js';
import type { Live } from '../live.js';

/** What every view gets from the shell. */
export interface Ctx {
  me: Me;
  live: Live;
  /** Renders the page again (after a view's state changed). */
  update(): void;
  /** A short message in the page's live region (screen readers hear it). */
  notify(message: string, kind?: 'ok' | 'error' | 'info'): void;
}

/** A page of the console: its title, its markup, and what to stop when it is left. */
export interface View {
  title: string;
  render(): TemplateResult;
  dispose?(): void;
}

export type ViewFactory = (ctx: Ctx, params: string[]) => View;

/** Runs an action; its error goes to the live region instead of being lost. */
export async function attempt(ctx: Ctx, action: () => Promise<unknown>, done?: string): Promise<boolean> {
  try {
    await action();
    if (done) ctx.notify(done, 'ok');
    return true;
  } catch (err) {
    ctx.notify(err instanceof ApiError ? err.message : String(err), 'error');
    return false;
  }
}

/**
 * A form's submit handler: `send` gets the form's fields (an API call); on success the form is cleared and the
 * live region says `said(fields)`; failure is said there too (attempt). `then` runs either way (a reload).
 */
export function formAction(
  ctx: Ctx,
  send: (f: Record<string, string>, form: HTMLFormElement) => Promise<unknown>,
  said: (f: Record<string, string>) => string,
  then?: () => Promise<unknown>,
): (e: SubmitEvent) => Promise<void> {
  return async (e) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const f = fields(form);
    if (await attempt(ctx, () => send(f, form), said(f))) form.reset();
    await then?.();
  };
}

/** Loading state of a view's data. */
export type Loaded<T> = { state: 'loading' } | { state: 'ready'; data: T } | { state: 'failed'; message: string };

export async function load<T>(ctx: Ctx, fetcher: () => Promise<T>, set: (l: Loaded<T>) => void): Promise<void> {
  try {
    set({ state: 'ready', data: await fetcher() });
  } catch (err) {
    set({ state: 'failed', message: err instanceof Error ? err.message : String(err) });
  }
  ctx.update();
}

export function loaded<T>(l: Loaded<T>, body: (data: T) => TemplateResult): TemplateResult {
  if (l.state === 'loading') return html`<p class="muted" role="status">Loading…</p>`;
  if (l.state === 'failed') return html`<p class="error" role="alert">Could not load: ${l.message}</p>`;
  return body(l.data);
}

/** Form fields by name, as strings (empty ones left out). */
export function fields(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new FormData(form)) if (typeof v === 'string' && v !== '') out[k] = v;
  return out;
}

export const badge = (kind: string, text: string) => html`<span class="badge ${kind}">${text}</span>`;
