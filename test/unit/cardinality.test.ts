import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CardinalityCaps, OTHER } from '../../src/telemetry/cardinality.js';

function recording(capOf: (dim: string) => number) {
  const folds: string[] = [];
  const admits: string[] = [];
  const caps = new CardinalityCaps(capOf, {
    onFold: (dim) => folds.push(dim),
    onAdmit: (tenant, dim, value) => admits.push(`${tenant}/${dim}/${value}`),
  });
  return { caps, folds, admits };
}

describe('CardinalityCaps', () => {
  it('admits the first `cap` values and folds later ones into other, counting each fold', () => {
    const { caps, folds, admits } = recording(() => 3);
    expect(['a', 'b', 'c'].map((v) => caps.admit('t', 'isp', v, 0))).toEqual(['a', 'b', 'c']);
    expect(caps.size('t', 'isp')).toBe(3);
    expect(caps.admit('t', 'isp', 'd', 0)).toBe(OTHER);
    expect(caps.admit('t', 'isp', 'e', 0)).toBe(OTHER);
    expect(caps.admit('t', 'isp', 'd', 0)).toBe(OTHER); // still folded, counted again
    expect(folds).toEqual(['isp', 'isp', 'isp']);
    expect(caps.size('t', 'isp')).toBe(3);
    // admitted values keep their series; no fold, no new admit
    expect(caps.admit('t', 'isp', 'b', 0)).toBe('b');
    expect(folds).toHaveLength(3);
    expect(admits).toEqual(['t/isp/a', 't/isp/b', 't/isp/c']);
  });

  it('restore() pre-admits values without reporting them as new', () => {
    const { caps, folds, admits } = recording(() => 2);
    caps.restore('t', 'cdn', 'akamai', 0);
    caps.restore('t', 'cdn', 'fastly', 0);
    expect(caps.size('t', 'cdn')).toBe(2);
    expect(caps.admit('t', 'cdn', 'cloudflare', 0)).toBe(OTHER);
    expect(caps.admit('t', 'cdn', 'fastly', 0)).toBe('fastly');
    expect(caps.admit('t', 'cdn', 'akamai', 0)).toBe('akamai');
    expect(folds).toEqual(['cdn']);
    expect(admits).toEqual([]);
  });

  it('a literal "other" maps to other without being counted as folded or taking a slot', () => {
    const { caps, folds, admits } = recording(() => 1);
    expect(caps.admit('t', 'isp', OTHER, 0)).toBe(OTHER);
    expect(caps.admit('t', 'isp', 'other', 0)).toBe('other');
    expect(folds).toEqual([]);
    expect(caps.size('t', 'isp')).toBe(0);
    expect(caps.admit('t', 'isp', 'x', 0)).toBe('x');
    expect(caps.admit('t', 'isp', 'other', 0)).toBe(OTHER);
    expect(folds).toEqual([]);
    expect(admits).toEqual(['t/isp/x']);
  });

  it('caps are per tenant and per dimension', () => {
    const { caps, folds } = recording((d) => (d === 'isp' ? 1 : 2));
    expect(caps.admit('t1', 'isp', 'a', 0)).toBe('a');
    expect(caps.admit('t1', 'isp', 'b', 0)).toBe(OTHER);
    expect(caps.admit('t2', 'isp', 'b', 0)).toBe('b'); // another tenant's own budget
    expect(caps.admit('t1', 'cdn', 'b', 0)).toBe('b'); // another dimension, cap 2
    expect(caps.admit('t1', 'cdn', 'c', 0)).toBe('c');
    expect(caps.admit('t1', 'cdn', 'd', 0)).toBe(OTHER);
    expect(folds).toEqual(['isp', 'cdn']);
    expect(caps.size('t1', 'isp')).toBe(1);
    expect(caps.size('t2', 'isp')).toBe(1);
    expect(caps.size('t1', 'cdn')).toBe(2);
    expect(caps.size('t3', 'cdn')).toBe(0);
  });

  it('a cap of 0 folds everything', () => {
    const { caps, folds } = recording(() => 0);
    expect(caps.admit('t', 'sdk', 'web-1.0', 0)).toBe(OTHER);
    expect(folds).toEqual(['sdk']);
  });

  it('releases a value not seen for the TTL, keeps one seen since, and reports sightings to persist every tenth of the TTL', () => {
    const released: string[] = [];
    const seen: [string, number][] = [];
    const caps = new CardinalityCaps(() => 2, { onRelease: (t, d, v) => released.push(`${t}/${d}/${v}`), onSeen: (_t, _d, v, at) => seen.push([v, at]) }, 1000);
    expect(caps.admit('t', 'isp', 'a', 0)).toBe('a');
    expect(caps.admit('t', 'isp', 'b', 0)).toBe('b');
    expect(caps.admit('t', 'isp', 'c', 0)).toBe(OTHER);
    caps.admit('t', 'isp', 'a', 50); // moved on less than a tenth of the TTL: not worth a write
    caps.sweep(500);
    expect(seen).toEqual([]);
    caps.admit('t', 'isp', 'a', 600);
    caps.sweep(999);
    expect(released).toEqual([]);
    expect(seen).toEqual([['a', 600]]);
    caps.sweep(1000); // b: not seen for 1000
    expect(released).toEqual(['t/isp/b']);
    expect(caps.size('t', 'isp')).toBe(1);
    expect(caps.admit('t', 'isp', 'c', 1000)).toBe('c'); // takes b's place
    expect(caps.admit('t', 'isp', 'b', 1000)).toBe(OTHER);
    caps.sweep(1600); // a, seen at 600
    expect(released).toEqual(['t/isp/b', 't/isp/a']);
  });

  it('a restored value ages from its restored sighting; an earlier sample does not move it back', () => {
    const released: string[] = [];
    const caps = new CardinalityCaps(() => 5, { onRelease: (_t, _d, v) => released.push(v) }, 1000);
    caps.restore('t', 'region', 'eu', 5000);
    caps.admit('t', 'region', 'eu', 4000);
    caps.sweep(5999);
    expect(released).toEqual([]);
    caps.sweep(6000);
    expect(released).toEqual(['eu']);
  });

  it('property: matches a model — the first cap distinct values (other excluded) keep their name', () => {
    const valueArb = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'other');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('t1', 't2'), fc.constantFrom('isp', 'cdn'), valueArb), { maxLength: 60 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        (ops, capIsp, capCdn) => {
          const capOf = (d: string) => (d === 'isp' ? capIsp : capCdn);
          const { caps, folds } = recording(capOf);
          const model = new Map<string, string[]>();
          const expectedFolds: string[] = [];
          for (const [tenant, dim, value] of ops) {
            const k = `${tenant}/${dim}`;
            const admitted = model.get(k) ?? [];
            model.set(k, admitted);
            let want: string;
            if (admitted.includes(value)) want = value;
            else if (value === 'other') want = 'other';
            else if (admitted.length < capOf(dim)) { admitted.push(value); want = value; }
            else { want = 'other'; expectedFolds.push(dim); }
            expect(caps.admit(tenant, dim, value, 0)).toBe(want);
          }
          expect(folds).toEqual(expectedFolds);
          for (const [k, vals] of model) {
            const [tenant, dim] = k.split('/') as [string, string];
            expect(caps.size(tenant, dim)).toBe(vals.length);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
