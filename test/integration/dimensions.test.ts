import { describe, expect, it } from 'vitest';
import { appsClosedAfterEach, postTelemetry, sample } from '../helpers/app.js';
import { metricValue, metricsText } from '../helpers/metrics.js';

const startClosed = appsClosedAfterEach();

describe('the rendition dimension', () => {
  const renditions = (n: number) => Array.from({ length: n }, (_, i) => sample({ session: `s-${i}`, dims: { rendition: `${100 + i}p` } }));

  it('is capped at 16 values by default, well below QOSWATCH_DIM_CAP: a ladder has about ten', async () => {
    const t = await startClosed();
    const r = await postTelemetry(t.url, { samples: renditions(20) });
    expect(r.body).toEqual({ accepted: 20, rejected: [] });
    expect(metricValue(await metricsText(t.url), 'qoswatch_dim_values_folded_total{dim="rendition"}')).toBe(4);
  });

  it('takes its cap from the config file like any dimension', async () => {
    const t = await startClosed({ config: { dimensions: { rendition: { cap: 18 } } } });
    await postTelemetry(t.url, { samples: renditions(20) });
    expect(metricValue(await metricsText(t.url), 'qoswatch_dim_values_folded_total{dim="rendition"}')).toBe(2);
  });
});
