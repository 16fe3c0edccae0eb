import { ADMIN_TOKEN } from './app.js';

/** Reading the service's own /metrics (Prometheus text) in tests, with the admin token (it is not public). */

export async function metricsText(url: string, token = ADMIN_TOKEN): Promise<string> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/** The value of one exact series, e.g. metricValue(text, 'qoswatch_samples_accepted_total{transport="http"}'). */
export function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** The sum of every series of a metric family (all label values), 0 when it has none. */
export async function metric(url: string, name: string): Promise<number> {
  let sum = 0;
  for (const line of (await metricsText(url)).split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}
