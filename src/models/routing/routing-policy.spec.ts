import fc from 'fast-check';

// The model build's seeded PRNG, so the statistical tests are reproducible.
import { mulberry32 } from '../../../scripts/lib/random';
import { agrees, CanaryPolicy, chooseVariant, shouldAbortCanary, shouldShadow, stickyDraw } from './routing-policy';

const DRAWS = 10_000;
const canary = (percentage: number, sticky = false, version = 2): CanaryPolicy => ({ version, percentage, sticky });

/** Percentage of `DRAWS` requests routed to the canary; keys are `user-${i}` when `keyed`. */
function canaryShare(policy: CanaryPolicy, keyed: boolean, random: () => number): number {
  let hits = 0;
  for (let i = 0; i < DRAWS; i += 1) {
    if (chooseVariant(policy, keyed ? `user-${i}` : undefined, random) === 'canary') hits += 1;
  }
  return (hits / DRAWS) * 100;
}

describe('chooseVariant', () => {
  it('routes everything to stable when there is no canary', () => {
    // Act
    const variant = chooseVariant(undefined, 'user-1', () => 0);

    // Assert
    expect(variant).toBe('stable');
  });

  describe.each([1, 5, 10, 12.5, 33.3, 50, 75, 90, 99])('at %p%', (percentage) => {
    it('sends the target share within ±3 points over 10,000 random draws', () => {
      // Act
      const share = canaryShare(canary(percentage), false, mulberry32(percentage * 1000 + 7));

      // Assert
      expect(Math.abs(share - percentage)).toBeLessThanOrEqual(3);
    });

    it('sends the target share within ±3 points over 10,000 sticky keys', () => {
      // Act
      const share = canaryShare(canary(percentage, true), true, mulberry32(1));

      // Assert
      expect(Math.abs(share - percentage)).toBeLessThanOrEqual(3);
    });
  });

  describe.each([
    ['random', false],
    ['sticky', true],
  ])('exact bounds (%s)', (_name, sticky) => {
    it('never picks the canary at 0% over 10,000 draws, even when the draw is 0', () => {
      // Arrange
      const random = mulberry32(42);
      const edgy = (i: number) => (i % 2 === 0 ? 0 : random());

      // Act
      const variants = Array.from({ length: DRAWS }, (_, i) => chooseVariant(canary(0, sticky), `user-${i}`, () => edgy(i)));

      // Assert
      expect(variants.every((v) => v === 'stable')).toBe(true);
    });

    it('always picks the canary at 100% over 10,000 draws, even when the draw is 1', () => {
      // Arrange
      const random = mulberry32(43);
      const edgy = (i: number) => (i % 2 === 0 ? 1 : random());

      // Act
      const variants = Array.from({ length: DRAWS }, (_, i) => chooseVariant(canary(100, sticky), `user-${i}`, () => edgy(i)));

      // Assert
      expect(variants.every((v) => v === 'canary')).toBe(true);
    });
  });

  describe('sticky routing', () => {
    it('never flips a key across 1,000 repeated calls', () => {
      // Arrange
      const policy = canary(50, true);
      const random = mulberry32(3);
      const keys = Array.from({ length: 20 }, (_, i) => `user-${i}`);

      // Act
      const flipped = keys.filter((key) => {
        const first = chooseVariant(policy, key, random);
        return Array.from({ length: 1000 }, () => chooseVariant(policy, key, random)).some((v) => v !== first);
      });

      // Assert
      expect(flipped).toEqual([]);
    });

    it('puts both variants among the keys (the hash is not constant)', () => {
      // Act
      const variants = new Set(Array.from({ length: 100 }, (_, i) => chooseVariant(canary(50, true), `user-${i}`)));

      // Assert
      expect(variants).toEqual(new Set(['stable', 'canary']));
    });

    it('reshuffles assignments when the canary version changes', () => {
      // Arrange
      const keys = Array.from({ length: 1000 }, (_, i) => `user-${i}`);

      // Act
      const moved = keys.filter((k) => chooseVariant(canary(50, true, 2), k) !== chooseVariant(canary(50, true, 3), k));

      // Assert: independent halves disagree for about half of the keys
      expect(moved.length).toBeGreaterThan(400);
      expect(moved.length).toBeLessThan(600);
    });

    it('falls back to the random draw when no routing key is given', () => {
      // Act
      const withoutKey = chooseVariant(canary(50, true), undefined, () => 0.1);
      const emptyKey = chooseVariant(canary(50, true), '', () => 0.9);

      // Assert
      expect(withoutKey).toBe('canary');
      expect(emptyKey).toBe('stable');
    });

    it('ignores the routing key when the canary is not sticky', () => {
      // Act
      const low = chooseVariant(canary(50, false), 'user-1', () => 0.49);
      const high = chooseVariant(canary(50, false), 'user-1', () => 0.5);

      // Assert
      expect([low, high]).toEqual(['canary', 'stable']);
    });
  });

  describe('properties', () => {
    const percentage = fc.double({ min: 0, max: 100, noNaN: true });

    it('gives a key the same variant on every call, whatever the random source', () => {
      fc.assert(
        fc.property(percentage, fc.string({ minLength: 1 }), fc.integer({ min: 1, max: 1e6 }), fc.integer(), (p, key, version, seed) => {
          // Arrange
          const policy = canary(p, true, version);
          const random = mulberry32(seed);

          // Act
          const first = chooseVariant(policy, key, random);
          const again = Array.from({ length: 5 }, () => chooseVariant(policy, key, random));

          // Assert
          expect(again.every((v) => v === first)).toBe(true);
        }),
      );
    });

    it('is exact at 0% and 100% for any key and any draw', () => {
      fc.assert(
        fc.property(fc.option(fc.string()), fc.boolean(), fc.double({ min: 0, max: 1, noNaN: true }), (key, sticky, draw) => {
          // Act
          const atZero = chooseVariant(canary(0, sticky), key ?? undefined, () => draw);
          const atHundred = chooseVariant(canary(100, sticky), key ?? undefined, () => draw);

          // Assert
          expect(atZero).toBe('stable');
          expect(atHundred).toBe('canary');
        }),
      );
    });

    it('only moves sticky keys from stable to canary when the percentage rises', () => {
      fc.assert(
        fc.property(percentage, percentage, fc.string({ minLength: 1 }), (a, b, key) => {
          // Arrange
          const [low, high] = a <= b ? [a, b] : [b, a];

          // Act
          const before = chooseVariant(canary(low, true), key);
          const after = chooseVariant(canary(high, true), key);

          // Assert
          expect(before === 'canary' && after === 'stable').toBe(false);
        }),
      );
    });
  });
});

describe('stickyDraw', () => {
  it('maps keys uniformly onto [0, 1): every tenth holds about a tenth of 10,000 keys', () => {
    // Arrange
    const buckets = new Array<number>(10).fill(0);

    // Act
    for (let i = 0; i < DRAWS; i += 1) buckets[Math.floor(stickyDraw(`user-${i}`, 7) * 10)] += 1;

    // Assert
    for (const count of buckets) expect(Math.abs(count - DRAWS / 10)).toBeLessThan(150);
  });

  it('stays inside [0, 1)', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1 }), (key, version) => {
        // Act
        const draw = stickyDraw(key, version);

        // Assert
        expect(draw).toBeGreaterThanOrEqual(0);
        expect(draw).toBeLessThan(1);
      }),
    );
  });
});

describe('shouldShadow', () => {
  it('never shadows without a policy', () => {
    // Act / Assert
    expect(shouldShadow(undefined, () => 0)).toBe(false);
  });

  it('is exact at 0% and 100% over 10,000 draws', () => {
    // Arrange
    const random = mulberry32(9);

    // Act
    const atZero = Array.from({ length: DRAWS }, () => shouldShadow({ version: 2, percentage: 0 }, random));
    const atHundred = Array.from({ length: DRAWS }, () => shouldShadow({ version: 2, percentage: 100 }, random));

    // Assert
    expect(atZero.some(Boolean)).toBe(false);
    expect(atHundred.every(Boolean)).toBe(true);
  });

  it.each([5, 20, 50])('shadows %p% of requests within ±3 points', (percentage) => {
    // Arrange
    const random = mulberry32(percentage);

    // Act
    const shadowed = Array.from({ length: DRAWS }, () => shouldShadow({ version: 2, percentage }, random)).filter(Boolean).length;

    // Assert
    expect(Math.abs((shadowed / DRAWS) * 100 - percentage)).toBeLessThanOrEqual(3);
  });
});

describe('agrees', () => {
  const setosa = { class: 'setosa', confidence: 0.97, probabilities: { setosa: 0.97, versicolor: 0.02, virginica: 0.01 } };

  it.each([
    ['classifiers with the same class, different confidence', setosa, { ...setosa, confidence: 0.6 }, true],
    ['classifiers with different classes', setosa, { ...setosa, class: 'virginica' }, false],
    ['a classifier against a regressor', setosa, { value: 1 }, false],
    ['regressors within the tolerance', { value: 100 }, { value: 100.05 }, true],
    ['regressors beyond the tolerance', { value: 100 }, { value: 100.2 }, false],
    ['regressors both at zero', { value: 0 }, { value: -0 }, true],
    ['regressor vectors within the tolerance', { value: [1, 2, 3] }, { value: [1.0001, 2, 2.9999] }, true],
    ['regressor vectors with one element off', { value: [1, 2, 3] }, { value: [1, 2.1, 3] }, false],
    ['regressor vectors of different lengths', { value: [1, 2] }, { value: [1, 2, 3] }, false],
    ['a scalar against a vector', { value: 1 }, { value: [1] }, false],
    ['raw outputs that match', { y: [[1, 2], [3, 4]], z: [0.5] }, { z: [0.5], y: [[1, 2], [3, 4.0001]] }, true],
    ['raw outputs with a value off', { y: [[1, 2], [3, 4]] }, { y: [[1, 2], [3, 5]] }, false],
    ['raw outputs of different shapes', { y: [[1, 2], [3, 4]] }, { y: [1, 2, 3, 4] }, false],
    ['raw outputs with different names', { y: [1] }, { x: [1] }, false],
    ['raw outputs with an extra name', { y: [1] }, { y: [1], x: [1] }, false],
    ['a number against a string', { value: 1 }, { value: '1' }, false],
    ['an object against null', { y: [1] }, null, false],
  ])('%s → %p', (_name, stable, shadow, expected) => {
    // Act
    const result = agrees(stable, shadow);

    // Assert
    expect(result).toBe(expected);
  });

  it('measures the difference relative to the larger magnitude', () => {
    // Act / Assert: 1 apart agrees at 1000, 1e-4 apart does not at 1e-3
    expect(agrees({ value: 1000 }, { value: 1001 })).toBe(true);
    expect(agrees({ value: 1e-3 }, { value: 1.1e-3 })).toBe(false);
  });

  it('honours a custom tolerance', () => {
    // Act / Assert
    expect(agrees({ value: 100 }, { value: 104 }, 0.05)).toBe(true);
    expect(agrees({ value: 100 }, { value: 106 }, 0.05)).toBe(false);
  });

  it('counts identical non-finite numbers as agreeing', () => {
    // Act / Assert
    expect(agrees({ value: [NaN, Infinity] }, { value: [NaN, Infinity] })).toBe(true);
    expect(agrees({ value: Infinity }, { value: 1e308 })).toBe(false);
  });
});

describe('shouldAbortCanary', () => {
  const autoAbort = { max_error_rate: 0.1, min_requests: 50 };

  it.each([
    ['no auto_abort configured', { requests: 1000, errors: 1000 }, undefined, false],
    ['below min_requests, even with every request failing', { requests: 49, errors: 49 }, autoAbort, false],
    ['at min_requests with the rate above the limit', { requests: 50, errors: 6 }, autoAbort, true],
    ['at min_requests with the rate exactly at the limit', { requests: 50, errors: 5 }, autoAbort, false],
    ['past min_requests with the rate below the limit', { requests: 500, errors: 10 }, autoAbort, false],
    ['no requests at all with min_requests 0', { requests: 0, errors: 0 }, { max_error_rate: 0, min_requests: 0 }, false],
    ['one failure with a zero tolerance', { requests: 1, errors: 1 }, { max_error_rate: 0, min_requests: 1 }, true],
  ])('%s → %p', (_name, stats, policy, expected) => {
    // Act
    const result = shouldAbortCanary(stats, policy);

    // Assert
    expect(result).toBe(expected);
  });
});
