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
    expect(['a', 'b', 'c'].map((v) => caps.admit('t', 'isp', v))).toEqual(['a', 'b', 'c']);
    expect(caps.size('t', 'isp')).toBe(3);
    expect(caps.admit('t', 'isp', 'd')).toBe(OTHER);
    expect(caps.admit('t', 'isp', 'e')).toBe(OTHER);
    expect(caps.admit('t', 'isp', 'd')).toBe(OTHER); // still folded, counted again
    expect(folds).toEqual(['isp', 'isp', 'isp']);
    expect(caps.size('t', 'isp')).toBe(3);
    // admitted values keep their series; no fold, no new admit
    expect(caps.admit('t', 'isp', 'b')).toBe('b');
    expect(folds).toHaveLength(3);
    expect(admits).toEqual(['t/isp/a', 't/isp/b', 't/isp/c']);
  });

  it('restore() pre-admits values without reporting them as new', () => {
    const { caps, folds, admits } = recording(() => 2);
    caps.restore('t', 'cdn', 'akamai');
    caps.restore('t', 'cdn', 'fastly');
    expect(caps.size('t', 'cdn')).toBe(2);
    expect(caps.admit('t', 'cdn', 'cloudflare')).toBe(OTHER);
    expect(caps.admit('t', 'cdn', 'fastly')).toBe('fastly');
    expect(caps.admit('t', 'cdn', 'akamai')).toBe('akamai');
    expect(folds).toEqual(['cdn']);
    expect(admits).toEqual([]);
  });

  it('a literal "other" maps to other without being counted as folded or taking a slot', () => {
    const { caps, folds, admits } = recording(() => 1);
    expect(caps.admit('t', 'isp', OTHER)).toBe(OTHER);
    expect(caps.admit('t', 'isp', 'other')).toBe('other');
    expect(folds).toEqual([]);
    expect(caps.size('t', 'isp')).toBe(0);
    expect(caps.admit('t', 'isp', 'x')).toBe('x');
    expect(caps.admit('t', 'isp', 'other')).toBe(OTHER);
    expect(folds).toEqual([]);
    expect(admits).toEqual(['t/isp/x']);
  });

  it('caps are per tenant and per dimension', () => {
    const { caps, folds } = recording((d) => (d === 'isp' ? 1 : 2));
    expect(caps.admit('t1', 'isp', 'a')).toBe('a');
    expect(caps.admit('t1', 'isp', 'b')).toBe(OTHER);
    expect(caps.admit('t2', 'isp', 'b')).toBe('b'); // another tenant's own budget
    expect(caps.admit('t1', 'cdn', 'b')).toBe('b'); // another dimension, cap 2
    expect(caps.admit('t1', 'cdn', 'c')).toBe('c');
    expect(caps.admit('t1', 'cdn', 'd')).toBe(OTHER);
    expect(folds).toEqual(['isp', 'cdn']);
    expect(caps.size('t1', 'isp')).toBe(1);
    expect(caps.size('t2', 'isp')).toBe(1);
    expect(caps.size('t1', 'cdn')).toBe(2);
    expect(caps.size('t3', 'cdn')).toBe(0);
  });

  it('a cap of 0 folds everything', () => {
    const { caps, folds } = recording(() => 0);
    expect(caps.admit('t', 'sdk', 'web-1.0')).toBe(OTHER);
    expect(folds).toEqual(['sdk']);
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
            expect(caps.admit(tenant, dim, value)).toBe(want);
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
