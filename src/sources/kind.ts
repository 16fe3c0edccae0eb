import type { z } from 'zod';
import type { IncomingAlert } from './model.js';

/**
 * An alert source's format: one folder each under kinds/, listed in registry.ts. `config` is what the source needs
 * beyond the common mapping (a webhook's field paths, a heartbeat's period); `payload` is the body it posts, parsed
 * into alerts. Heartbeats post no alerts: their pings are judged by the heartbeat watch.
 */
export interface SourceKind<C extends z.ZodType = z.ZodType, P extends z.ZodType = z.ZodType> {
  /** For people: "Prometheus Alertmanager (webhook_config)". */
  readonly title: string;
  readonly config: C;
  readonly payload?: P;
  parse?(body: z.output<P>, config: z.output<C>): IncomingAlert[];
}

/** Declares a kind with its types tied together. */
export const sourceKind = <C extends z.ZodType, P extends z.ZodType>(k: SourceKind<C, P>): SourceKind<C, P> => k;
