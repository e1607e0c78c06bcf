/**
 * Seeded pseudo-random numbers. Model builds must be byte-for-byte reproducible,
 * so nothing here may touch Math.random().
 */
export type Rng = () => number;

/** mulberry32: tiny 32-bit PRNG, uniform in [0, 1). Good enough for splits and weight init. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal sample via Box-Muller (the second variate is discarded to keep state simple). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng(); // (0, 1]: keeps log() finite
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Fisher-Yates shuffle of a copy. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
